#!/usr/bin/env bash
# The scale benchmarks, end to end, in bounded time (~15 minutes on 2 cores):
# for each database and size: a fresh database, migrate, generate the organisation (timed, peak
# RSS), then the list, typeahead, inbox and write benchmarks. Results: bench/results/*.json,
# the plans beside them (*.plans.txt), the log in bench/results/run.log.
#
#   bench/run.sh                      PostgreSQL and SQLite at 5,000 and 50,000 agents
#   BENCH_SCALES="5000" bench/run.sh  a quick run
#   BENCH_DBS="postgres" bench/run.sh only PostgreSQL
#   BENCH_KEEP=1 bench/run.sh         keep the bench_coaching_* databases afterwards
#
# PostgreSQL: postgres://postgres@127.0.0.1:5432 (override with BENCH_PG), own databases named
# bench_coaching_<scale>, dropped at the end. SQLite: files under /tmp/bench_coaching.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SCALES="${BENCH_SCALES:-5000 50000}"
DBS="${BENCH_DBS:-postgres sqlite}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
SECONDS_PER_MEASURE="${BENCH_SECONDS:-1}"
STEP_TIMEOUT="${BENCH_STEP_TIMEOUT:-900}"
mkdir -p bench/results /tmp/bench_coaching
LOG=bench/results/run.log
: >"$LOG"
export DJANGO_SETTINGS_MODULE=config.settings DATA_DIR=/tmp/bench_coaching LOG_LEVEL=WARNING
export EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend

say() { echo "==> $*" | tee -a "$LOG"; }
run() { timeout "$STEP_TIMEOUT" "$@" 2>&1 | tee -a "$LOG"; }

pg_admin() {  # maintenance connection to template1, never to others' databases
  "$PY" - "$PG" "$1" "$2" <<'PYEOF'
import sys, psycopg
url, action, name = sys.argv[1].replace("postgres://", "postgresql://", 1), sys.argv[2], sys.argv[3]
assert name.startswith("bench_coaching"), name
with psycopg.connect(url + "/template1", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if action == "create":
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
PYEOF
}

sizes() {  # the proportions of the 50,000-agent default: 6% groups, 6 cases and 4 sessions per agent
  local n=$1 g=$(($1 * 3 / 50))
  [ "$g" -lt 60 ] && g=60
  echo "--agents $n --groups $g --cases $((n * 6)) --sessions $((n * 4))"
}

started=$(date +%s)
for db in $DBS; do
  for scale in $SCALES; do
    if [ "$db" = postgres ]; then
      name="bench_coaching_${scale}"
      export DATABASE_URL="$PG/$name"
      pg_admin create "$name"
    else
      export DATABASE_URL="sqlite:////tmp/bench_coaching/${scale}.sqlite3"
      rm -f /tmp/bench_coaching/"${scale}".sqlite3*
    fi
    say "$db, $scale agents ($DATABASE_URL)"
    run "$PY" manage.py migrate --no-input -v 0
    say "generate_large_org $(sizes "$scale")"
    # shellcheck disable=SC2046
    run /usr/bin/time -f "generator: %e s wall, peak RSS %M KiB" \
      "$PY" manage.py generate_large_org $(sizes "$scale")
    for b in lists search inbox writes; do
      say "bench_$b ($db, $scale)"
      run /usr/bin/time -f "bench_$b: %e s wall, peak RSS %M KiB" \
        "$PY" bench/bench_"$b".py --scale "$scale" --db "$db" --seconds "$SECONDS_PER_MEASURE"
    done
    if [ "$db" = postgres ] && [ -z "${BENCH_KEEP:-}" ]; then
      pg_admin drop "$name"
    fi
    if [ "$db" = sqlite ] && [ -z "${BENCH_KEEP:-}" ]; then
      rm -f /tmp/bench_coaching/"${scale}".sqlite3*
    fi
  done
done
say "all benchmarks done in $(($(date +%s) - started)) s; results in bench/results/"
