#!/bin/sh
# lab-timeout: 360
# xen-access runs last: the PVH guest once crashed right after it (see README.md).
# Ground truth from Xen's own tools, recorded in $OUT for the Swift tests (XenLabTests) and for
# comparison with the vmi tools' output. Runs in dom0; env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT.
# Exit status: 0 when every check below held.
status=0
check() { echo "check $1: $2"; [ "$2" = ok ] || status=1; }
section() { echo; echo "== $*"; }

section "xl list"
xl list | tee "$OUT/xl-list.txt"
for g in "$PV_NAME" "$PVH_NAME"; do
    if grep -q "^$g " "$OUT/xl-list.txt"; then check "xl-list-$g" ok; else check "xl-list-$g" missing; fi
done
xl info >"$OUT/xl-info.txt" 2>&1

for g in PV PVH; do
    eval name=\$${g}_NAME domid=\$${g}_DOMID
    section "lsevtchn $domid ($name)"
    lsevtchn "$domid" >"$OUT/lsevtchn-$name.txt" 2>&1
    cat "$OUT/lsevtchn-$name.txt"
    if [ -s "$OUT/lsevtchn-$name.txt" ]; then check "lsevtchn-$name" ok; else check "lsevtchn-$name" empty; fi
done

# Registers (paused: the values and our own later reads describe one moment).
for g in PV PVH; do
    eval name=\$${g}_NAME domid=\$${g}_DOMID
    section "xenctx -a -C $domid ($name, paused)"
    xl pause "$domid"
    xenctx -a -C "$domid" >"$OUT/xenctx-$name.txt" 2>&1
    rc=$?
    for t in vmi-regs; do
        "$t" "xen:$domid" >"$OUT/$t-$name.json" 2>"$OUT/$t-$name.err"
        echo "$?" >"$OUT/$t-$name.exit"
    done
    xl unpause "$domid"
    cat "$OUT/xenctx-$name.txt"
    echo "xenctx exit: $rc"
    # Registers come first; xenctx's stack walk afterwards may fail on a PVH guest.
    if grep -q '^rip: ' "$OUT/xenctx-$name.txt" && grep -q '^cr3: ' "$OUT/xenctx-$name.txt"; then check "xenctx-$name" ok; else check "xenctx-$name" "no registers (exit $rc)"; fi
done

section "xl debug-keys e; xl dmesg (event channels as Xen sees them)"
xl dmesg -c >"$OUT/xl-dmesg-boot.txt" 2>&1
xl debug-keys e
sleep 1
xl dmesg >"$OUT/debug-keys-e.txt" 2>&1
grep -A 12 "Event channel information for domain $PV_DOMID:" "$OUT/debug-keys-e.txt" | head -n 13
if grep -q "Event channel information for domain $PVH_DOMID:" "$OUT/debug-keys-e.txt"; then check debug-keys-e ok; else check debug-keys-e "no dump"; fi

section "vmi tools in dom0"
for t in vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump; do
    v=$("$t" --version 2>&1)
    rc=$?
    echo "$t: $v" | tee -a "$OUT/tools-version.txt"
    if [ $rc -eq 0 ]; then check "tool-$t" ok; else check "tool-$t" "exit $rc"; fi
done

section "guests still alive"
for g in "$PV_NAME" "$PVH_NAME"; do
    a=$(grep -c '^tick ' "/var/log/xen/console/guest-$g.log")
    sleep 2
    b=$(grep -c '^tick ' "/var/log/xen/console/guest-$g.log")
    echo "$g: $a -> $b ticks"
    if [ "$b" -gt "$a" ]; then check "alive-$g" ok; else check "alive-$g" "no new tick"; fi
done
# CPUID events from the PVH guest's cpuid-loop for a few seconds. xen-access tears the monitor
# ring down on SIGTERM; the KILL is a backstop so the plan cannot hang here.
section "xen-access $PVH_DOMID cpuid (first lines)"
timeout -s TERM 6 xen-access "$PVH_DOMID" cpuid >"$OUT/xen-access-cpuid.txt" 2>&1 &
xa=$!
( sleep 20; kill -KILL $xa 2>/dev/null ) &
guard=$!
wait $xa
echo "xen-access exit: $?" >>"$OUT/xen-access-cpuid.txt"
kill $guard 2>/dev/null
head -n 15 "$OUT/xen-access-cpuid.txt"
echo "... $(grep -c -i cpuid "$OUT/xen-access-cpuid.txt") lines mention CPUID"
if grep -qi 'cpuid' "$OUT/xen-access-cpuid.txt"; then check xen-access-cpuid ok; else check xen-access-cpuid "no CPUID events"; fi

# Seen on 3 of 4 runs: the PVH guest's kernel panicked soon after xen-access's CPUID
# monitoring ("ENTRY_TRAMPOLINE stack guard page was hit"). Recorded, not failed; the guest is
# re-created so that later plans find both guests running.
section "$PVH_NAME after xen-access"
a=$(grep -c '^tick ' "/var/log/xen/console/guest-$PVH_NAME.log")
sleep 3
b=$(grep -c '^tick ' "/var/log/xen/console/guest-$PVH_NAME.log")
xl list "$PVH_DOMID" | tee "$OUT/xl-list-after-xen-access.txt"
if [ "$b" -gt "$a" ]; then
    echo "note: $PVH_NAME still ticks after xen-access ($a -> $b)"
else
    echo "note: $PVH_NAME stopped ticking after xen-access ($a -> $b); last console lines in pvhguest-after-xen-access.log"
    tail -n 60 "/var/log/xen/console/guest-$PVH_NAME.log" >"$OUT/pvhguest-after-xen-access.log"
    xl destroy "$PVH_DOMID"
    xl create /lab/guest/pvhguest.cfg >/dev/null 2>&1
    before=$(grep -c '^tick ' "/var/log/xen/console/guest-$PVH_NAME.log")
    i=0
    while [ $i -lt 150 ]; do
        now=$(grep -c '^tick ' "/var/log/xen/console/guest-$PVH_NAME.log")
        [ "$now" -gt "$before" ] && break
        sleep 1
        i=$((i + 1))
    done
    if [ "$now" -gt "$before" ]; then check "recreated-$PVH_NAME" ok; else check "recreated-$PVH_NAME" "no tick in 150s"; fi
    echo "$PVH_NAME is now domain $(xl domid "$PVH_NAME")"
fi
exit $status
