#!/bin/sh
# lab-timeout: 900
# vmi-step against the PVH guest (AMD host: RFLAGS.TF + debug-exception events): real steps,
# TF given back, every exit path clean, the stale-monitor rule, the console driven through
# stdin. Runs in dom0; env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT. Results in $OUT for
# Tests/CLITests/XenEventsLabTests.swift; "check NAME: ok|why" lines on stdout.
status=0
ulimit -c unlimited
D=$PVH_DOMID
LOG=/var/log/xen/console/guest-$PVH_NAME.log
check() { echo "check $1: $2"; [ "$2" = ok ] || status=1; }
ticks() { grep -c '^tick ' "$LOG"; }
alive() {
    a=$(ticks); sleep 4; b=$(ticks)
    if [ "$b" -gt "$a" ]; then check "alive-$1" ok; else check "alive-$1" "no tick in 4 s ($a)"; fi
}
monitor_free() {
    if timeout 30 vmi-watch "$D" --event cr3 --count 1 >/dev/null 2>"$OUT/free-$1.err"; then
        check "monitor-free-$1" ok
    else
        check "monitor-free-$1" "$(head -n 1 "$OUT/free-$1.err")"
    fi
}
# TF (0x100) clear in rflags, read by vmi-regs with the guest running.
tf_clear() {
    vmi-regs "$D" >"$OUT/regs-$1.json" 2>&1
    f=$(sed -n 's/.*"rflags":"0x\([0-9a-f]*\)".*/\1/p' "$OUT/regs-$1.json")
    if [ -z "$f" ]; then check "tf-clear-$1" "no rflags: $(head -c 200 "$OUT/regs-$1.json")"
    elif [ $((0x$f & 0x100)) -eq 0 ]; then check "tf-clear-$1" ok
    else check "tf-clear-$1" "rflags 0x$f"; fi
}
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
# bg CASE SIGNAL ARGS...: the tool in the foreground, sent SIGNAL after 4 s by timeout(1) (a
# background job of a script starts with SIGINT ignored, and the tools keep an inherited
# ignore, as other Unix tools do); a KILL after 60 s is the backstop.
bg() {
    c=$1 sig=$2; shift 2
    timeout -s KILL 60 timeout -s "$sig" 4 vmi-step "$@" >"$OUT/$c.json" 2>"$OUT/$c.err"
    echo $? >"$OUT/$c.exit"
    echo "$c: exit $(cat "$OUT/$c.exit") after SIG$sig, $(wc -l <"$OUT/$c.json") records"
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
    bg "sig$s" $s "$D" --count 1000000
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
vmi-step "$D" --count 100000000 >"$OUT/victim.json" 2>&1 &
victim=$!
# Killed once it is attached (its first record out), not while a loaded dom0 still starts it.
i=0; while [ ! -s "$OUT/victim.json" ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
sleep 1
kill -KILL $victim; wait $victim 2>/dev/null
run stale "$D" --count 1
run force "$D" --count 5 --force
clean force
run pv "$PV_DOMID" --count 1
alive end
grep -E 'Oops|BUG|WARNING|exc_debug|int3:|traps:' "$LOG" >"$OUT/guest-faults.txt"
if [ -s "$OUT/guest-faults.txt" ]; then check guest-faults "$(head -n 1 "$OUT/guest-faults.txt")"; else check guest-faults ok; fi
dmesg | grep -i -E "segfault|traps:" | tail -n 20 >"$OUT/segfaults.txt"
exit $status
