# Set-up and everyday commands. Works on a fresh Debian 12 machine:
#   make demo   - create the environment and run the demo
#   make test   - create the environments (QGIS included) and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
QGIS_VENV := .venv-qgis
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SHARED_DATA ?= ../shared/data

.PHONY: all venv qgis-venv qgis demo demo-real test test-core test-qgis lint bench clean plugin

all: test

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[train,dev]'
	touch $@

venv: $(VENV)/.installed

# QGIS 3.22 from Debian, with its own Python (system python3 + Debian numpy 1.24).
qgis:
	@command -v qgis_process.bin >/dev/null 2>&1 && /usr/bin/python3 -c 'import qgis.core' 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-qgis qgis-providers qgis python3-venv; }

# An environment like a user's QGIS: system site-packages (QGIS, numpy 1.24) plus onnxruntime.
$(QGIS_VENV)/.installed: pyproject.toml | qgis
	/usr/bin/python3 -m venv --system-site-packages $(QGIS_VENV)
	/usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > $(QGIS_VENV)/constraints.txt
	$(QGIS_VENV)/bin/python -m pip install -q -c $(QGIS_VENV)/constraints.txt pytest 'pytest-qgis==5.0.2' onnxruntime
	touch $@

qgis-venv: $(QGIS_VENV)/.installed

demo: venv
	$(VENV)/bin/python -m geocore demo --out demo_output --overwrite $(DEMO_ARGS)

# The same model on the real THEMIS Day IR images it never trained on (needs ../shared/data):
# precision, recall, F1 per diameter bin, and one overlay PNG per image in demo_output/real/.
demo-real: venv
	$(VENV)/bin/python -m training.evaluate geocore/models/crater_default.onnx \
	  --data $(SHARED_DATA)/themis_dayir_100m/train --ids geocore/models/crater_default_validation.txt \
	  --overlays demo_output/real --json demo_output/real/metrics.json

test: test-core test-qgis

test-core: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q

test-qgis: venv qgis-venv
	QT_QPA_PLATFORM=offscreen GEOCORE_PYTHON=$(abspath $(VENV))/bin/python \
	  PYTHONPATH=$(CURDIR) $(QGIS_VENV)/bin/python -m pytest -q tests/qgis -o addopts="" -o testpaths=tests/qgis

# The QGIS plugin zip for "Install from ZIP" (geocore vendored inside; standard library only).
plugin:
	$(PYTHON) scripts/build_plugin.py --out crater_qgis_plugin.zip --overwrite

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(QGIS_VENV) build *.egg-info .pytest_cache crater_qgis_plugin.zip
