#!/bin/sh
# lab-timeout: 300
# The README demo's live part, run in dom0 of the Xen lab: the tools on real running domains.
# Env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT. Everything goes to stdout (the demo shows it).
show() { echo; echo "dom0# $*"; }
cd "$OUT"
show xl list
xl list

show "vmi-regs $PVH_NAME | jq -c '{vcpu, rip, cr3, rflags}'"
vmi-regs "$PVH_NAME" | jq -c '{vcpu, rip, cr3, rflags}'

show "vmi-evtchn $PV_NAME --text            # 2-level ABI, bits from shared_info"
vmi-evtchn "$PV_NAME" --text | head -n 8
show "vmi-evtchn $PVH_NAME | jq -c '{port, state, abi, pending, masked}'   # FIFO, Xen's own view"
vmi-evtchn "$PVH_NAME" | jq -c '{port, state, abi, pending, masked}' | head -n 6

show "vmi-watch $PVH_NAME --event cr3 --count 4 | jq -c '{vcpu, old, new, rip}'"
vmi-watch "$PVH_NAME" --event cr3 --count 4 | jq -c '{vcpu, old, new, rip}'
show "vmi-watch $PVH_NAME --event cpuid --count 3 | jq -c '{leaf, eax, ebx, rip}'"
vmi-watch "$PVH_NAME" --event cpuid --count 3 | jq -c '{leaf, eax, ebx, rip}'

show "vmi-step $PVH_NAME --count 5 | jq -c '{n, rip, insn}'   # AMD: RFLAGS.TF + debug-exception events"
vmi-step "$PVH_NAME" --count 5 | jq -c '{n, rip, insn}'

show "tail -n 2 /var/log/xen/console/guest-$PVH_NAME.log   # the guest kept running"
sleep 2
tail -n 2 "/var/log/xen/console/guest-$PVH_NAME.log"
