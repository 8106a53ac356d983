#!/bin/sh
# lab-timeout: 240
# First contact of vmi-watch and vmi-step with the PVH guest, with post-mortem aids: a core
# file of any tool that crashes ($OUT/core.*: read it on the host with gdb and the unstripped
# binary) and the kernel's segfault lines. Env: PVH_DOMID OUT.
D=$PVH_DOMID
ulimit -c unlimited
echo "$OUT/core.%e.%p" >/proc/sys/kernel/core_pattern
t() { c=$1; shift; timeout 40 "$@" >"$OUT/$c.out" 2>"$OUT/$c.err"; echo "$c: exit $?: $(head -c 300 "$OUT/$c.err")"; }
t regs vmi-regs "$D"
t watch-cr3 vmi-watch "$D" --event cr3 --count 3
t watch-cpuid vmi-watch "$D" --event cpuid --count 3
t step vmi-step "$D" --count 5
t watch-after vmi-watch "$D" --event cr3 --count 1 --force
dmesg | grep -i -E 'segfault|traps:' | tail -n 20 | tee "$OUT/segfaults.txt"
ls -la "$OUT"
exit 0
