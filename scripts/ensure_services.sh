#!/usr/bin/env bash
# The production-mode tests need PostgreSQL (127.0.0.1:5432, trust auth) and Redis
# (127.0.0.1:6379). The machine normally runs both; if not, install them from Debian's packages
# and start them on loopback only. The embedded default never needs them.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "ensure_services: installing postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  conf=/etc/postgresql/$ver/main
  sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$conf/postgresql.conf"
  grep -q "clearcap-trust" "$conf/pg_hba.conf" || sed -i '1i host all all 127.0.0.1/32 trust # clearcap-trust\nlocal all all trust # clearcap-trust' "$conf/pg_hba.conf"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
if ! up 6379; then
  command -v redis-server >/dev/null || { echo "ensure_services: installing redis"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for i in $(seq 1 30); do up 5432 && up 6379 && break; sleep 1; done
up 5432 && echo "ensure_services: postgres up on 127.0.0.1:5432" || echo "ensure_services: postgres NOT available"
up 6379 && echo "ensure_services: redis up on 127.0.0.1:6379" || echo "ensure_services: redis NOT available"
exit 0
