"""gunicorn settings, the same wherever the product is served: `make run`, production (README) and
the API fuzzing gate (`scripts/fuzz.sh`). Command-line options override them, e.g. `--bind`.

    .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "3"))
threads = int(os.environ.get("WEB_THREADS", "1"))

# gunicorn refuses a longer request line itself, with an HTML page no client expects. At its
# maximum, the application's own, documented, lower limits answer first (414 for a query string
# above 4096 bytes, 413 for a body above 2.5 MiB: problem+json under /api/).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# A request that takes longer has gone wrong; the worker is replaced rather than kept busy.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5

# Which peers may say (X-Forwarded-Proto) that the client used HTTPS: the local proxy only,
# unless set (see README, "behind a reverse proxy").
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
