#!/usr/bin/env bash
# airflow-init (docker-compose.yml): one-shot, runs as root before every other Airflow service.
#  1. checks the required settings are set (deploy/check_settings.py: no empty, placeholder or
#     short secrets, no default password),
#  2. prepares the mounted directories for the airflow user (uid AIRFLOW_UID, gid 0),
#  3. `airflow db migrate` (idempotent),
#  4. writes the admin user's password for the api-server's SimpleAuthManager from
#     AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD into the auth volume (mode 0600; the
#     passwords are never printed and never generated).
set -euo pipefail
uid="${AIRFLOW_UID:-50000}"
python /opt/clearcap/deploy/check_settings.py
# the state lives apart from the published files (readers mount only those): an installation
# from before CLEARCAP_STATE_DIR keeps it in the warehouse directory; move it, never start empty
if [ -d /data/warehouse/warehouse.state ] && [ ! -e /data/state/state.duckdb ]; then
  echo "airflow-init: CLEARCAP_WAREHOUSE_DIR holds warehouse.state/ from an older layout: move its" \
       "contents to CLEARCAP_STATE_DIR (docs/deploy.md, Upgrades)" >&2
  exit 1
fi
# state/history: Superset mounts it read-only (items.*); made here, not by docker as root
mkdir -p /opt/airflow/logs /opt/airflow/auth /data/warehouse /data/state/history
chown -R "$uid:0" /opt/airflow/logs /opt/airflow/auth /data/warehouse /data/state
chmod 0750 /opt/airflow/auth

setpriv --reuid="$uid" --regid=0 --clear-groups airflow db migrate

python - <<'PY'
import json, os
path = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "/opt/airflow/auth/passwords.json")
users = {}
if os.path.exists(path):
    with open(path) as fh:
        users = json.load(fh)
users[os.environ.get("AIRFLOW_ADMIN_USER", "admin")] = os.environ["AIRFLOW_ADMIN_PASSWORD"]
fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    json.dump(users, fh)
os.replace(path + ".tmp", path)
os.chown(path, int(os.environ.get("AIRFLOW_UID", "50000")), 0)
print(f"airflow-init: admin user {os.environ.get('AIRFLOW_ADMIN_USER', 'admin')!r} set in {path}")
PY
echo "airflow-init: done"
