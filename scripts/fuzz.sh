#!/usr/bin/env bash
# Fuzz the REST API with schemathesis: a throwaway copy of the demo organisation is migrated,
# served on 127.0.0.1 (a free port) and fuzzed as sam.supervisor and as cora.coach (and the QM
# Admin on the operations only QM Admins pass, see admin_paths) with every
# check (`--checks all`). Fails on any 5xx, any answer that does not match the OpenAPI schema and
# any undocumented status code. Bounded in time; the server is stopped on every exit path.
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 25)
#   FUZZ_TIMEOUT       seconds allowed per identity before the run counts as failed (default 480;
#                      a guard against a hang: a normal run takes 1-2 minutes per identity)
#   FUZZ_SEED          fixed seed for a reproducible run (default: random; with CI=true fixed)
#   FUZZ_DATABASE      sqlite (default) or postgres: a fresh database on TEST_POSTGRES_URL's
#                      server (default postgres://postgres@127.0.0.1:5432), dropped afterwards,
#                      so the same requests also meet PostgreSQL's server-side binding
# With CI=true the run is reproducible: a fixed seed, derandomized generation, one schemathesis
# worker (the server sees the requests in the same order every time) and no example database
# (nothing carried from an earlier run). Elsewhere examples that failed are kept outside the
# clone (FUZZ_EXAMPLES_DIR, default ~/.cache/coachsuggest/fuzz-examples) and tried first next time.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
TIMEOUT="${FUZZ_TIMEOUT:-480}"
HOST=127.0.0.1

tmp="$(mktemp -d "${TMPDIR:-/tmp}/coachsuggest-fuzz.XXXXXX")"
server_pid=""
fuzz_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
pg_db=""
pg_admin() {
  $PY -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=5) as c: c.execute(sys.argv[2])' \
    "${PG_SERVER/postgres:\/\//postgresql://}/postgres" "$1"
}
cleanup() {
  if [ -n "$fuzz_pid" ]; then kill -TERM "$fuzz_pid" 2>/dev/null || true; wait "$fuzz_pid" 2>/dev/null || true; fi
  stop_server
  if [ -n "$pg_db" ]; then pg_admin "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh database and data folder, nothing shared with the developer's own.
export DJANGO_SETTINGS_MODULE=config.settings
export DATA_DIR="$tmp/data"
case "${FUZZ_DATABASE:-sqlite}" in
  sqlite) export DATABASE_URL="sqlite:///$tmp/data/fuzz.sqlite3" ;;
  postgres)
    PG_SERVER="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    PG_SERVER="${PG_SERVER%/*}"
    pg_db="coachsuggest_fuzz_$$"
    pg_admin "CREATE DATABASE \"$pg_db\""
    export DATABASE_URL="$PG_SERVER/$pg_db"
    ;;
  *) echo "FUZZ_DATABASE must be sqlite or postgres, not '${FUZZ_DATABASE}'"; exit 2 ;;
esac
export DEBUG=0 SECRET_KEY="fuzz-$(date +%s)-$$" ALLOWED_HOSTS="$HOST"
export EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend LOG_LEVEL=WARNING
unset TESTING TEST_DATABASE_NAME
mkdir -p "$DATA_DIR"

echo "==> preparing a throwaway database (${FUZZ_DATABASE:-sqlite}) in $tmp"
$PY manage.py migrate --no-input -v 0
$PY manage.py load_demo --force >/dev/null
# The pages' templates (404.html, ...) name static files through the manifest, as in production.
$PY manage.py collectstatic --no-input -v 0

port="$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://$HOST:$port"
echo "==> starting the API at $base"
# The production gunicorn settings (config/gunicorn.py: request-line limits), on a free port.
WEB_WORKERS=2 WEB_THREADS=2 .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application \
  --bind "$HOST:$port" --no-control-socket --log-level warning --error-logfile - \
  --access-logfile "$tmp/access.log" --access-logformat '%(s)s %(m)s %(U)s %({content-length}i)s %(q)s' \
  2>"$tmp/server.log" &
server_pid=$!

for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAILED: the server did not start"; cat "$tmp/server.log"; exit 1
  fi
  curl -fsS -o /dev/null "$base/api/v1/openapi.json" 2>/dev/null && break
  sleep 0.2
done

token_for() {
  curl -fsS -X POST "$base/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"demo\", \"name\": \"fuzz\"}" |
    $PY -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
sam_token="$(token_for sam.supervisor)"
cora_token="$(token_for cora.coach)"
admin_token="$(token_for admin)"
# The QM Admin fuzzes only the operations that refuse sam and cora outright (403), so that their
# bodies are exercised past the permission check.
admin_paths='^/api/v1/(evaluations|coaching-rules)'

# Statuses the contract documents for well-formed requests that the business rules still refuse:
# 412 (If-Match carries another version), 422 (e.g. an id that names nobody, an expiry in the
# past) and 429 (signing in locked after the fuzzer's many wrong passwords). Every other check
# keeps schemathesis' defaults.
cat >"$tmp/schemathesis.toml" <<'TOML'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "422", "429"]
TOML

status=0
gen_args=()
workers=2
if [ "${CI:-}" = "true" ]; then
  # Deterministic generation keeps no example database.
  gen_args=(--seed "${FUZZ_SEED:-20261201}" --generation-deterministic)
  workers=1
else
  examples_dir="${FUZZ_EXAMPLES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coachsuggest/fuzz-examples}"
  mkdir -p "$examples_dir"
  gen_args=(--generation-database "$examples_dir")
  [ -n "${FUZZ_SEED:-}" ] && gen_args+=(--seed "$FUZZ_SEED")
fi
for who in sam cora admin; do
  token_var="${who}_token"
  only=()
  [ "$who" = admin ] && only=(--include-path-regex "$admin_paths")
  echo "==> schemathesis as $who (at most $MAX_EXAMPLES examples per operation, ${TIMEOUT}s)"
  started=$(date +%s)
  rc=0
  # In the background and waited for, so that Ctrl+C / TERM reach the trap at once.
  timeout --kill-after=10 "$TIMEOUT" .venv/bin/schemathesis --config-file "$tmp/schemathesis.toml" \
    run "$base/api/v1/openapi.json" --url "$base" \
    --header "Authorization: Bearer ${!token_var}" \
    --checks all --max-examples "$MAX_EXAMPLES" --workers "$workers" --no-color \
    --suppress-health-check all --request-timeout 20 "${gen_args[@]}" "${only[@]}" &
  fuzz_pid=$!
  wait "$fuzz_pid" || rc=$?
  fuzz_pid=""
  echo "==> $who: exit $rc after $(($(date +%s) - started))s"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "FAILED: schemathesis did not finish within ${TIMEOUT}s"
  fi
  [ "$rc" -ne 0 ] && status=1
done

# A 5xx anywhere (also outside the schema, e.g. schemathesis' own probes) fails the run.
if grep -q "Traceback\|Internal Server Error" "$tmp/server.log" 2>/dev/null; then
  echo "==> FAILED: the server logged errors:"; grep -A30 "Traceback\|Internal Server Error" "$tmp/server.log" | head -200
  status=1
fi
if [ -s "$tmp/access.log" ]; then
  echo "==> $(wc -l <"$tmp/access.log") requests; statuses: $(cut -d' ' -f1 "$tmp/access.log" | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}')"
  echo "==> longest query string: $(awk '{print length($5)}' "$tmp/access.log" | sort -n | tail -1) bytes"
fi
stop_server
if [ "$status" -eq 0 ]; then echo "==> fuzzing passed"; else echo "==> fuzzing FAILED"; fi
exit "$status"
