.PHONY: run test setup lint fuzz bench bench-service
run:  ## set up and run the product at http://127.0.0.1:8000 (Ctrl+C stops it)
	@scripts/run.sh
test:  ## the whole test suite: SQLite, PostgreSQL, browser tests
	@scripts/test.sh
setup:
	@scripts/setup.sh
lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:  ## the scale benchmarks (PostgreSQL and SQLite, 5,000 and 50,000 agents; ~15 min)
	@scripts/setup.sh && bench/run.sh
fuzz:  ## the API fuzzing gate (schemathesis against a running server)
	@scripts/setup.sh && scripts/fuzz.sh
bench-service:  ## the whole-service benchmark at 50,000 agents (gunicorn, wrk, pgbench, workers; ~30 min)
	@scripts/setup.sh && .venv/bin/python bench/service/run.py $(BENCH_ARGS)
