# Sightline: `make run` opens the app, `make test` runs the whole suite. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: Xvfb + the X/GL/EGL libraries Qt and VTK load, dcmtk (DICOM network tools),
# dicom3tools (dciodvfy validator), dcm2niix (the reference `sightline convert` is tested against),
# Orthanc + its DICOMweb plugin (a real PACS the network tests start on loopback with their own configuration).
DEB_PACKAGES := xvfb xauth dcmtk dicom3tools dcm2niix orthanc orthanc-dicomweb libgl1 libegl1 libglib2.0-0 libdbus-1-3 libfontconfig1 \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
	libxcb-randr0 libxcb-render-util0 libxcb-image0 libxrender1 libxi6 libgomp1
SYSTEM_STAMP := $(VENV)/.system-deps
INSTALL_STAMP := $(VENV)/.installed
SAMPLES := resources/samples

INSTALLER_STAMP := $(VENV)/.installer-tools

.PHONY: run test bench fuzz lint samples models installer installer-check installer-test system-deps install clean

run: $(SYSTEM_STAMP) $(INSTALL_STAMP) samples
	$(BIN)/sightline view $(SAMPLES)

test: $(SYSTEM_STAMP) $(INSTALL_STAMP)
	@# pytest exits 5 when it collected no tests: not a failure of the code under test.
	xvfb-run -a -s "-screen 0 1920x1080x24" $(BIN)/python -m pytest; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: $(SYSTEM_STAMP) $(INSTALL_STAMP)
	xvfb-run -a -s "-screen 0 1920x1080x24" $(BIN)/python tests/bench/run.py

# Mutation fuzz of the DICOM scanner and loader (tests/dicom_fuzz.py): N seeded mutants of the public corpus,
# each scanned and loaded under a 2 GiB address-space limit and a timeout; failing cases go to build/fuzz/.
N ?= 20000
SEED ?= 17
fuzz: $(INSTALL_STAMP)
	$(BIN)/python tests/dicom_fuzz.py --mutants $(N) --seed $(SEED) --out build/fuzz

# Style (ruff), the layer contracts (import-linter, pyproject.toml) and types of engine/ and plugins/ (mypy).
lint: $(INSTALL_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Reproduces the shipped plugin models and model cards from phantoms (CPU; see each MODEL_CARD.md for timing).
models: $(INSTALL_STAMP)
	$(BIN)/python -m training.cxr.pipeline --work build/cxr --plugin plugins/chest_xray_nodules
	$(BIN)/python -m training.calcium.pipeline --work build/calcium --plugin plugins/coronary_calcium_ct
	$(BIN)/python -m training.brain.pipeline --work build/brain --plugin plugins/brain_tumor_mri
	$(BIN)/python -m training.ccella.pipeline

# One-folder PyInstaller bundle + .deb + .tar.xz in dist/ (no sample studies: the first start creates them),
# with the BUDGET lines printed; fails when the bundle or a package is over its size budget.
installer: $(SYSTEM_STAMP) $(INSTALLER_STAMP)
	$(BIN)/python resources/packaging/build_installer.py

# The CI check of the bundle without the packaging: PyInstaller build + the frozen --smoke-test (which also
# creates the sample studies as the first start does) + the unpacked-size budget and the VTK libraries kept.
installer-check: $(SYSTEM_STAMP) $(INSTALLER_STAMP)
	$(BIN)/python resources/packaging/build_installer.py --check

# Builds the installer, runs the frozen app's --smoke-test under Xvfb, installs and removes the .deb.
installer-test: $(SYSTEM_STAMP) $(INSTALLER_STAMP)
	SIGHTLINE_INSTALLER_TEST=1 xvfb-run -a -s "-screen 0 1920x1080x24" $(BIN)/python -m pytest -v tests/test_installer_build.py

$(INSTALLER_STAMP): pyproject.toml $(INSTALL_STAMP)
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[installer]"
	touch $@

samples: $(INSTALL_STAMP)
	$(BIN)/sightline samples --out $(SAMPLES)

system-deps: $(SYSTEM_STAMP)

install: $(INSTALL_STAMP)

$(SYSTEM_STAMP):
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

# resources/requirements.lock pins every package to the versions the suite last passed with.
LOCK := resources/requirements.lock

$(INSTALL_STAMP): pyproject.toml Makefile $(LOCK) $(SYSTEM_STAMP)
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev,train]"
	@# pytorch-grad-cam for the Grad-CAM parity test; --no-deps keeps its torchvision pin from pulling a CUDA torch
	$(BIN)/python -m pip install -q -c $(LOCK) --no-deps "grad-cam>=1.5,<2" "ttach>=0.0.3,<1"
	@# pytorch-fid: the reference Frechet distance the CCELLA FID is checked against (its fid_score.py is read
	@# without importing torchvision, hence --no-deps as above)
	$(BIN)/python -m pip install -q -c $(LOCK) --no-deps "pytorch-fid==0.3.0"
	@# nnU-Net v2 for the model importer and its parity test; --no-deps: its timm dependency pulls a torchvision
	@# that does not load with the CPU torch (nnU-Net's other dependencies are in the train extra)
	$(BIN)/python -m pip install -q -c $(LOCK) --no-deps "nnunetv2==2.8.1" "dynamic-network-architectures==0.4.4"
	touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .bench
