#!/usr/bin/env bash
# The README's first command: installs what vmitools needs (Debian 12, as root), builds the tools,
# and shows each of the five at work on real things: dumps and captures the lab made
# (Tests/Fixtures), and a live QEMU x86_64 guest booted here with a gdbstub (Tests/Lab/qemu).
# Takes ~5 minutes the first time (packages, build, guest images), ~1 minute after.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH
export VMI_LAB_CACHE=${VMI_LAB_CACHE:-$PWD/.lab}

if [ "$(id -u)" = 0 ] && [ -z "${VMI_DEMO_NO_APT:-}" ]; then
    echo "== installing dependencies (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends libxen-dev libreadline-dev qemu-system-x86 \
        xz-utils jq make python3 >/dev/null
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

show vmi-regs core:pvguest.core "| jq '{vcpu, rip, cr3}'"
"$bin/vmi-regs" "core:$(fixture xen-x86/pvguest.core)" | jq -c '{vcpu, rip, rsp, cr3}'

show vmi-evtchn console:pvguest.debug-keys-e.txt --domain 1 --text
"$bin/vmi-evtchn" console:Tests/Fixtures/xen-x86/pvguest.debug-keys-e.txt --domain 1 --text | head -8

show vmi-gic-dump vmstate:xen-on-arm.migstream "| jq 'select(.type==\"gic_lr\")'"
"$bin/vmi-gic-dump" "vmstate:$(fixture xen-arm/vgic.migstream)" | jq -c 'select(.type=="gic_lr") | {vcpu, index, vintid, name, state, priority}'

echo
echo "== booting a QEMU x86_64 guest with a gdbstub (Tests/Lab/qemu)"
Tests/Lab/qemu/build-images.sh x86_64 >/dev/null
state=$(mktemp -d "$VMI_LAB_CACHE/demo.XXXXXX")
trap 'Tests/Lab/qemu/guest.sh stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
Tests/Lab/qemu/guest.sh start x86_64 "$state" >/dev/null
Tests/Lab/qemu/guest.sh wait-ready "$state" >/dev/null
. "$state/env"
gdb=gdb:127.0.0.1:$GDB_PORT
jiffies=$(awk '$2 == "sym" && $3 == "jiffies_64" { print $4; exit }' "$state/console.log")

show vmi-regs "$gdb" "| jq '{rip, cr3, efer}'"
"$bin/vmi-regs" "$gdb" | jq -c '{vcpu, rip, cr3, efer}'

show vmi-watch "$gdb" --event "mem:w@va:$jiffies+8" --count 3
"$bin/vmi-watch" "$gdb" --event "mem:w@va:$jiffies+8" --count 3

show vmi-step "$gdb" --count 4 "| jq '{n, rip, insn}'"
"$bin/vmi-step" "$gdb" --count 4 | jq -c '{n, rip, insn}'

echo
echo "The guest kept running through all of it:"
sleep 2
tail -n 2 "$state/console.log"
