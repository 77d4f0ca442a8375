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

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ok=false
if $PY - "$PG_URL" <<'PYEOF' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
PYEOF
then
  pg_ok=true
elif $ci; then
  echo "FAILED: PostgreSQL is not reachable at $PG_URL (required when CI=true)"; status=1
else
  skipped+=("the PostgreSQL pass: no server at $PG_URL (set TEST_POSTGRES_URL to run it)")
fi

pg_pass() {
  DATABASE_URL="$PG_URL" TEST_DATABASE_NAME="coachsuggest_test_$$" \
    $PY -m pytest -m "not browser and not pages_matrix" --create-db -o cache_dir=.pytest_cache/pg "$@"
}
# The two passes share nothing (their own database each, their own pytest cache), so with two or
# more cores they run side by side: the PostgreSQL pass in the background, its output kept in a
# file and printed when the SQLite pass is done. TEST_SERIAL=1 runs them one after the other.
pg_pid=""
pg_log=""
stop_pg() { if [ -n "$pg_pid" ]; then kill -TERM "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null; fi; [ -n "$pg_log" ] && rm -f "$pg_log"; }
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
side_by_side=false
if $pg_ok && [ "${TEST_SERIAL:-}" != "1" ] && [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
  side_by_side=true
  pg_log="$(mktemp "${TMPDIR:-/tmp}/coachsuggest-pg-pass.XXXXXX")"
  echo "==> pytest on PostgreSQL ($PG_URL, fresh database per run), in the background"
  pg_pass "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
fi

echo "==> pytest on SQLite"
$PY -m pytest "$@"
rc=$?; [ $rc -eq 5 ] && rc=0; [ $rc -ne 0 ] && status=1

if $side_by_side; then
  wait "$pg_pid"; rc=$?
  pg_pid=""
  echo "==> pytest on PostgreSQL: its output"
  cat "$pg_log"
  [ $rc -eq 5 ] && rc=0; [ $rc -ne 0 ] && status=1
elif $pg_ok; then
  echo "==> pytest on PostgreSQL ($PG_URL, fresh database per run)"
  pg_pass "$@"
  rc=$?; [ $rc -eq 5 ] && rc=0; [ $rc -ne 0 ] && status=1
fi

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  skipped+=("the browser tests: no Chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)")
fi
for s in "${skipped[@]}"; do echo "SKIPPED: $s"; done
if [ $status -eq 0 ]; then echo "==> all test passes succeeded"; else echo "==> some test pass FAILED"; fi
exit $status
