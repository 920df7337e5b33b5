"""airflow-init's first step: refuse to start on missing, empty or placeholder secrets.

docker-compose 1.29 takes everything after `NAME=` as the value (an inline `# REQUIRED` comment
becomes the password), so `${VAR:?}` alone cannot catch a half-filled `.env`. Every problem is
reported at once, each naming the `.env` variable; values are never printed. Exit 1 on any.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import sys

# .env name -> minimum length (secrets signing tokens are long; passwords at least 12)
SECRETS = {
    "POSTGRES_PASSWORD": 12,
    "REDIS_PASSWORD": 12,
    "AIRFLOW_JWT_SECRET": 32,
    "AIRFLOW_API_SECRET_KEY": 32,
    "AIRFLOW_FERNET_KEY": 44,
    "AIRFLOW_ADMIN_PASSWORD": 12,
}
# what an unfilled or copied-from-the-docs value looks like
PLACEHOLDER = re.compile(r"(?i)^[#<$]|\s|required|change.?me|placeholder|example|^x+$|^(secret|password)$")


def problems(env: dict[str, str]) -> list[str]:
    out = []
    for name, min_len in SECRETS.items():
        value = env.get(name, "")
        if not value:
            out.append(f"{name} is empty or missing")
        elif PLACEHOLDER.search(value):
            out.append(f"{name} looks like a placeholder or a comment (fill in a generated value, "
                       f"comments go on their own line)")
        elif len(value) < min_len:
            out.append(f"{name} must have at least {min_len} characters")
        elif name == "AIRFLOW_FERNET_KEY" and not _is_fernet_key(value):
            out.append(f"{name} is not a Fernet key (32 url-safe base64-encoded bytes)")
    return out


def _is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def main() -> int:
    found = problems(dict(os.environ))
    for p in found:
        print(f"airflow-init: {p} (.env; see .env.example)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
