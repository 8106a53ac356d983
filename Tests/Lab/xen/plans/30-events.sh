#!/bin/sh
# lab-timeout: 900
# vmi-watch against the PVH guest: real events, every exit path, the one-monitor rule.
# Runs in dom0; env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT. Results in $OUT for
# Tests/CLITests/XenEventsLabTests.swift: <case>.json (stdout), <case>.err, <case>.exit, and
# "check NAME: ok|why" lines on stdout. Exit status 0 when every check held.
ulimit -c unlimited
. "$LAB_LIB"

# run CASE ARGS...: vmi-watch ARGS, stdout/stderr/exit status into $OUT/CASE.*
run() {
    c=$1; shift
    timeout 40 vmi-watch "$@" >"$OUT/$c.json" 2>"$OUT/$c.err"
    echo $? >"$OUT/$c.exit"
    echo "$c: exit $(cat "$OUT/$c.exit"), $(wc -l <"$OUT/$c.json") records; $(head -c 300 "$OUT/$c.err")"
}
tr -d '\r' <"$LOG" | grep -m1 '^sym .* _text$' >"$OUT/guest-text.txt"
grep -E ' (_text|hrtimer_nanosleep|__x64_sys_clock_nanosleep|__x64_sys_execve)$' /proc/kallsyms >"$OUT/dom0-kallsyms.txt"

run cr3 "$D" --event cr3 --count 20
run cpuid "$D" --event cpuid --count 20
alive after-cpuid
# Rates: everything the guest produces in 10 s.
t0=$(cut -d' ' -f1 /proc/uptime)
run rate-cpuid "$D" --event cpuid --timeout 10s
run rate-cr3 "$D" --event cr3 --timeout 10s
run sync-cr3 "$D" --event cr3 --sync --count 20
run msr "$D" --event msr --timeout 5s
run interrupt "$D" --event interrupt --count 10 --timeout 30s
run desc "$D" --event desc --timeout 3s
run guest-request "$D" --event guest-request --timeout 2s
run multi "$D" --event cr3 --event cpuid --event cr4 --count 30
monitor_free multi

# A kernel function the guest calls all the time (nanosleep: cpuid-loop and the tick loop).
# The guest runs with nokaslr, as dom0 (PV) does: the same kernel has the same addresses.
gtext=$(awk '{ print $2 }' "$OUT/guest-text.txt")
dtext=$(awk '$3 == "_text" { print $1 }' "$OUT/dom0-kallsyms.txt")
fn=$(awk '$3 == "hrtimer_nanosleep" { print $1 }' "$OUT/dom0-kallsyms.txt")
echo "guest _text=$gtext dom0 _text=$dtext hrtimer_nanosleep=$fn"
# Debug-register breakpoints: under QEMU TCG an int3 never reaches Xen's #BP intercept
# (QEMU raises INT3 as a software interrupt and checks only the SWINT intercept), so a 0xCC
# of ours would be the guest kernel's own "int3:" oops here; breakpoint@ is not run.
if [ -n "$fn" ] && [ "$gtext" = "$dtext" ]; then
    echo "0x$fn" >"$OUT/breakpoint-address.txt"
    run hbreak "$D" --event "hbreak@0x$fn" --count 5 --timeout 60s
    run hbreak-cr3 "$D" --event cr3 --event "hbreak@0x$fn" --count 40 --timeout 60s
    alive after-hbreak
    monitor_free hbreak
    vmi-regs "$D" >"$OUT/regs-after-hbreak.json" 2>&1
else
    check breakpoint-address "no usable kernel address (guest _text '$gtext', dom0 '$dtext')"
fi
run int3 "$D" --event int3 --timeout 3s

# Exit paths: each leaves the guest running and no monitor behind.
run timeout "$D" --event cr3 --timeout 3s
monitor_free timeout
( timeout 60 vmi-watch "$D" --event cpuid 2>"$OUT/head.err"; echo $? >"$OUT/head.exit" ) | head -n 3 >"$OUT/head.json"
echo "head: exit $(cat "$OUT/head.exit"), $(wc -l <"$OUT/head.json") records"
monitor_free head
alive head
for s in INT TERM HUP; do
    signal_case "sig$s" $s vmi-watch "$D" --event cr3 --event cpuid
    monitor_free "sig$s"
done
alive signals

# One monitor per domain: a second listener gets one clear line.
vmi-watch "$D" --event cpuid >"$OUT/holder.json" 2>&1 &
holder=$!
started holder
run busy "$D" --event cr3 --count 1
kill -TERM $holder; wait $holder
monitor_free busy

# kill -9 leaves the ring enabled (and cr3 events fill it: the vCPU waits for a slot);
# the next run says so, --force reclaims it, and the guest runs again.
kill9_case victim vmi-watch "$D" --event cr3
run stale "$D" --event cr3 --count 1
run force "$D" --event cr3 --count 5 --force
alive after-force
monitor_free force

# What this host cannot do: one clear line each.
run no-mem "$D" --event mem:rw@0x1000
run no-singlestep "$D" --event singlestep
run no-vmexit "$D" --event vmexit
run no-io "$D" --event io
run pv "$PV_DOMID" --event cr3 --count 1

alive end
no_guest_faults 'Oops|BUG|int3:|general protection|traps:'
tail -n 5 "$LOG" >"$OUT/guest-tail.txt"
exit $status
