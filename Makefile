# Every set-up step on a fresh machine: `make book`, `make test` (and `make data` for the real images).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist
export OMP_NUM_THREADS ?= 2
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install data book test lint check-html clean

install: $(STAMP)

# The exact versions come from constraints.txt; pyproject.toml only states compatible ranges.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[book,test]' --config-settings editable_mode=compat
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

# Fashion-MNIST (70 000 real 28x28 images in MNIST's IDX format) from Debian's dataset-fashion-mnist.
data:
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST is installed in $(FASHION_MNIST)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist > /dev/null \
	    || { apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist > /dev/null; }; \
	  echo "Fashion-MNIST installed in $(FASHION_MNIST)"; \
	else \
	  echo "To train on real images, run: sudo apt-get install dataset-fashion-mnist"; \
	fi

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all -W -n --keep-going

lint: $(STAMP)
	$(VENV)/bin/ruff check agc tests benchmarks scripts

test: $(STAMP) lint
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
