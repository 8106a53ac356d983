#!/usr/bin/env bash
# The README's first command: installs what vmitools needs (Debian 12, as root), builds the tools,
# and shows each of the five at work on real things: captures the lab made (Tests/Fixtures: a
# Xen dump-core, Xen's event-channel dump, the vGIC of Xen on Arm), then the main job live: the
# Xen lab boots (Xen + dom0 + a PV and a PVH guest under QEMU) and the tools run in its dom0
# against the running domains. See README.md for the times.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
export VMI_LAB_CACHE=${VMI_LAB_CACHE:-$PWD/.lab}

if [ "$(id -u)" = 0 ] && [ -z "${VMI_DEMO_NO_APT:-}" ]; then
    echo "== installing dependencies (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends libxen-dev libreadline-dev qemu-system-x86 \
        busybox-static cpio xz-utils jq make gcc libc6-dev python3 >/dev/null
fi

echo "== building (release)"
make release 2>&1 | tail -1
bin=$PWD/.build/release

# Fixtures are committed xz-compressed; unpack the ones the demo reads once.
fixture() {
    local out=.build/fixtures/$1
    if [ ! -s "$out" ]; then mkdir -p "$(dirname "$out")"; xz -dc "Tests/Fixtures/$1.xz" > "$out.tmp" && mv "$out.tmp" "$out"; fi
    echo "$out"
}
show() { echo; echo "\$ $*"; }

show vmi-regs core:pvguest.core "| jq -c '{vcpu, rip, rsp, cr3}'"
"$bin/vmi-regs" "core:$(fixture xen-x86/pvguest.core)" | jq -c '{vcpu, rip, rsp, cr3}'

show vmi-evtchn console:pvguest.debug-keys-e.txt --domain 1 --text
"$bin/vmi-evtchn" console:Tests/Fixtures/xen-x86/pvguest.debug-keys-e.txt --domain 1 --text | head -8

show vmi-gic-dump vmstate:xen-on-arm.migstream "| jq -c 'select(.type==\"gic_lr\") | {vcpu, index, vintid, name, state, priority}'"
"$bin/vmi-gic-dump" "vmstate:$(fixture xen-arm/vgic.migstream)" | jq -c 'select(.type=="gic_lr") | {vcpu, index, vintid, name, state, priority}'

echo
echo "== booting the Xen lab: Xen 4.17 + a Linux dom0 under QEMU, a PV and a PVH guest (Tests/Lab/xen)"
echo "   (the first time it downloads Debian's Xen and kernel packages and builds the images)"
Tests/Lab/xen/lab.sh build >/dev/null 2>.build/demo-lab-build.log ||
    { tail -n 20 .build/demo-lab-build.log >&2; exit 1; }
out=.build/demo-xen
rm -rf "$out"
VMI_LAB_TOOLS=$bin Tests/Lab/xen/lab.sh run --plan-dir Tests/Lab/xen/demo --out "$out" 2>&1 | grep -E '^(phase|lab: error)' || true
[ -s "$out/10-demo/stdout" ] || { echo "demo: the Xen lab brought no output back (see above)" >&2; exit 1; }
cat "$out/10-demo/stdout"
echo
echo "Everything above ran in the lab's dom0 against the live domains; the guests kept running."
