#!/usr/bin/env bash
# Set everything up and run the product: web server + background worker + expiry sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=config.settings
HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8000}"
WEB_WORKERS="${WEB_WORKERS:-3}"

echo "==> migrating the database"
$PY manage.py migrate --no-input | grep -v '^  Applying' || true
echo "==> collecting static files"
$PY manage.py collectstatic --no-input --verbosity 0
echo "==> loading the demo organisation"
$PY manage.py load_demo --force

pids=()
stop() {
  echo; echo "==> stopping (web server, worker, sweep)"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$PY manage.py db_worker --queue-name '*' --no-reload --interval 1 &
pids+=($!)
$PY manage.py sweep --every 60 &
pids+=($!)
HOST="$HOST" PORT="$PORT" WEB_WORKERS="$WEB_WORKERS" .venv/bin/gunicorn -c config/gunicorn.py \
  config.wsgi:application --access-logfile - --log-level warning &
pids+=($!)

sleep 2
cat <<MSG

  Coaching suggestions is running at http://$HOST:$PORT/
  Log in as sam.supervisor, cora.coach, alice.agent, admin, ... with the password "demo".
  API docs: http://$HOST:$PORT/api/v1/docs    Admin: http://$HOST:$PORT/admin/
  Press Ctrl+C to stop.

MSG
wait -n "${pids[@]}"
