# ptag: immutable process tags for Linux.
#
#   make demo    build the patched kernel (cached), boot it in a VM, run the demo
#   make check   every test: lint, host tests, kernel build, selftests, Python
#                tests, crun and runc through ptag-runtime and a short torture run
#                in the VM (with a clean dmesg and kmemleak), Sphinx docs
#
# Everything installs what it needs first (tools/setup).  See docs/development.rst.

SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
VM    := tools/vm
KTREE := tools/ktree
WORK  ?= .work
SELFTESTS := $(WORK)/build-debug/kselftest/ptag

.PHONY: all setup demo check lint host-test kernel selftests vm-test noptag-test docs \
	docs-examples torture torture-short bench checkpatch series runtimes runtimes-short shell clean help

all: help

help:
	@sed -n '3,8p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@tools/setup

kernel: setup
	@$(KTREE) build debug

# The selftests are built on the host against the tree's uapi headers.
selftests: kernel
	@$(MAKE) -s -C $(WORK)/linux/tools/testing/selftests TARGETS=ptag \
		O=$(abspath $(WORK)/build-debug) >/dev/null
	@echo "selftests: built in $(SELFTESTS)"

lint: setup
	@echo "lint: ruff"; $(VENV)/bin/ruff check libptag tests tools
	@$(VENV)/bin/ruff format --check libptag tests tools
	@echo "lint: mypy --strict"; $(VENV)/bin/mypy --strict libptag/ptag

checkpatch: setup
	@$(KTREE) checkpatch

# The series for posting, with the poster's identity: make series AUTHOR='Name <mail>'
series: setup
	@AUTHOR="$(AUTHOR)" $(KTREE) series

host-test: setup
	@$(PY) -m pytest tests/host -q

# In the debug kernel (KASAN, lockdep, PROVE_RCU, kmemleak): the selftests and
# the Python integration tests, then a dmesg and kmemleak scan (--check).
vm-test: selftests
	@$(VM) run --check -- tools/vm-tests all -q

# The patched tree with CONFIG_PTAG=n: builds, boots, and has no ptags.
noptag-test: setup
	@$(KTREE) build noptag
	@$(VM) run --kernel noptag -- tools/vm-tests noptag -q

docs: setup
	@$(VENV)/bin/sphinx-build -q -W -n --keep-going -b html docs docs/_build/html
	@$(VENV)/bin/sphinx-build -q -W -n --keep-going -b man docs docs/_build/man
	@$(VENV)/bin/sphinx-build -q -W -b doctest docs docs/_build/doctest >/dev/null
	@echo "docs: docs/_build/html/index.html and docs/_build/man/"

# Every example the docs show, run in the VM against the patched kernel
# (15-25 min under TCG, so not part of make check yet).
docs-examples: selftests
	@$(VM) run -- docs/examples/check

# Issue 7: fuzzing, concurrency stress and fault injection on the debug kernel
# (tools/torture/run --short is the 2-minute version), and the A/B benchmarks
# on the non-debug kernels, written to docs/perf/ (make bench: 28 min 38 s under
# TCG with the kernels built: tools/perf/kernel-bench's 6 timed boots and 8 instruction-
# counting ones, then the exporter, ptag-runtime and the engines, host and VM; that
# was with the engines at 10 rounds, and their 20 rounds alone took 8 min 20 s since:
# the VM's times spread too much for 10).
torture: selftests
	@tools/torture/run

# The short torture run of make check: about 90 s with the boot on a quiet host.
torture-short: kernel
	@tools/torture/run --short

VMOUT := $(abspath $(WORK))/vm-out
bench: setup
	@tools/setup --runtimes
	@$(KTREE) build bench
	@$(KTREE) build base
	@tools/perf/kernel-bench
	@$(PY) tools/perf/exporter_bench.py --json docs/perf/exporter.json
	@$(PY) tools/runtimes/passthrough_bench.py --runs 600 --json docs/perf/runtime.json
	@mkdir -p $(VMOUT)
	@$(VM) run --kernel bench --memory 4G -- $(abspath $(PY)) tools/perf/exporter_bench.py \
		--groups 20 --churn-scrapes 0 --json $(VMOUT)/exporter-vm.json
	@$(VM) run --kernel bench -- tools/runtimes/vm_bench.py --runs 7 --kernel bench \
		--json $(VMOUT)/runtime-vm.json
	@$(VM) run --kernel bench --memory 4G -- tools/runtimes/engine_bench.py --runs 20 \
		--kernel bench --json $(VMOUT)/engines-vm.json
	@cp $(VMOUT)/exporter-vm.json $(VMOUT)/runtime-vm.json $(VMOUT)/engines-vm.json docs/perf/

# Issue 13: the real runtimes in one VM boot: crun and runc driven directly, Podman,
# Docker and containerd started by the tests (tests/runtimes, tools/runtimes/run),
# all through ptag-runtime (see docs/development.rst for the duration).
runtimes: kernel
	@tools/setup --runtimes
	@$(VM) run -- tools/runtimes/run -q

# The part of it for make check: crun and runc through ptag-runtime (and ptag-exec
# --from), each check once, with one runtime or the other (the tests of
# tests/runtimes not marked slow): 8 tests, 5 min 38 s with the boot under TCG on
# a host at load 4-5 (10 min at load 12, with other VMs running).
runtimes-short: kernel
	@$(VM) run -- tools/runtimes/run -m "not slow" -q

check: lint checkpatch host-test vm-test runtimes-short torture-short noptag-test docs
	@echo "make check: all passed"

# The demo runs on the non-debug kernel: KASAN and lockdep would only slow it.
demo: setup
	@$(KTREE) build bench
	@$(VM) run --kernel bench -- tools/demo.sh

shell: kernel
	@$(VM) shell

clean:
	rm -rf docs/_build $(WORK)/build-* $(WORK)/vm-out
