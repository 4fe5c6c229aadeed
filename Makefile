# The two commands a new user needs: `make run` and `make test`.
# Both create .venv and install the pinned versions (constraints.txt) on first use.
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench chromium postgresql

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(INSTALLED)

# The server starts with the app's allocator settings (diagnostics/malloc.py, APP_ENVIRONMENT: memory that
# sessions free goes back to the system; benchmarks/bench_load.py measures it; APP_ENV= starts it without).
APP_ENV := $(PY) -m diagnostics.malloc
STREAMLIT_ARGS :=
run: $(INSTALLED)
	$(APP_ENV) $(VENV)/bin/streamlit run serve.py $(STREAMLIT_ARGS)

# Browser tests drive Debian's Chromium; install it when it is missing.
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The store's tests run on SQLite and on a PostgreSQL server they start themselves (tests/postgres_server.py)
# from Debian's binaries: install them when they are missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

test: $(INSTALLED) chromium postgresql lint
	$(PY) -m pytest -n 2

bench: $(INSTALLED)
	$(PY) benchmarks/bench_diagnose.py
