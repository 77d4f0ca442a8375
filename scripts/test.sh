#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite (with the browser tests), then on PostgreSQL.
# Without PostgreSQL or Chromium the missing part is skipped with a line saying so; with CI=true a
# missing one is a failure. Extra arguments go to pytest (e.g. scripts/test.sh -k expiry).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=config.settings TESTING=1 DJANGO_ALLOW_ASYNC_UNSAFE=true
unset DATABASE_URL
ci=false; [ "${CI:-}" = "true" ] && ci=true
status=0
skipped=()

echo "==> ruff (lint and format)"
.venv/bin/ruff check . || status=1
.venv/bin/ruff format --check --quiet . || { echo "ruff format: files need formatting (run .venv/bin/ruff format .)"; status=1; }
echo "==> mypy"
.venv/bin/mypy . || status=1

echo "==> pytest on SQLite"
$PY -m pytest "$@"
rc=$?; [ $rc -eq 5 ] && rc=0; [ $rc -ne 0 ] && status=1

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if $PY - "$PG_URL" <<'PYEOF' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
PYEOF
then
  echo "==> pytest on PostgreSQL ($PG_URL, fresh database per run)"
  DATABASE_URL="$PG_URL" TEST_DATABASE_NAME="coachsuggest_test_$$" \
    $PY -m pytest -m "not browser and not pages_matrix" --create-db "$@"
  rc=$?; [ $rc -eq 5 ] && rc=0; [ $rc -ne 0 ] && status=1
else
  if $ci; then
    echo "FAILED: PostgreSQL is not reachable at $PG_URL (required when CI=true)"; status=1
  else
    skipped+=("the PostgreSQL pass: no server at $PG_URL (set TEST_POSTGRES_URL to run it)")
  fi
fi

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  skipped+=("the browser tests: no Chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)")
fi
for s in "${skipped[@]}"; do echo "SKIPPED: $s"; done
if [ $status -eq 0 ]; then echo "==> all test passes succeeded"; else echo "==> some test pass FAILED"; fi
exit $status
