# Two commands do all set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 2
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install book test check-html clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test]' --config-settings editable_mode=compat
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all -W -n --keep-going

test: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider
	$(VENV)/bin/pytest -q -p no:cacheprovider --nbval-lax book

# Headless Chromium (Debian's package) opens every chapter: screenshots in _build/screenshots/.
# Builds the book first only when it has not been built (`make book` rebuilds it in full).
check-html: $(STAMP)
	test -f _build/html/index.html || $(MAKE) book
	test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(PY) scripts/check_html.py --html _build/html --out _build/screenshots

clean:
	rm -rf _build
