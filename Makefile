# Flourish: `make run` serves the app with demo data, `make test` passes the tests.
# Both set everything up first (system packages, .venv, database, postcodes) and are safe to rerun.
SHELL := /bin/bash
PY := .venv/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run dev test bench fuzz stop clean setup db prepare demo screenshots lint backup restore deploy-check faults

setup:
	@bin/setup

db:
	@if [ -z "$$DATABASE_URL" ]; then bin/localdb start; else echo "Using DATABASE_URL"; fi

# The database as the app needs it: migrated, with the GB postcode gazetteer (loaded once).
prepare: setup db
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) createcachetable -v 0
	@$(MANAGE) load_postcodes --if-empty
	@$(MANAGE) load_places --if-empty

demo: prepare
	@$(MANAGE) load_demo

# Production settings on loopback: DEBUG off, a secret generated once into var/secret_key (never
# committed), plain HTTP (no redirect to HTTPS), mail printed rather than sent.
RUN_ENV := DEBUG=false SECRET_KEY_FILE=$(CURDIR)/var/secret_key ALLOWED_HOSTS=$(HOST),127.0.0.1,localhost \
	SECURE_SSL_REDIRECT=false SECURE_COOKIES=false EMAIL_BACKEND_ALLOW_CONSOLE=true WEB_BIND=$(HOST):$(PORT)

var/secret_key:
	@mkdir -p var && umask 077 && $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

# gunicorn and a background worker, as deployed (whitenoise serves the static files); what you
# try is what gets deployed. `make dev` for Django's development server with DEBUG on.
run: demo var/secret_key
	@$(RUN_ENV) $(MANAGE) collectstatic --noinput -v 0
	@echo
	@echo "Flourish is running at http://$(HOST):$(PORT)/  (Ctrl-C stops the web server and the worker; 'make stop' stops the database)"
	@echo "Admin and staff pages: http://$(HOST):$(PORT)/accounts/login/  (accounts: see README)"
	@echo "Logs: both processes write to this terminal, one JSON object a line; lines start 'web.1' (requests,"
	@echo "      with the X-Request-ID each response carries) or 'worker.1' (emails, chasing referrals)."
	@$(RUN_ENV) exec .venv/bin/honcho --no-colour start -f Procfile

dev: demo
	@echo "Development server (DEBUG on, reloads on change) at http://$(HOST):$(PORT)/ with a worker; Ctrl-C stops both."
	@DEBUG=true LOG_FORMAT=text WEB_BIND=$(HOST):$(PORT) exec .venv/bin/honcho start -f Procfile.dev

test:
	@bin/setup --test
	@$(MAKE) --no-print-directory prepare
	@$(MANAGE) collectstatic --noinput -v 0
	@.venv/bin/pytest $(PYTEST_ARGS)

# Benchmarks print every figure (with the load average) and the targets they meet or MISS, then
# fail if any was missed. bench_directory seeds databases of its own beside the app's
# (<name>_bench_100k, <name>_bench_1m; the first run takes some minutes, later runs reuse them)
# and serves the app with gunicorn for wrk and pgbench (bench_http).
bench: prepare
	@status=0; \
	$(MANAGE) bench_postcodes || status=1; \
	$(MANAGE) bench_directory $(BENCH_ARGS) || status=1; \
	exit $$status

# A consistent dump of the whole database (pg_dump custom format, one snapshot) with a manifest
# (row counts, latest referral events and access-log entries, sha256) into var/backups/.
backup: prepare
	@$(MANAGE) backup $(if $(OUTPUT),--output $(OUTPUT))

# Restores FILE into a new database (never over one) and verifies it against its manifest.
restore: prepare
	@if [ -z "$(FILE)" ]; then echo "Give the dump to restore: make restore FILE=var/backups/<name>.dump" >&2; exit 2; fi
	@$(MANAGE) restore "$(FILE)" $(if $(DATABASE),--database $(DATABASE))

# deploy/'s nginx site (Debian's nginx, on loopback, a throwaway certificate) in front of two app
# servers and a worker on a throwaway copy of the database: a search, a referral and a login across
# both servers, a rate limit counted once, the headers, and a short load run (docs/deploy.md).
deploy-check: prepare
	@$(PY) bin/deploy-check

# The database restarted under the web servers and a worker while searches and referral moves
# are in flight, on a PostgreSQL cluster of the test's own (tests/faults/). The other fault tests
# (mail server down, worker killed, database read-only) are quick and run in `make test`.
faults: prepare
	@FLOURISH_FAULTS=1 .venv/bin/pytest tests/faults -s -p no:cacheprovider $(PYTEST_ARGS)

# Schemathesis against the app served as in production (gunicorn on 127.0.0.1, DEBUG off) on a
# throwaway test database, until FUZZ_CALLS calls; prints calls, 5xx and schema mismatches.
fuzz: prepare
	@FUZZ_CALLS=$${FUZZ_CALLS:-10000} TEST_DATABASE_NAME=$${TEST_DATABASE_NAME:-test_fuzz} \
		.venv/bin/pytest tests/test_api_contract.py -k ApiFuzzTests -s -q -p no:cacheprovider \
		-p no:logging $(PYTEST_ARGS)

screenshots: prepare
	@bin/setup --test
	@.venv/bin/pytest -m browser tests/pages --screenshots -k "not nojs" -s $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

stop:
	@bin/localdb stop

clean:
	@read -r -p "Remove var/ (the local database and everything in it)? [y/N] " a; \
	if [ "$$a" = y ] || [ "$$a" = Y ]; then bin/localdb stop || true; rm -rf "$$(bin/localdb path)" var; echo "Removed."; else echo "Nothing removed."; fi
