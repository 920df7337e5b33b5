#!/usr/bin/env bash
# `make test` (CI: .ci/run): pytest and the container end-to-end test side by side, each to its end;
# fails when either fails. The container test mostly waits (package installs, image builds that
# run pip on one core, health checks, Airflow's scheduling loop, Superset's start): run after the
# suite it added its whole length to the wall time; beside it, only its CPU share.
# Its log goes to tests/output/container_e2e.log and is printed when it ends.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
LOG=tests/output/container_e2e.log
mkdir -p tests/output

PY=$PY bash scripts/container_e2e.sh >"$LOG" 2>&1 &
E2E=$!
# an interrupted `make test` stops the container test too (its own trap tears the stack down)
trap 'kill -TERM "$E2E" 2>/dev/null; wait "$E2E"; exit 130' INT TERM

"$PY" -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-auto}" --dist loadfile --durations=25
rc_pytest=$?
echo "pytest: exit $rc_pytest; waiting for the container test ($LOG)"
wait "$E2E"
rc_e2e=$?
cat "$LOG"
echo "make test: pytest exit $rc_pytest, container e2e exit $rc_e2e"
[ "$rc_pytest" = 0 ] && [ "$rc_e2e" = 0 ]
