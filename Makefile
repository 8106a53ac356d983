# vmitools: build, test, install. `make test` is the README's test command (and CI's).
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
TOOLS := vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump

.PHONY: all build release test unit-test lab lab-test clean

all: build

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --static-swift-stdlib

# Unit and CLI tests, then the lab's live tests when the lab can run here.
test: build
	$(SWIFT) test
	$(MAKE) lab-test

unit-test:
	$(SWIFT) test

# Lab targets are filled in by Tests/Lab (see Tests/Lab/README.md).
lab:
	@echo "lab: no lab yet"

lab-test:
	@echo "lab-test: no lab yet"

clean:
	rm -rf .build
