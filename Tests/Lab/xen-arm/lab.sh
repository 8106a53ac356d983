#!/usr/bin/env bash
# Xen-on-Arm lab: Debian's arm64 Xen 4.17 + arm64 dom0 + a busy PVH guest, all under
# qemu-system-aarch64 (virt, GICv3, virtualization=on, TCG). See README.md next to this file.
#
#   lab.sh build            fetch the arm64 .debs, unpack, make the initramfs images (cached)
#   lab.sh capture OUTDIR   boot, run `xl debug-keys q`, and at the marker take a QEMU
#                           migration stream of the whole machine; results land in OUTDIR
#   lab.sh fixtures DIR     copy a capture into Tests/Fixtures/xen-arm (stream only if small)
#
# Cache: ${VMI_LAB_CACHE:-<repo>/.lab} (debs/ is shared with the other labs; xen-arm/ is ours).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${VMI_LAB_CACHE:-$REPO/.lab}
DEBS=$CACHE/debs
WORK=$CACHE/xen-arm

# Machine and Xen sizing: as small as Xen + dom0 + guest still run (the stream holds all RAM).
MACHINE_MEM=${XEN_ARM_MEM:-512}
DOM0_MEM=${XEN_ARM_DOM0_MEM:-256M}
GUEST_MEM=${XEN_ARM_GUEST_MEM:-64}
MARKER=VMI-XEN-ARM-CAPTURE-READY
DONE_MARKER=VMI-XEN-ARM-RESULTS-WRITTEN

T0=$(date +%s.%N)
log() { printf '[lab-xen-arm %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*" >&2; }
die() { log "FAILED in phase '${PHASE:-?}': $*"; exit 1; }
PHASE=init
phase() { PHASE=$1; log "phase: $1"; }

# Debian packages (arm64). The kernel package is resolved from the linux-image-arm64 metapackage.
PKGS=(xen-hypervisor-4.17-arm64 xen-utils-4.17 xen-utils-common xenstore-utils
      libxenmisc4.17 libxenstore4 libxenforeignmemory1 libxenevtchn1 libxengnttab1
      libxentoollog1 libxencall1 libxendevicemodel1 libxentoolcore1 libxenhypfs1
      libyajl2 libc6 libgcc-s1 libfdt1 libncurses6 libtinfo6 libuuid1 zlib1g
      busybox-static)

kernel_pkg() {
    apt-cache depends linux-image-arm64:arm64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { sub(":arm64", "", $2); print $2; exit }'
}

# The .deb file names apt-get download would write (epoch ':' as '%3a'), one line per package,
# from the local package index (no network).
deb_names() {
    apt-cache show --no-all-versions "${@/%/:arm64}" 2>/dev/null | awk '
        /^Package:/ { p = $2 } /^Version:/ { v = $2; gsub(/:/, "%3a", v) }
        /^Architecture:/ { print p "_" v "_" $2 ".deb" }'
}

ensure_arch() {
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        timeout 300 apt-get update -qq
    fi
    if [ -z "$(deb_names libc6)" ]; then
        timeout 300 apt-get update -qq
    fi
}

fetch_debs() {
    mkdir -p "$DEBS"
    local pkgs=("${PKGS[@]}" "$(kernel_pkg)") missing=() p f
    [ -n "${pkgs[-1]}" ] || die "cannot resolve the arm64 kernel package"
    deb_names "${pkgs[@]}" > "$WORK/debs.list.new"
    [ "$(wc -l < "$WORK/debs.list.new")" -eq ${#pkgs[@]} ] || die "some arm64 packages are not in the apt index"
    for p in "${pkgs[@]}"; do
        f=$(grep "^${p}_" "$WORK/debs.list.new")
        [ -s "$DEBS/$f" ] || missing+=("$p:arm64")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "downloading ${#missing[@]} packages"
        local tmp
        tmp=$(mktemp -d "$DEBS/.dl-xen-arm.XXXXXX")
        chmod 755 "$tmp"
        ( cd "$tmp" && timeout 600 apt-get download -qq "${missing[@]}" ) || { rm -rf "$tmp"; die "apt-get download"; }
        # Other labs share debs/: move files in under a lock, never overwrite a finished one.
        (
            flock 9
            for f in "$tmp"/*.deb; do
                [ -s "$DEBS/$(basename "$f")" ] || mv "$f" "$DEBS/"
            done
        ) 9>"$DEBS/.lock"
        rm -rf "$tmp"
    fi
    sort "$WORK/debs.list.new" > "$WORK/debs.list"
    rm -f "$WORK/debs.list.new"
}

# Copy a file from the unpacked tree into an initramfs tree at the same path.
put() { mkdir -p "$2/$(dirname "$1")"; cp -L "$WORK/root/$1" "$2/$1"; }

# Libraries an arm64 ELF needs (transitively), found by NEEDED names in the unpacked tree.
lib_closure() {
    local todo=("$@") seen=" " f n path
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}; todo=("${todo[@]:1}")
        for n in $(readelf -d "$WORK/root/$f" 2>/dev/null | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); print $5 }'); do
            case "$seen" in *" $n "*) continue ;; esac
            seen="$seen$n "
            path=$(cd "$WORK/root" && ls -d lib/aarch64-linux-gnu/"$n" usr/lib/aarch64-linux-gnu/"$n" usr/lib/xen-4.17/lib/"$n" 2>/dev/null | head -1)
            [ -n "$path" ] || die "library $n (needed by $f) not in the unpacked packages"
            echo "$path"
            todo+=("$path")
        done
    done
}

# Builds hold $WORK/.lock exclusively and then keep it shared, so a capture's QEMU never reads
# images another process is rewriting (the lock lasts until this script exits).
build() {
    phase build-fetch
    mkdir -p "$WORK"
    exec 8>"$WORK/.lock"
    timeout 1800 flock -x 8 || die "cannot lock $WORK/.lock"
    ensure_arch
    fetch_debs
    local stamp
    stamp=$( (cat "$WORK/debs.list"; sed -n '/^# BUILD-INPUTS-BEGIN/,/^# BUILD-INPUTS-END/p' "$0"
              echo "$GUEST_MEM") | sha256sum | cut -c1-16)
    if [ -f "$WORK/built.stamp" ] && [ "$(cat "$WORK/built.stamp")" = "$stamp" ] &&
       [ -s "$WORK/dom0.cpio.gz" ] && [ -s "$WORK/xen" ] && [ -s "$WORK/Image" ] && [ -s "$WORK/guest.tar" ]; then
        log "build: up to date ($stamp)"
        flock -s 8
        return
    fi
    rm -f "$WORK/built.stamp"

    phase build-unpack
    rm -rf "$WORK/root"; mkdir -p "$WORK/root"
    while read -r f; do dpkg -x "$DEBS/$f" "$WORK/root"; done < "$WORK/debs.list"
    build_images
    echo "$stamp" > "$WORK/built.stamp"
    flock -s 8
    log "build: done ($stamp)"
}

# BUILD-INPUTS-BEGIN (changes in this block rebuild the images)
DOM0_MODULES="drivers/xen/xen-evtchn drivers/xen/xenfs/xenfs drivers/xen/xen-privcmd
  drivers/xen/xen-gntdev drivers/xen/xen-gntalloc drivers/virtio/virtio_mmio drivers/block/virtio_blk"

build_images() {
    phase build-images
    local kver img xenbin
    kver=$(ls "$WORK/root/lib/modules" | head -1)
    img=$WORK/root/boot/vmlinuz-$kver
    xenbin=$(ls "$WORK"/root/boot/xen-4.17*-arm64 | head -1)
    [ -s "$img" ] && [ -s "$xenbin" ] || die "kernel or Xen missing from the unpacked packages"
    # Debian's arm64 vmlinuz is a gzip'd or plain Image; QEMU and Xen take a plain one best.
    if gzip -t "$img" 2>/dev/null; then gzip -dc "$img" > "$WORK/Image"; else cp "$img" "$WORK/Image"; fi
    cp "$xenbin" "$WORK/xen"

    # Guest: busybox and a shell loop that keeps its vCPU busy (timer ticks fill list registers).
    local g=$WORK/guestroot
    rm -rf "$g"; mkdir -p "$g"/{bin,dev,proc,sys}
    put bin/busybox "$g"
    make_dev_nodes "$g"
    cat > "$g/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "guest: busy"
# A busy loop: the vCPU never idles, so it stays on pCPU 1 and its timer ticks go through
# the list registers there.
while :; do :; done
EOF
    chmod +x "$g/init"
    ( cd "$g" && find . | cpio -o -H newc --quiet | gzip -9 ) > "$WORK/guest.cpio.gz"

    # dom0: busybox, the toolstack (xl, xenstored, xen-init-dom0) with its libraries, the Xen
    # modules, and the guest's kernel/initramfs/config.
    local d=$WORK/dom0root bins lib m f
    rm -rf "$d"; mkdir -p "$d"/{bin,dev,proc,sys,tmp,run,var/log/xen,var/lib/xen,out,guest,modules}
    ln -s ../run "$d/var/run"
    put bin/busybox "$d"
    make_dev_nodes "$d"
    bins="usr/lib/xen-4.17/bin/xl usr/lib/xen-4.17/bin/xen-init-dom0 usr/lib/xen-4.17/bin/xenstored usr/lib/xen-4.17/bin/xenconsoled
          usr/bin/xenstore-ls usr/bin/xenstore-read usr/bin/xenstore-write"
    for f in $bins; do [ -e "$WORK/root/$f" ] || die "missing $f"; put "$f" "$d"; done
    # libgcc_s is dlopen()ed by glibc for pthread_cancel (xl's exit path): not in NEEDED.
    for lib in $(lib_closure $bins) lib/ld-linux-aarch64.so.1 lib/aarch64-linux-gnu/libgcc_s.so.1; do
        put "$lib" "$d"
    done
    mkdir -p "$d/etc/xen"
    # xl reads /etc/xen/xl.conf (all defaults are fine; an empty file keeps it quiet).
    : > "$d/etc/xen/xl.conf"
    for m in $DOM0_MODULES; do
        f=$(ls "$WORK/root/lib/modules/$kver/kernel/$m".ko* 2>/dev/null | head -1)
        [ -n "$f" ] || { log "module $m not found (built in?)"; continue; }
        case "$f" in
            *.xz) xz -dc "$f" > "$d/modules/$(basename "$m").ko" ;;
            *) cp "$f" "$d/modules/$(basename "$m").ko" ;;
        esac
    done
    # The guest's kernel and initramfs reach dom0 on a read-only disk (a tar), not in dom0's
    # initramfs: the boot modules stay in Xen's free memory unscrubbed, so every byte in them
    # is a byte more in the migration stream.
    rm -rf "$WORK/guestdisk"; mkdir -p "$WORK/guestdisk"
    cp "$WORK/Image" "$WORK/guestdisk/Image"
    cp "$WORK/guest.cpio.gz" "$WORK/guestdisk/initrd.cpio.gz"
    tar cf "$WORK/guest.tar" -C "$WORK/guestdisk" Image initrd.cpio.gz
    rm -rf "$WORK/guestdisk"
    cat > "$d/guest/guest.cfg" <<EOF
name = "busy"
type = "pvh"
kernel = "/guest/Image"
ramdisk = "/guest/initrd.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet init_on_free=1"
memory = $GUEST_MEM
vcpus = 1
cpus = "1"
on_crash = "preserve"
EOF
    cat > "$d/init" <<EOF
#!/bin/busybox sh
MARKER=$MARKER
DONE_MARKER=$DONE_MARKER
EOF
    cat >> "$d/init" <<'EOF'
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /run
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=666 devpts /dev/pts
mkdir -p /run/xen /run/xenstored
say() { echo "dom0-init: $*"; }
for m in /modules/virtio_mmio.ko /modules/virtio_blk.ko /modules/xen-evtchn.ko /modules/xen-privcmd.ko \
         /modules/xenfs.ko /modules/xen-gntdev.ko /modules/xen-gntalloc.ko; do
    [ -f $m ] && insmod $m
done
mount -t xenfs xenfs /proc/xen || say "xenfs mount failed"
say "starting xenstored"
xenstored --pid-file /run/xenstored.pid || say "xenstored failed"
sleep 1
xen-init-dom0 || say "xen-init-dom0 failed"
# xl create waits for the guest console's tty, which xenconsoled provides.
mkdir -p /var/log/xen/console
xenconsoled --pid-file=/run/xenconsoled.pid || say "xenconsoled failed"
say "creating guest"
# Two disks: the guest's files (a tar) and the zeroed results disk; which is vda varies.
for dev in /dev/vda /dev/vdb; do
    if tar tf $dev 2>/dev/null | grep -q '^Image$'; then GUESTDISK=$dev; else RESULTDISK=$dev; fi
done
tar xf $GUESTDISK -C /guest || say "cannot read the guest disk"
xl create /guest/guest.cfg || say "xl create failed"
xl vcpu-pin 0 all 0 all || say "vcpu-pin failed"
# The guest's kernel is in its memory now: free dom0's copies (init_on_free=1 zeroes them, which
# keeps the migration stream small).
rm -f /guest/Image /guest/initrd.cpio.gz
echo 3 > /proc/sys/vm/drop_caches
# Let the guest boot and spin so its vCPU's list registers carry live interrupts.
sleep ${GUEST_SETTLE:-8}
xl list > /out/xl-list.txt 2>&1
xl vcpu-list > /out/xl-vcpu-list.txt 2>&1
xl domid busy > /out/guest-domid.txt 2>&1
xl debug-keys q
xl dmesg > /out/xl-dmesg.txt 2>&1
cat /proc/interrupts > /out/dom0-interrupts.txt
# Results go to the disk first, so the host may take its streams and quit at the marker.
( cd /out && tar cf $RESULTDISK . ) && sync
echo "$DONE_MARKER"
echo "$MARKER"
# The host stops the machine here for the migration streams, then quits QEMU.
while :; do sleep 60; done
EOF
    chmod +x "$d/init"
    ( cd "$d" && find . | cpio -o -H newc --quiet | gzip -6 ) > "$WORK/dom0.cpio.gz"
    log "images: Image $(stat -c %s "$WORK/Image"), dom0.cpio.gz $(stat -c %s "$WORK/dom0.cpio.gz"), guest.cpio.gz $(stat -c %s "$WORK/guest.cpio.gz")"
}
# BUILD-INPUTS-END

make_dev_nodes() {
    mknod -m 600 "$1/dev/console" c 5 1
    mknod -m 666 "$1/dev/null" c 1 3
}


# ---- capture -------------------------------------------------------------------------------
QEMU_PID=
cleanup() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        sleep 1
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    [ -n "$QEMU_PID" ] && wait "$QEMU_PID" 2>/dev/null || true
}

fail_capture() {
    log "FAILED in phase '$PHASE': $*"
    if [ -f "${OUT:-/nonexistent}/serial.log" ]; then
        log "last 40 console lines:"
        tail -n 40 "$OUT/serial.log" | tr -d '\r' >&2
    fi
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until FILE contains STRING or QEMU died.
wait_for() {
    local file=$1 str=$2 secs=$3 end=$((SECONDS + $3))
    while ! grep -qa "$str" "$file" 2>/dev/null; do
        kill -0 "$QEMU_PID" 2>/dev/null || fail_capture "QEMU exited before '$str'"
        [ $SECONDS -lt $end ] || fail_capture "no '$str' on the console within ${secs}s"
        sleep 0.1
    done
}

# HMP over 127.0.0.1: stop the machine, write the migration stream to FILE, wait until the
# migration completed, then let the machine run on.
hmp_snapshot() {
    timeout 300 python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=60)
buf = b""
def until_prompt():
    global buf
    while b"(qemu) " not in buf:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("monitor closed")
        buf += chunk
    out, buf = buf.split(b"(qemu) ", 1)
    return out.decode(errors="replace")
def cmd(c):
    s.sendall(c.encode() + b"\n")
    return until_prompt()
until_prompt()
t0 = time.monotonic()
cmd("stop")
t1 = time.monotonic()
# Where each CPU was (exception level, PC, PSTATE with DAIF): tells Xen (EL2), a guest kernel
# (EL1) and user space (EL0) apart. Kept next to the stream.
with open(path + ".cpus.txt", "w") as out:
    for n in range(2):
        cmd("cpu %d" % n)
        for line in cmd("info registers").splitlines():
            if "PC=" in line or "PSTATE=" in line:
                out.write("cpu%d %s\n" % (n, line.strip()))
cmd('migrate "exec:cat > %s"' % path)
while True:
    info = cmd("info migrate")
    if "Migration status: completed" in info:
        break
    if "failed" in info or "cancelled" in info:
        sys.exit("migration: " + info)
    time.sleep(0.1)
t2 = time.monotonic()
cmd("cont")
print("stop %.3fs, migrate %.3fs" % (t1 - t0, t2 - t1))
PY
}

# Lists each CPU's virtual CPU interface from the stream's arm_gicv3_cpu/virt subsections
# (ich_apr[12], ich_hcr_el2, ich_lr_el2[16], ich_vmcr_el2: big-endian u64 each, the layout the
# stream's own JSON description gives) and ends with `live N`, N = list registers with
# State != 0. A lab-side cross-check only: the tools decode the stream properly.
stream_lrs() {
    timeout 120 python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
name = b"arm_gicv3_cpu/virt"
if b'"' + name + b'"' not in data:
    sys.exit("no arm_gicv3_cpu/virt description in the stream")
marker = bytes([5, len(name)]) + name
pos, live, cpu = data.find(b"\x09arm_gicv3"), 0, 0
while True:
    pos = data.find(marker, pos + 1)
    if pos < 0:
        break
    regs = struct.unpack_from(">30Q", data, pos + len(marker) + 4)
    print("cpu%d ich_hcr_el2=%#x ich_vmcr_el2=%#x ich_apr=%s" % (cpu, regs[12], regs[29],
          ",".join("%#x" % r for r in regs[0:12])))
    for i, lr in enumerate(regs[13:29]):
        if lr:
            print("cpu%d ich_lr_el2[%d]=%#018x state=%d vintid=%d priority=%#x group=%d hw=%d" % (
                cpu, i, lr, lr >> 62, lr & 0xffffffff, (lr >> 48) & 0xff, (lr >> 60) & 1, (lr >> 61) & 1))
        live += 1 if lr >> 62 else 0
    cpu += 1
if cpu == 0:
    sys.exit("no arm_gicv3_cpu/virt subsection")
print("live %d" % live)
PY
}

hmp_quit() {
    timeout 30 python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"quit\n")
try:
    while s.recv(4096):
        pass
except OSError:
    pass
PY
}

capture() {
    OUT=$1
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    trap cleanup EXIT
    trap 'exit 130' INT TERM HUP
    build
    phase capture-boot
    rm -f "$OUT/serial.log" "$OUT"/*.migstream "$OUT"/*.cpus.txt
    truncate -s 0 "$OUT/results.img"; truncate -s 16M "$OUT/results.img"
    local port
    port=$(free_port)
    timeout 900 qemu-system-aarch64 \
        -M virt,gic-version=3,virtualization=on -cpu max -accel tcg,thread=multi \
        -m "$MACHINE_MEM" -smp 2 -display none -no-reboot -net none \
        -serial "file:$OUT/serial.log" \
        -monitor "tcp:127.0.0.1:$port,server,nowait" \
        -kernel "$WORK/xen" \
        -append "console=dtuart dom0_mem=$DOM0_MEM dom0_max_vcpus=2 conring_size=1M bootscrub=0" \
        -device "guest-loader,addr=0x50000000,kernel=$WORK/Image,bootargs=console=hvc0 earlycon=xenboot rdinit=/init init_on_free=1 ${XEN_ARM_DOM0_ARGS:-}" \
        -device "guest-loader,addr=0x54000000,initrd=$WORK/dom0.cpio.gz" \
        -drive "file=$OUT/results.img,format=raw,if=none,id=d0" -device virtio-blk-device,drive=d0 \
        -drive "file=$WORK/guest.tar,format=raw,if=none,id=d1,readonly=on" -device virtio-blk-device,drive=d1 \
        </dev/null >"$OUT/qemu.log" 2>&1 &
    QEMU_PID=$!
    wait_for "$OUT/serial.log" "dom0-init: creating guest" 400
    phase capture-guest
    wait_for "$OUT/serial.log" "$MARKER" 300
    phase capture-migrate
    # The first stream is taken right at the marker. List registers are live only while an
    # interrupt is pending or active in the running vCPU, so when none is, take up to
    # $XEN_ARM_TRIES more streams (the machine runs on between them) and keep the first with a
    # live one; the LR-free first stream is kept either way as vgic-at-marker.migstream.
    local try=0 tries=${XEN_ARM_TRIES:-24} live
    while :; do
        hmp_snapshot "$port" "$OUT/vgic.migstream" >&2 || fail_capture "HMP stop/migrate/cont"
        stream_lrs "$OUT/vgic.migstream" > "$OUT/stream-lrs.txt" || fail_capture "cannot read the list registers from the stream"
        live=$(awk '$1 == "live" { print $2 }' "$OUT/stream-lrs.txt")
        log "stream $try: $(stat -c %s "$OUT/vgic.migstream") bytes, live list registers: $live"
        if [ "$try" -eq 0 ] && [ "$live" = 0 ]; then
            mv "$OUT/vgic.migstream" "$OUT/vgic-at-marker.migstream"
            mv "$OUT/stream-lrs.txt" "$OUT/stream-lrs-at-marker.txt"
            mv "$OUT/vgic.migstream.cpus.txt" "$OUT/vgic-at-marker.migstream.cpus.txt"
        fi
        [ "$live" = 0 ] && [ "$try" -lt "$tries" ] || break
        try=$((try + 1))
        sleep 0.$((RANDOM % 10))
    done
    if [ ! -f "$OUT/vgic.migstream" ]; then
        mv "$OUT/vgic-at-marker.migstream" "$OUT/vgic.migstream"
        mv "$OUT/stream-lrs-at-marker.txt" "$OUT/stream-lrs.txt"
        mv "$OUT/vgic-at-marker.migstream.cpus.txt" "$OUT/vgic.migstream.cpus.txt"
    fi
    echo "$try" > "$OUT/stream-tries.txt"
    phase capture-results
    grep -qa "$DONE_MARKER" "$OUT/serial.log" || fail_capture "dom0 did not write its results"
    hmp_quit "$port" || true
    local end=$((SECONDS + 60))
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        [ $SECONDS -lt $end ] || fail_capture "QEMU did not power off"
        sleep 0.2
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    tar xf "$OUT/results.img" -C "$OUT" || fail_capture "cannot read the results disk"
    rm -f "$OUT/results.img"
    # The `q` part of the console: from Xen's "'q' pressed" line to the end of xl dmesg.
    sed -n "/'q' pressed/,\$p" "$OUT/xl-dmesg.txt" > "$OUT/debug-keys-q.txt"
    [ -s "$OUT/debug-keys-q.txt" ] || fail_capture "no debug-key 'q' output in xl dmesg"
    log "capture: done -> $OUT"
}

# Copies one capture's files into Tests/Fixtures/xen-arm. The stream goes in xz'd (-T2 -6) only
# if that is at most XEN_ARM_STREAM_MAX bytes (10 MB); otherwise it stays regenerable by `capture`.
fixtures() {
    local src dst=$REPO/Tests/Fixtures/xen-arm max=${XEN_ARM_STREAM_MAX:-10485760} f size
    src=$(cd "$1" && pwd)
    PHASE=fixtures
    mkdir -p "$dst"
    for f in debug-keys-q.txt xl-dmesg.txt xl-list.txt xl-vcpu-list.txt guest-domid.txt \
             serial.log stream-lrs.txt; do
        [ -s "$src/$f" ] || die "$src/$f missing"
        cp "$src/$f" "$dst/$f"
    done
    cp "$src/vgic.migstream.cpus.txt" "$dst/stream-cpus.txt" || die "$src/vgic.migstream.cpus.txt missing"
    log "fixtures: compressing the stream (xz -T2 -6)"
    timeout 3600 xz -T2 -6 -c "$src/vgic.migstream" > "$src/vgic.migstream.xz" || die "xz"
    size=$(stat -c %s "$src/vgic.migstream.xz")
    if [ "$size" -le "$max" ]; then
        cp "$src/vgic.migstream.xz" "$dst/vgic.migstream.xz"
        log "fixtures: stream $size bytes xz'd: kept"
    else
        rm -f "$dst/vgic.migstream.xz"
        log "fixtures: stream $size bytes xz'd (over $max): not kept; $src/vgic.migstream.xz stays"
    fi
}

case "${1:-}" in
    build) build ;;
    capture) [ $# -eq 2 ] || { echo "usage: $0 capture OUTDIR" >&2; exit 2; }; capture "$2" ;;
    fixtures) [ $# -eq 2 ] || { echo "usage: $0 fixtures CAPTUREDIR" >&2; exit 2; }; fixtures "$2" ;;
    *) echo "usage: $0 build | capture OUTDIR | fixtures CAPTUREDIR" >&2; exit 2 ;;
esac
