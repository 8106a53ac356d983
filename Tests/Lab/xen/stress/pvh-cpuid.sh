#!/bin/sh
# lab-timeout: 1500
# The PVH guest under TCG: boot it STRESS_BOOTS times (default 4) and watch its CPUID with
# xen-access for 3 rounds of 8 s after each boot; count boots that never tick and rounds after
# which the guest no longer ticks. Not part of `make test`: run it when changing the lab's CPU,
# QEMU or kernel, e.g.
#   VMI_XEN_LAB_CPU=max,-smap,-xsave,-avx,-avx2 Tests/Lab/xen/lab.sh run --plan-dir Tests/Lab/xen/stress --out /tmp/stress
# Ends with "RESULT boots=N bootfail=N rounds=N crashes=N" in 50-stress... stdout.
LOGF=/var/log/xen/console/guest-pvhguest.log
ticks() { grep -c '^tick ' $LOGF 2>/dev/null || echo 0; }
boots=0 bootfail=0 crashes=0 rounds=0
while [ $boots -lt ${STRESS_BOOTS:-4} ]; do
    boots=$((boots+1))
    xl destroy pvhguest >/dev/null 2>&1
    mv $LOGF $LOGF.old 2>/dev/null
    xl create /lab/guest/pvhguest.cfg >/dev/null 2>&1
    i=0; while [ $i -lt 120 ] && [ "$(ticks)" -eq 0 ]; do sleep 1; i=$((i+1)); done
    if [ "$(ticks)" -eq 0 ]; then
        bootfail=$((bootfail+1)); echo "boot $boots: no tick in 120 s"
        tr -d '\r' <$LOGF | grep -E 'BUG|RIP|panic' | head -n 5
        continue
    fi
    echo "boot $boots: ticking after $i s"
    D=$(xl domid pvhguest)
    r=0
    while [ $r -lt 3 ]; do
        r=$((r+1)); rounds=$((rounds+1))
        timeout -s TERM 8 xen-access "$D" cpuid >/dev/null 2>&1
        a=$(ticks); sleep 4; b=$(ticks)
        if [ "$b" -le "$a" ]; then
            crashes=$((crashes+1)); echo "boot $boots round $r: crashed"
            tr -d '\r' <$LOGF | grep -E 'BUG|RIP|panic' | head -n 5
            break
        fi
    done
done
echo "RESULT boots=$boots bootfail=$bootfail rounds=$rounds crashes=$crashes"
exit 0
