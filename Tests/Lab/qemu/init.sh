#!/bin/sh
# /init of the QEMU lab guests (busybox-static). Keeps the guest busy in a known way: every
# second it forks a few short processes and prints "vmi-lab tick N" on the console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "vmi-lab: init up on $(uname -m) $(uname -r)"
# Kernel symbols the fixtures use as ground truth for address translation (nokaslr; data
# symbols appear only where the kernel has CONFIG_KALLSYMS_ALL, as Debian's amd64 one does).
for s in _stext start_kernel linux_banner init_task jiffies_64; do
    grep " $s\$" /proc/kallsyms | while read -r addr kind name; do echo "vmi-lab sym $name 0x$addr $kind"; done
done
n=0
while :; do
    n=$((n + 1))
    for i in 1 2 3; do /bin/true; cat /proc/loadavg > /dev/null; done
    echo "vmi-lab tick $n"
    sleep 1
done
