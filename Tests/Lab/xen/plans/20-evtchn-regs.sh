#!/bin/sh
# lab-timeout: 1200
# Live Xen checks of vmi-regs and vmi-evtchn, run in dom0 beside Xen's own tools (xenctx -a,
# lsevtchn, debug key 'e'). Everything is recorded in $OUT; Tests/CLITests/XenLiveTests.swift
# compares it on the host (VMI_XEN_LAB_OUT=<lab out dir>). Env: PV_NAME PVH_NAME PV_DOMID
# PVH_DOMID OUT. Exit status: 0 when the checks made here (exit codes, liveness) held.
#
# For each guest (PV: 2-level event channels; PVH: FIFO), with the guest paused so that every
# tool describes one moment:
#   registers: xenctx -a -C beside vmi-regs by id, name and uuid;
#   event channels: lsevtchn and the 'e' dump beside vmi-evtchn (JSON, --text);
#   a pending port made on purpose: a write to the guest's control/shutdown node ("" = no
#     request, what the toolstack leaves there) fires the guest's xenstore watch, so xenstored
#     notifies the guest's xenstore port; the guest is paused and cannot consume it;
#   register writes: --set NAME=VALUE and --set - (edited record), each read back, then the
#     original record written back, read back again; after unpausing the guest must tick on.
# Then the failures: no such name/id, dom0 itself, --wait (a rename), a dead domain (created and
# destroyed), an unprivileged user. Last, whole-process time of vmi-evtchn vs lsevtchn.
status=0
check() { echo "check $1: $2"; [ "$2" = ok ] || status=1; }
section() {
    echo; echo "== $*"
    # Progress on the lab console too (lab.sh shows its last lines when a phase times out).
    echo "evtchn-regs: $(cut -d" " -f1 /proc/uptime)s $*" >/dev/console 2>/dev/null
}
# run NAME CMD...: stdout, stderr and exit status of CMD in $OUT/NAME.{out,err,exit}.
run() {
    n=$1
    shift
    "$@" >"$OUT/$n.out" 2>"$OUT/$n.err" </dev/null
    echo $? >"$OUT/$n.exit"
}
# run_in NAME FILE CMD...: the same with FILE on stdin.
run_in() {
    n=$1 f=$2
    shift 2
    "$@" >"$OUT/$n.out" 2>"$OUT/$n.err" <"$f"
    echo $? >"$OUT/$n.exit"
}
expect_exit() { # NAME WANTED
    got=$(cat "$OUT/$1.exit")
    if [ "$got" = "$2" ]; then check "$1" ok; else check "$1" "exit $got, wanted $2: $(head -c 300 "$OUT/$1.err")"; fi
}
ticks() { grep -c '^tick ' "/var/log/xen/console/guest-$1.log"; }
# new_tick NAME: waits up to 120 s (guests are slow under TCG) for a tick after the current one.
new_tick() {
    a=$(ticks "$1") i=0
    while [ "$(ticks "$1")" -le "$a" ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
    echo "$a $(ticks "$1")"
}

for g in PV PVH; do
    eval name=\$${g}_NAME domid=\$${g}_DOMID
    vm=$(xenstore-read "/local/domain/$domid/vm")
    uuid=${vm#/vm/}
    echo "$domid $name $uuid" >"$OUT/domain-$name.txt"

    section "$name (domid $domid, uuid $uuid): paused reads"
    xl pause "$domid"
    xenctx -a -C "$domid" >"$OUT/xenctx-$name.txt" 2>&1
    run "regs-$name" vmi-regs "xen:$domid"
    run "regs-name-$name" vmi-regs "$name"
    run "regs-uuid-$name" vmi-regs "xen:$uuid"
    run "regs-text-$name" vmi-regs "xen:$domid" --text
    lsevtchn "$domid" >"$OUT/lsevtchn-$name.txt" 2>&1
    run "evtchn-$name" vmi-evtchn "xen:$domid"
    run "evtchn-text-$name" vmi-evtchn "xen:$domid" --text
    xl debug-keys e
    xl dmesg >"$OUT/e-$name.txt" 2>&1
    for n in regs regs-name regs-uuid regs-text evtchn evtchn-text; do expect_exit "$n-$name" 0; done
    cat "$OUT/xenctx-$name.txt" "$OUT/regs-$name.out" "$OUT/lsevtchn-$name.txt" "$OUT/evtchn-text-$name.out"

    section "$name: a pending port on purpose (xenstore watch, guest paused)"
    xenstore-write "/local/domain/$domid/control/shutdown" ""
    sleep 1
    run "pending-$name" vmi-evtchn "xen:$domid" --pending
    run "evtchn-after-$name" vmi-evtchn "xen:$domid"
    lsevtchn "$domid" >"$OUT/lsevtchn-after-$name.txt" 2>&1
    xl debug-keys e
    xl dmesg >"$OUT/e-after-$name.txt" 2>&1
    run "console-$name" vmi-evtchn "console:$OUT/e-after-$name.txt" --domain "$domid"
    run "console-text-$name" vmi-evtchn "console:$OUT/e-after-$name.txt" --domain "$domid" --text
    for n in pending evtchn-after console console-text; do expect_exit "$n-$name" 0; done
    if [ -s "$OUT/pending-$name.out" ]; then check "pending-port-$name" ok; else check "pending-port-$name" "no pending port listed"; fi
    cat "$OUT/pending-$name.out"

    section "$name: register writes (paused), read back, restored"
    run "before-$name" vmi-regs "xen:$domid" --vcpu 0
    run "set-$name" vmi-regs "xen:$domid" --vcpu 0 --set r11=0x1122334455667788 --set r12=0x5a5a
    run "afterset-$name" vmi-regs "xen:$domid" --vcpu 0
    sed -e 's/"r10":"[^"]*"/"r10":"0xabcdef0123"/' "$OUT/before-$name.out" >"$OUT/edited-$name.json"
    run_in "setstdin-$name" "$OUT/edited-$name.json" vmi-regs "xen:$domid" --set -
    run "afterstdin-$name" vmi-regs "xen:$domid" --vcpu 0
    run_in "restore-$name" "$OUT/before-$name.out" vmi-regs "xen:$domid" --set -
    run "restored-$name" vmi-regs "xen:$domid" --vcpu 0
    for n in before set afterset setstdin afterstdin restore restored; do expect_exit "$n-$name" 0; done
    if cmp -s "$OUT/before-$name.out" "$OUT/restored-$name.out"; then check "restored-same-$name" ok; else check "restored-same-$name" "registers differ after restore"; fi
    # Five more write/restore cycles: the guest must survive repeated loads of its CPU state.
    i=0 rc=0
    while [ $i -lt 5 ]; do
        vmi-regs "xen:$domid" --vcpu 0 --set r11=0x77 >/dev/null 2>>"$OUT/stress-$name.err" || rc=1
        vmi-regs "xen:$domid" --set - <"$OUT/before-$name.out" >/dev/null 2>>"$OUT/stress-$name.err" || rc=1
        i=$((i + 1))
    done
    echo $rc >"$OUT/stress-$name.exit"
    expect_exit "stress-$name" 0
    xl unpause "$domid"
    new_tick "$name" >"$OUT/ticks-$name.txt"
    read a b <"$OUT/ticks-$name.txt"
    if [ "$b" -gt "$a" ]; then check "alive-after-write-$name" ok; else check "alive-after-write-$name" "no tick in 120 s ($a -> $b)"; fi
done

section "failures: one line, exit 1"
run err-name vmi-regs xen:nosuchguest
run err-id vmi-evtchn xen:4000
run err-wait-timeout vmi-regs nosuchguest --wait 2
run err-dom0-regs vmi-regs xen:0
run dom0-evtchn vmi-evtchn xen:0
lsevtchn 0 >"$OUT/lsevtchn-dom0.txt" 2>&1
for n in err-name err-id err-wait-timeout err-dom0-regs; do expect_exit "$n" 1; done
expect_exit dom0-evtchn 0
cat "$OUT"/err-*.err

section "--wait: a name that appears later (xl rename of $PV_NAME)"
(vmi-regs waitguest --wait 120 >"$OUT/wait.out" 2>"$OUT/wait.err"; echo $? >"$OUT/wait.exit") &
waiter=$!
sleep 2
xl rename "$PV_NAME" waitguest
wait $waiter
xl rename waitguest "$PV_NAME"
expect_exit wait 0
cat "$OUT/wait.err"

section "a dead domain: one xl creates and destroys"
# Whether the build succeeds or not (here libxc cannot always decompress the kernel a second
# time), the domain id existed and is gone afterwards.
timeout 300 xl create -p /lab/guest/pvguest.cfg 'name="deadguest"' >"$OUT/xl-create-dead.txt" 2>&1
dead=$(xl domid deadguest 2>/dev/null || sed -n 's/.*Domain \([0-9][0-9]*\):.*/\1/p' "$OUT/xl-create-dead.txt" | head -n 1)
echo "$dead" >"$OUT/dead-domid.txt"
xl destroy deadguest >/dev/null 2>&1
run err-dead-regs vmi-regs "xen:$dead"
run err-dead-evtchn vmi-evtchn "xen:$dead"
expect_exit err-dead-regs 1
expect_exit err-dead-evtchn 1
cat "$OUT/err-dead-regs.err" "$OUT/err-dead-evtchn.err"

section "no privileges: an unprivileged user in dom0"
grep -q '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
run err-noperm-regs su -s /bin/sh nobody -c "vmi-regs xen:$PV_DOMID"
run err-noperm-evtchn su -s /bin/sh nobody -c "vmi-evtchn $PV_NAME"
expect_exit err-noperm-regs 1
expect_exit err-noperm-evtchn 1
cat "$OUT/err-noperm-regs.err" "$OUT/err-noperm-evtchn.err"

section "whole-process time, 10 runs each (ms), guests running"
# busybox date has no %N: /proc/uptime counts in 10 ms steps, enough over 10 runs.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
for g in PV PVH; do
    eval name=\$${g}_NAME domid=\$${g}_DOMID
    for tool in lsevtchn vmi-evtchn; do
        t0=$(uptime_s)
        for i in 1 2 3 4 5 6 7 8 9 10; do
            if [ $tool = lsevtchn ]; then lsevtchn "$domid" >/dev/null 2>&1; else vmi-evtchn "xen:$domid" >/dev/null 2>&1; fi
        done
        t1=$(uptime_s)
        echo "$tool $name $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 100 }')" | tee -a "$OUT/timing.txt"
    done
done
# The share of process start-up (a static Swift binary) in the figures above.
t0=$(uptime_s)
for i in 1 2 3 4 5 6 7 8 9 10; do vmi-evtchn --version >/dev/null 2>&1; done
t1=$(uptime_s)
echo "vmi-evtchn--version - $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 100 }')" | tee -a "$OUT/timing.txt"
exit $status
