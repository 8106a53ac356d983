#!/bin/sh
# lab-timeout: 900
# vmi-step against the PVH guest (AMD host: RFLAGS.TF + debug-exception events): real steps,
# TF given back, every exit path clean, the stale-monitor rule, the console driven through
# stdin. Runs in dom0; env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT. Results in $OUT for
# Tests/CLITests/XenEventsLabTests.swift; "check NAME: ok|why" lines on stdout.
ulimit -c unlimited
. "$LAB_LIB"

clean() { tf_clear "$1"; monitor_free "$1"; alive "$1"; }
run() {
    c=$1; shift
    t0=$(cut -d' ' -f1 /proc/uptime)
    timeout 60 vmi-step "$@" >"$OUT/$c.json" 2>"$OUT/$c.err"
    echo $? >"$OUT/$c.exit"
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "$t0 $t1" >"$OUT/$c.time"
    echo "$c: exit $(cat "$OUT/$c.exit"), $(wc -l <"$OUT/$c.json") records in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s; $(head -c 300 "$OUT/$c.err")"
}

run count200 "$D" --vcpu 0 --count 200
clean count200
run all-regs "$D" --count 20 --regs all
run timeout "$D" --timeout 3s
clean timeout
( timeout 60 vmi-step "$D" 2>"$OUT/head.err" --count 100000; echo $? >"$OUT/head.exit" ) | head -n 5 >"$OUT/head.json"
echo "head: exit $(cat "$OUT/head.exit"), $(wc -l <"$OUT/head.json") records"
clean head
for s in INT TERM; do
    signal_case "sig$s" $s vmi-step "$D" --count 1000000
    clean "sig$s"
done

# The console, commands on stdin (not a terminal: JSON records on stdout).
fn=$(awk '$3 == "hrtimer_nanosleep" { print $1 }' /proc/kallsyms)
printf 'regs\nstep 3\nmem 0x%s 16\nbreak 0x%s\nbreak\ncontinue\nstep\ndelete\nbogus\nquit\n' "$fn" "$fn" |
    timeout 120 vmi-step "$D" -i >"$OUT/console.json" 2>"$OUT/console.err"
echo $? >"$OUT/console.exit"
echo "0x$fn" >"$OUT/console-break.txt"
echo "console: exit $(cat "$OUT/console.exit"), $(wc -l <"$OUT/console.json") records; $(head -c 300 "$OUT/console.err")"
clean console
run until "$D" --until "0x$fn" --count 5
clean until

# kill -9 in the middle: TF and a paused vCPU are left behind; the next run says so and
# --force reclaims the domain and gives it back clean.
kill9_case victim vmi-step "$D" --count 100000000
run stale "$D" --count 1
run force "$D" --count 5 --force
clean force
run pv "$PV_DOMID" --count 1
alive end
no_guest_faults 'Oops|BUG|WARNING|exc_debug|int3:|traps:'
exit $status
