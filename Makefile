# vmitools: build, test, install. `make test` is the README's test command (and CI's).
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
TOOLS := vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump
BINDIR := $(DESTDIR)$(PREFIX)/bin
MANDIR := $(DESTDIR)$(PREFIX)/share/man
BASHDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR := $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
FISHDIR := $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
RELEASE_BIN := .build/release
MAN_PLUGIN_OUT := .build/plugins/GenerateManual/outputs
# Date stamped into generated pages: fixed, so regenerating is reproducible.
MAN_DATE := 2026-11-28

.PHONY: all build release test unit-test check-generated man completions install uninstall \
	lab lab-test lab-test-xen lab-test-xen-full bench bench-startup fuzz fuzz-ci test-sanitize clean

all: build

build:
	$(SWIFT) build

# Static Swift runtime, and its C++ runtime static too: then start-up maps no libstdc++.so and
# binds none of its symbols, a fifth of a tool's start-up instructions. The toolchain asks for
# -lstdc++ itself; linker scripts under the shared libraries' names, found first on the search
# path, turn that (and clang's -lgcc_s) into the archives.
# `make release PIE=no` links position-dependent executables: start-up then applies none of the
# ~39,000 relative relocations that write ~600 pages of a PIE, which under QEMU TCG costs more
# than everything else the tools do at start (vmi-evtchn --version: ~500 -> ~200 ms there; -6%
# instructions and -27% page faults natively). The price is that the executable's own address is
# no longer randomized, so it is not the default for tools that read guest-controlled data as root.
STATIC_CXX := $(CURDIR)/.build/static-cxx
PIE ?= yes
RELEASE_LINK := $(if $(filter no,$(PIE)),-Xlinker --no-pie)
release:
	mkdir -p $(STATIC_CXX)
	echo 'INPUT(libstdc++.a)' > $(STATIC_CXX)/libstdc++.so
	echo 'INPUT(libgcc_eh.a)' > $(STATIC_CXX)/libgcc_s.so
	$(SWIFT) build -c release --static-swift-stdlib -Xswiftc -L$(STATIC_CXX) $(RELEASE_LINK)

# The whole suite: unit and CLI tests, generated files up to date, the QEMU lab's live tests,
# the suite under AddressSanitizer, every fuzz target briefly, then one boot of the x86 Xen lab
# (its ground-truth, smoke and registers/event-channel plans; Tests/Lab/xen/README.md).
test: build
	$(SWIFT) test
	$(MAKE) check-generated
	$(MAKE) lab-test
	$(MAKE) test-sanitize
	$(MAKE) fuzz-ci
	$(MAKE) lab-test-xen

unit-test:
	$(SWIFT) test

# The unit and CLI suites (tools included) built with a sanitizer, in a build folder of its own
# so the plain .build is not rebuilt: SANITIZER=address (make test's: the cheaper build, and it
# checks the unsafe-pointer code) or thread. Swift 6.3 on Linux refuses -sanitize=undefined, so
# the address run also builds the C seam's inline shims (CXen) with UBSan, fatal on any finding;
# Swift code traps on overflow and out-of-bounds by itself.
SANITIZER ?= address
UBSAN_C := -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
SANITIZE_FLAGS = --sanitize=$(SANITIZER) $(if $(filter address,$(SANITIZER)),$(UBSAN_C)) \
	--scratch-path .build-$(subst address,asan,$(subst thread,tsan,$(SANITIZER)))
test-sanitize:
	$(SWIFT) build --build-tests $(SANITIZE_FLAGS)
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp \
		$(SWIFT) test --skip-build $(SANITIZE_FLAGS)

# --- generated documentation -------------------------------------------------------------

man: build
	$(SWIFT) package plugin --allow-writing-to-package-directory generate-manual \
		--configuration debug --date $(MAN_DATE) --authors "the vmitools developers" >/dev/null
	python3 man/generate.py $(MAN_PLUGIN_OUT) man/man1 man/man7

completions: build
	completions/generate.sh .build/debug completions

# Fails when man pages or completions in the tree differ from what the tools generate now.
check-generated: build
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(SWIFT) package plugin --allow-writing-to-package-directory generate-manual \
		--configuration debug --date $(MAN_DATE) --authors "the vmitools developers" >/dev/null && \
	python3 man/generate.py $(MAN_PLUGIN_OUT) $$tmp/man1 $$tmp/man7 && \
	completions/generate.sh .build/debug $$tmp/completions && \
	diff -r $$tmp/man1 man/man1 && diff -r $$tmp/man7 man/man7 && \
	for d in bash zsh fish; do diff -r $$tmp/completions/$$d completions/$$d || exit 1; done && \
	mandoc -Tlint -Wwarning man/man1/*.1 man/man5/*.5 man/man7/*.7 && \
	echo "check-generated: man pages and completions are up to date, mandoc lint clean"

# --- install ------------------------------------------------------------------------------

# Binaries are stripped on the way: symbols and DWARF are half of each file (~30 -> ~16 MB) and
# nothing reads them at run time; .build/release keeps them for debugging.
install:
	@test -x $(RELEASE_BIN)/vmi-regs || { echo "run 'make release' first"; exit 1; }
	install -d $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man5 $(MANDIR)/man7 $(BASHDIR) $(ZSHDIR) $(FISHDIR)
	for t in $(TOOLS); do \
		install -s -m 755 $(RELEASE_BIN)/$$t $(BINDIR)/$$t; \
		install -m 644 man/man1/$$t.1 $(MANDIR)/man1/$$t.1; \
		install -m 644 completions/bash/$$t $(BASHDIR)/$$t; \
		install -m 644 completions/zsh/_$$t $(ZSHDIR)/_$$t; \
		install -m 644 completions/fish/$$t.fish $(FISHDIR)/$$t.fish; \
	done
	install -m 644 man/man5/vmi-json.5 $(MANDIR)/man5/vmi-json.5
	install -m 644 man/man7/vmitools.7 $(MANDIR)/man7/vmitools.7

uninstall:
	for t in $(TOOLS); do \
		rm -f $(BINDIR)/$$t $(MANDIR)/man1/$$t.1 $(BASHDIR)/$$t $(ZSHDIR)/_$$t $(FISHDIR)/$$t.fish; \
	done
	rm -f $(MANDIR)/man5/vmi-json.5 $(MANDIR)/man7/vmitools.7

# --- benchmarks and lab -------------------------------------------------------------------

bench:
	$(SWIFT) run -c release --package-path Benchmarks vmi-bench

# Start-up instructions, page faults, sizes of the release tools (Benchmarks/startup.sh).
bench-startup: release
	Benchmarks/startup.sh $(RELEASE_BIN)

# libFuzzer + AddressSanitizer targets for every parser of hostile input (Tests/Fuzz/README.md).
# FUZZ_RUNS=N stops each target after N executions instead (Tests/Fuzz/README.md's long runs).
FUZZ_SECONDS ?= 60
fuzz:
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# make test's share: every target briefly, so a parser change that crashes on its seeds or on
# the first mutations fails CI.
fuzz-ci:
	Tests/Fuzz/run.sh 10

# The lab (Tests/Lab): real Xen and QEMU guests built from Debian packages, cached in
# $(VMI_LAB_CACHE) (default .lab/). `make lab` builds the images; `make lab-test` boots them and
# runs the live tests (suites that skip outside the lab).
export VMI_LAB_CACHE ?= $(CURDIR)/.lab
QEMU_LAB_SUITES := QEMULabTests|GDBLabTests|GDBFaultLabTests|GICLabTests|StepConsoleTerminalTests|CookbookLabTests
XEN_LAB_OUT := $(CURDIR)/.build/xen-lab
XEN_LAB_PLAN_DIR := $(CURDIR)/.build/xen-lab-plans
# Which Xen lab plans `make lab-test-xen` (and so `make test`) runs, and the suites that check
# them: ground truth, first contact of every tool, registers and event channels (~10 min on an
# idle 2-core machine). `make lab-test-xen-full` runs every plan: also events, stepping and the
# fault trials (~40 min: Tests/Lab/xen/README.md).
XEN_LAB_PLANS ?= 00-groundtruth 05-smoke 20-evtchn-regs
XEN_LAB_SUITES ?= XenLabTests|XenLiveTests

lab:
	Tests/Lab/qemu/build-images.sh
	Tests/Lab/xen/lab.sh build

# The QEMU guests serve the gdb/GIC/console suites live, one suite at a time: they share the
# guests, and one suite stepping a vCPU would move registers under another comparing them.
lab-test:
	Tests/Lab/qemu/build-images.sh
	Tests/Lab/qemu/with-guests.sh $(SWIFT) test --skip-build --no-parallel --filter '$(QEMU_LAB_SUITES)'

# One boot of the x86 Xen lab: the plans run in dom0 (with the release tools) and the Xen suites
# check what the plans brought back.
lab-test-xen: build release
	Tests/Lab/xen/lab.sh build
	rm -rf $(XEN_LAB_OUT) $(XEN_LAB_PLAN_DIR) && mkdir -p $(XEN_LAB_PLAN_DIR)
	for p in $(XEN_LAB_PLANS); do cp Tests/Lab/xen/plans/$$p.sh $(XEN_LAB_PLAN_DIR)/; done
	status=0; \
	VMI_LAB_TOOLS=$(CURDIR)/$(RELEASE_BIN) Tests/Lab/xen/lab.sh run --plan-dir $(XEN_LAB_PLAN_DIR) \
		--out $(XEN_LAB_OUT) || status=$$?; \
	VMI_XEN_LAB_OUT=$(XEN_LAB_OUT) $(SWIFT) test --skip-build --filter '$(XEN_LAB_SUITES)' || status=1; \
	exit $$status

lab-test-xen-full:
	$(MAKE) lab-test-xen XEN_LAB_PLANS="$(basename $(notdir $(wildcard Tests/Lab/xen/plans/*.sh)))" \
		XEN_LAB_SUITES='XenLabTests|XenLiveTests|XenEventsLabTests|XenFaultsLabTests|XenLabCookbookTests'

clean:
	rm -rf .build Benchmarks/.build
