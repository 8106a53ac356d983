#!/usr/bin/env bash
# Start-up cost of the release tools (DESIGN.md: a snapshot tool on a small dump answers in under
# 20 ms): instructions (callgrind: the count does not move with the machine's load, unlike wall
# time), page faults, file size and shared libraries, for `vmi-evtchn --version` and
# `vmi-regs core:<the PV guest's xl dump-core>`. Wall time (hyperfine) when it is installed.
# Usage: Benchmarks/startup.sh [BIN_DIR]   (default .build/release, from `make release`)
# Needs: valgrind, perf (software events only), xz; hyperfine optional.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release}
dump=.build/fixtures/xen-x86/pvguest.core
if [ ! -s "$dump" ]; then
    mkdir -p "$(dirname "$dump")"
    xz -dc Tests/Fixtures/xen-x86/pvguest.core.xz >"$dump.tmp" && mv "$dump.tmp" "$dump"
fi

instructions() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : //p'; }
faults() { perf stat -x, -e page-faults -r 20 "$@" 2>&1 >/dev/null | cut -d, -f1; }

printf '%-44s %12s %8s\n' command instructions faults
row() { printf '%-44s %12s %8s\n' "$1" "$(instructions "${@:2}")" "$(faults "${@:2}")"; }
row "vmi-evtchn --version" "$bin/vmi-evtchn" --version
row "vmi-regs core:pvguest.core" "$bin/vmi-regs" "core:$dump"
echo
for t in vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump; do
    printf '%-14s %10s bytes, %s shared libraries\n' "$t" "$(stat -c %s "$bin/$t")" "$(ldd "$bin/$t" | grep -c '=>')"
done
if command -v hyperfine >/dev/null; then
    echo
    hyperfine -N --warmup 10 --runs 100 "$bin/vmi-evtchn --version" "$bin/vmi-regs core:$dump" 2>&1 |
        grep -E 'Benchmark|Time|Range'
fi
