#!/usr/bin/env bash
# Superset container: refuse missing secrets, migrate its metadata, admin login, import the
# clearcap dashboard from the export kept in the repository (deploy/superset/dashboards), serve.
set -euo pipefail
missing=()
for v in SUPERSET_SECRET_KEY SUPERSET_ADMIN_PASSWORD; do
  [ -n "${!v:-}" ] || missing+=("$v")
done
[ "${#missing[@]}" -eq 0 ] || { echo "superset: missing settings: ${missing[*]} (.env; see .env.example)" >&2; exit 1; }
[ "${#SUPERSET_SECRET_KEY}" -ge 32 ] || { echo "superset: SUPERSET_SECRET_KEY must have at least 32 characters" >&2; exit 1; }
[ "${#SUPERSET_ADMIN_PASSWORD}" -ge 12 ] || { echo "superset: SUPERSET_ADMIN_PASSWORD must have at least 12 characters" >&2; exit 1; }
user="${SUPERSET_ADMIN_USER:-admin}"
superset db upgrade
# create the admin once; its password always follows SUPERSET_ADMIN_PASSWORD
superset fab create-admin --username "$user" --firstname clearcap --lastname admin \
  --email "$user@localhost" --password "$SUPERSET_ADMIN_PASSWORD" >/dev/null 2>&1 || true
superset fab reset-password --username "$user" --password "$SUPERSET_ADMIN_PASSWORD" >/dev/null
superset init
bundle=/app/superset_home/clearcap-dashboards.zip
(cd /app/dashboards && python -c "
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for root, _, files in os.walk('clearcap'):
        for f in files:
            z.write(os.path.join(root, f))
" "$bundle")
superset import-dashboards --path "$bundle" --username "$user"
echo "superset: dashboard imported; serving on :8088"
exec gunicorn --bind 0.0.0.0:8088 --workers 2 --worker-class gthread --threads 4 --timeout 120 \
  --access-logfile - "superset.app:create_app()"
