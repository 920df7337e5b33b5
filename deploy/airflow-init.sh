#!/usr/bin/env bash
# airflow-init (docker-compose.yml): one-shot, runs as root before every other Airflow service.
#  1. checks the required settings are set (no default secrets, no default password),
#  2. prepares the mounted directories for the airflow user (uid AIRFLOW_UID, gid 0),
#  3. `airflow db migrate` (idempotent),
#  4. writes the admin user's password for the api-server's SimpleAuthManager from
#     AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD into the auth volume (mode 0600; the
#     passwords are never printed and never generated).
set -euo pipefail
uid="${AIRFLOW_UID:-50000}"
missing=()
for v in AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY AIRFLOW__CORE__FERNET_KEY AIRFLOW_ADMIN_PASSWORD; do
  [ -n "${!v:-}" ] || missing+=("$v")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "airflow-init: missing settings: ${missing[*]} (see .env.example)" >&2
  exit 1
fi
if [ "${#AIRFLOW_ADMIN_PASSWORD}" -lt 12 ]; then
  echo "airflow-init: AIRFLOW_ADMIN_PASSWORD must have at least 12 characters" >&2
  exit 1
fi
mkdir -p /opt/airflow/logs /opt/airflow/auth /data/warehouse
chown -R "$uid:0" /opt/airflow/logs /opt/airflow/auth /data/warehouse
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
