#!/bin/bash
# The x86 Xen lab: Debian's Xen 4.17 + a Linux dom0 booted under qemu-system-x86_64 (TCG),
# guests pvguest (PV, 2-level event channels) and pvhguest (PVH, FIFO) started by `xl create`,
# test plans run inside dom0, results carried back on a virtio disk (tar).
#
#   lab.sh build                               packages + images (cached)
#   lab.sh run --plan-dir DIR --out OUTDIR     boot, run DIR/*.sh in dom0, results in OUTDIR
#   lab.sh fixtures [--out OUTDIR]             run fixtures/ and refresh Tests/Fixtures/xen-x86
#
# See README.md beside this file for the environment variables, the cache and timings.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${VMI_LAB_CACHE:-$REPO/.lab}
XEN_SERIES=4.17
TOOLS=(vmi-regs vmi-watch vmi-step vmi-evtchn vmi-gic-dump)

# Timeouts (seconds). Each phase has its own; QEMU as a whole is bounded by their sum.
T_BOOT=${VMI_XEN_LAB_BOOT_TIMEOUT:-240}       # QEMU start -> toolstack up in dom0
T_GUESTS=${VMI_XEN_LAB_GUESTS_TIMEOUT:-600}   # toolstack up -> both guests ticking (dom0 retries a silent guest)
T_PLAN=${VMI_XEN_LAB_PLAN_TIMEOUT:-180}       # default per plan (a plan may say "# lab-timeout: N")
T_SHUTDOWN=${VMI_XEN_LAB_SHUTDOWN_TIMEOUT:-180} # plans done -> results written -> QEMU exit
T_FETCH=${VMI_XEN_LAB_FETCH_TIMEOUT:-600}     # apt-get download
T_SWIFT=${VMI_XEN_LAB_SWIFT_TIMEOUT:-3600}    # swift build of the tools
# CPU: -smap or dom0 crashes at once (#PF in d0v0). -xsave,-avx,-avx2: with XSAVE/AVX offered,
# dom0 and guest processes died at random (busybox, xl segfaulting on garbage pointers, glibc
# "malloc(): unsorted double linked list corrupted"): vCPU extended state does not survive
# Xen's context switches under QEMU 7.2's TCG; without XSAVE Xen falls back to FXSAVE.
# -fsgsbase: with FSGSBASE offered, the PVH guest's kernel died within seconds of any CPUID
# monitoring (xen-access's too), 3 of 4 runs ("BUG: ENTRY_TRAMPOLINE stack guard page was
# hit"); without it, 0 crashes in 12 rounds of 8 s (stress/pvh-cpuid.sh). The same panic still
# happens now and then during boot (README.md, "Known behaviour"): dom0/init retries.
# Single-threaded TCG: faster than thread=multi on a loaded 2-core host.
CPU=${VMI_XEN_LAB_CPU:-max,-smap,-xsave,-avx,-avx2,-fsgsbase}
ACCEL=${VMI_XEN_LAB_ACCEL:-tcg,thread=single}
# Physical CPUs of the Xen host (and dom0's vCPUs). One: with two, the PVH guest died during
# boot in 8 of 14 boots on a loaded host (the entry-stack panic, or idle in HLT with no timer
# interrupt: events lost or delivered twice between Xen's two pCPUs under TCG); with one, it
# booted every time and every plan passed. thread=single TCG runs both on one host core anyway.
SMP=${VMI_XEN_LAB_SMP:-1}

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
phase_done() { printf 'phase %s: %ss\n' "$1" "$(elapsed "$2")" >&2; }

# ---------------------------------------------------------------------------------------------
# Packages

# Binary packages the lab is made of; the kernel is whatever linux-image-amd64 points at now.
packages() {
    local kernel
    kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [ -n "$kernel" ] || die "packages: cannot resolve linux-image-amd64 (run apt-get update)"
    echo "xen-hypervisor-$XEN_SERIES-amd64 xen-utils-$XEN_SERIES xen-utils-common xenstore-utils"
    echo "libxenmisc$XEN_SERIES libxenstore4 libxenforeignmemory1 libxenevtchn1 libxengnttab1"
    echo "libxentoollog1 libxencall1 libxendevicemodel1 libxentoolcore1 libxenhypfs1 libyajl2"
    echo "$kernel busybox-static"
}

# Downloads what is missing into $CACHE/debs; prints the sorted .deb names (the cache key):
# apt-get download names a file <package>_<version, ':' as %3a>_<arch>.deb.
fetch_debs() {
    mkdir -p "$CACHE/debs"
    local pkgs names p f missing=()
    pkgs=$(packages) || exit 1
    # One apt-cache call (each one costs a second or more here).
    names=$(apt-cache show --no-all-versions $pkgs 2>/dev/null |
        awk '/^Package:/ { p = $2 } /^Version:/ { v = $2; gsub(":", "%3a", v); print p "_" v "_amd64.deb" }' | sort)
    for p in $pkgs; do
        grep -q "^${p}_" <<<"$names" || die "packages: no candidate version of $p (run apt-get update)"
    done
    for f in $names; do [ -s "$CACHE/debs/$f" ] || missing+=("${f%%_*}"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "downloading ${missing[*]}"
        (cd "$CACHE/debs" && timeout "$T_FETCH" apt-get download "${missing[@]}" >&2) ||
            die "packages: apt-get download failed or timed out"
    fi
    for f in $names; do [ -s "$CACHE/debs/$f" ] || die "packages: $f missing after download"; done
    printf '%s\n' "$names"
}

hash_of() { sha256sum | cut -c1-16; }

# Unpacked packages: $CACHE/xen/root-<key>, key = the .deb names (package versions).
unpack_debs() {
    local debs="$1" key dir
    key=$(printf '%s\n' "$debs" | hash_of)
    dir=$CACHE/xen/root-$key
    if [ ! -e "$dir/.done" ]; then
        log "unpacking packages into $dir"
        rm -rf "$dir" && mkdir -p "$dir"
        local d
        for d in $debs; do dpkg -x "$CACHE/debs/$d" "$dir"; done
        printf '%s\n' "$debs" >"$dir/.done"
    fi
    echo "$dir"
}

# ---------------------------------------------------------------------------------------------
# Images

# Copies binary $1 and every library `ldd` names into rootfs $2 (libraries from the unpacked
# packages first, then the host's: same Debian release). Fails on a library nobody has.
copy_with_libs() {
    local bin="$1" root="$2" libpath="$3" line lib
    install -D -m 0755 "$bin" "$root/${bin#"$ROOT"}"
    while read -r line; do
        case "$line" in
            *"not found"*) die "images: $bin needs ${line%% *}, which is not found" ;;
            *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
            /*) lib=${line%% (*} ;;
            *) continue ;;
        esac
        copy_lib "$lib" "$root"
    done < <(LD_LIBRARY_PATH=$libpath ldd "$bin")
}

# Library files go to /lib/x86_64-linux-gnu (the loader to /lib64), symlinks resolved.
copy_lib() {
    local lib="$1" root="$2" base
    base=$(basename "$lib")
    if [ "$base" = ld-linux-x86-64.so.2 ]; then
        install -D -m 0755 "$(readlink -f "$lib")" "$root/lib64/$base"
    else
        [ -e "$root/lib/x86_64-linux-gnu/$base" ] || install -D -m 0644 "$(readlink -f "$lib")" "$root/lib/x86_64-linux-gnu/$base"
    fi
}

# Kernel module files (no modinfo needed: dependencies read from the .modinfo section).
copy_module() {
    local name="$1" moddir="$2" dest="$3" f dep
    [ -e "$dest/$name.ko" ] && return 0
    f=$(find "$moddir" -name "$name.ko" -print -quit)
    [ -n "$f" ] || die "images: kernel module $name not found under $moddir"
    cp "$f" "$dest/$name.ko"
    for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$f" | head -n 1 | cut -d= -f2 | tr , ' '); do
        copy_module "$dep" "$moddir" "$dest"
    done
}

cpio_gz() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -6) >"$2"; }

# Builds xen.elf, vmlinuz, dom0.cpio.gz into $CACHE/xen/images-<key>, key = packages + the
# lab's own sources. Prints the folder.
build_images() {
    local debs root key dir
    debs=$(fetch_debs) || exit 1
    root=$(unpack_debs "$debs") || exit 1
    key=$( (printf '%s\n' "$debs"; cd "$HERE" && cat lab.sh dom0/init guest/init guest/*.cfg guest/cpuid-loop.c) | hash_of)
    dir=$CACHE/xen/images-$key
    # One builder at a time (several helpers may share a cache); a waiting one then reuses.
    mkdir -p "$CACHE/xen"
    exec 9>"$CACHE/xen/build.lock"
    flock -w 1200 9 || die "images: another build holds $CACHE/xen/build.lock"
    if [ -e "$dir/.done" ]; then
        touch "$dir"
        echo "$dir"
        return 0
    fi
    log "building images into $dir"
    rm -rf "$dir" && mkdir -p "$dir"
    local kver vmlinuz busybox
    vmlinuz=$(ls "$root"/boot/vmlinuz-* | head -n 1)
    kver=${vmlinuz##*/vmlinuz-}
    busybox=$root/bin/busybox
    [ -x "$busybox" ] || die "images: busybox-static has no /bin/busybox"
    gzip -dc "$root/boot/xen-$XEN_SERIES-amd64.gz" >"$dir/xen.elf"
    cp "$vmlinuz" "$dir/vmlinuz"

    # Guest initramfs: busybox, /init, cpuid-loop.
    local g=$dir/guest-root
    mkdir -p "$g"/{bin,dev,proc,sys,tmp}
    cp "$busybox" "$g/bin/busybox"
    ln -s busybox "$g/bin/sh"
    install -m 0755 "$HERE/guest/init" "$g/init"
    gcc -static -O2 -Wall -o "$g/bin/cpuid-loop" "$HERE/guest/cpuid-loop.c" || die "images: cpuid-loop does not compile"
    strip "$g/bin/cpuid-loop"
    cpio_gz "$g" "$dir/guest.cpio.gz"

    # dom0 initramfs: busybox, the toolstack with its libraries, modules, the guests' images.
    local d=$dir/dom0-root libpath=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
    mkdir -p "$d"/{bin,dev,proc,sys,tmp,run,root,etc,lib/modules,lab/guest,usr/local/bin}
    cp "$busybox" "$d/bin/busybox"
    ln -s busybox "$d/bin/sh"
    install -m 0755 "$HERE/dom0/init" "$d/init"
    ROOT=$root
    local b
    for b in xl xenstored xen-init-dom0 xenconsoled xenconsole lsevtchn xenctx xen-access xen-hvmctx \
        xen-mfndump xen-diag xenstore-control libxl-save-helper xen-cpuid; do
        copy_with_libs "$root/usr/lib/xen-$XEN_SERIES/bin/$b" "$d" "$libpath"
    done
    copy_with_libs "$root/usr/bin/xenstore" "$d" "$libpath"
    for b in "$root"/usr/bin/xenstore-*; do ln -sf xenstore "$d/usr/bin/${b##*/}"; done
    # glibc dlopens libgcc_s for pthread_cancel (xl create aborts without it); ldd does not say.
    copy_lib "$(gcc -print-file-name=libgcc_s.so.1)" "$d"
    local m
    for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc virtio_pci virtio_blk; do
        copy_module "$m" "$root/lib/modules/$kver" "$d/lib/modules"
    done
    cp "$vmlinuz" "$d/lab/guest/vmlinuz"
    cp "$dir/guest.cpio.gz" "$HERE"/guest/*.cfg "$d/lab/guest/"
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
    mkdir -p "$d/etc/xen" "$d/var"
    : >"$d/etc/xen/xl.conf"
    ln -s ../run "$d/var/run"
    cpio_gz "$d" "$dir/dom0.cpio.gz"
    rm -rf "$g" "$d"
    printf '%s\n' "$kver" >"$dir/kernel-version"
    (cd "$dir" && ls -l xen.elf vmlinuz dom0.cpio.gz guest.cpio.gz) >&2
    touch "$dir/.done"
    # Image sets unused for a day are dead weight (a younger one may belong to a running lab).
    find "$CACHE/xen" -maxdepth 1 -name 'images-*' ! -path "$dir" -mtime +0 -exec rm -rf {} + 2>/dev/null || true
    echo "$dir"
}

# The vmi tools for dom0: $VMI_LAB_TOOLS if set, else a release build of this checkout.
tools_dir() {
    if [ -n "${VMI_LAB_TOOLS:-}" ]; then
        echo "$VMI_LAB_TOOLS"
        return 0
    fi
    local swift=swift
    command -v swift >/dev/null || swift=/opt/swift/usr/bin/swift
    log "building the tools (make release)"
    (cd "$REPO" && timeout "$T_SWIFT" make release SWIFT="$swift" >&2) || die "tools: make release failed"
    (cd "$REPO" && "$swift" build -c release --show-bin-path)
}

# ---------------------------------------------------------------------------------------------
# Run

QEMU_PID=
RUN_DIR=
cleanup() {
    [ -n "${VMI_XEN_LAB_DEBUG:-}" ] && log "cleanup at $(date +%T)"
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill -TERM "$QEMU_PID" 2>/dev/null || true
        sleep 1
        kill -KILL "$QEMU_PID" 2>/dev/null || true
    fi
    [ -n "$QEMU_PID" ] && wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
    RUN_DIR=
}

CONSOLE=
fail_phase() {
    log "phase $1 failed: $2"
    if [ -n "$CONSOLE" ] && [ -e "$CONSOLE" ]; then
        log "last 40 console lines:"
        tail -n 40 "$CONSOLE" | tr -d '\r' | sed 's/^/  | /' >&2
        # The whole console stays with the results: the post-mortem starts there.
        if [ -n "${OUT_DIR:-}" ]; then
            mkdir -p "$OUT_DIR/_lab" && tr -d '\r' <"$CONSOLE" >"$OUT_DIR/_lab/console.log"
            log "console: $OUT_DIR/_lab/console.log"
        fi
    fi
    cleanup
    exit 1
}

# Waits until the console shows a line matching $2 (grep -E), QEMU dies, or $3 seconds pass.
await() {
    local phase="$1" pattern="$2" limit="$3" start
    start=$(now)
    while :; do
        if grep -aqE "$pattern" "$CONSOLE" 2>/dev/null; then return 0; fi
        if grep -aqE '^LAB: fail ' "$CONSOLE" 2>/dev/null; then
            fail_phase "$phase" "$(grep -aE '^LAB: fail ' "$CONSOLE" | head -n 1 | tr -d '\r')"
        fi
        if ! kill -0 "$QEMU_PID" 2>/dev/null; then fail_phase "$phase" "QEMU exited (Xen or dom0 died)"; fi
        if awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            fail_phase "$phase" "no progress after ${limit}s (waiting for /$pattern/)"
        fi
        sleep 0.2
    done
}

# How long the host waits for a plan: dom0 kills it at its timeout and reports that; a plan that
# failed beside a crashed guest runs once more after the guest is re-created (dom0/init).
plan_wait() {
    echo $((2 * $(plan_timeout "$1") + 90 + 150))
}

plan_timeout() {
    local t
    t=$(sed -n 's/^# *lab-timeout: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    echo "${t:-$T_PLAN}"
}

cmd_run() {
    local plan_dir="" out=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --plan-dir) plan_dir=$2; shift 2 ;;
            --out) out=$2; shift 2 ;;
            *) die "run: unknown argument '$1' (usage: lab.sh run --plan-dir DIR --out OUTDIR)" ;;
        esac
    done
    [ -n "$plan_dir" ] && [ -n "$out" ] || die "usage: lab.sh run --plan-dir DIR --out OUTDIR"
    [ -d "$plan_dir" ] || die "run: no plan folder '$plan_dir'"
    command -v qemu-system-x86_64 >/dev/null || die "run: qemu-system-x86_64 is not installed"
    plan_dir=$(cd "$plan_dir" && pwd)
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    OUT_DIR=$out
    local run_start t
    run_start=$(now)

    t=$(now)
    local images tools
    images=$(build_images) || exit 1
    tools=$(tools_dir) || exit 1
    phase_done build "$t"

    mkdir -p "$CACHE/xen/runs"
    RUN_DIR=$(mktemp -d "$CACHE/xen/runs/run.XXXXXX")
    trap cleanup EXIT
    trap 'log "interrupted"; cleanup; exit 130' INT TERM HUP
    case "$images$RUN_DIR" in *,*) die "run: the cache path may not contain a comma (QEMU module list)" ;; esac

    # Input: a tar of lab.env, plans/, tools/.
    local in=$RUN_DIR/in plans_total=0 p
    mkdir -p "$in/plans" "$in/tools/bin" "$in/tools/lib"
    for p in "$plan_dir"/*.sh; do
        [ -e "$p" ] || continue
        cp "$p" "$in/plans/"
        plans_total=$((plans_total + $(plan_wait "$p")))
    done
    [ "$(ls "$in/plans" | wc -l)" -gt 0 ] || die "run: no *.sh plan in $plan_dir"
    local tool line lib path
    # The vmi tools, and the host's jq for plans that pipe into it (as the README's one-liners do).
    for tool in "${TOOLS[@]}" jq; do
        path=$tools/$tool
        [ "$tool" = jq ] && { path=$(command -v jq) || continue; }
        [ -x "$path" ] || die "tools: $path is missing"
        cp "$path" "$in/tools/bin/"
        while read -r line; do
            case "$line" in
                *"not found"*) die "tools: $tool needs ${line%% *}, which is not found" ;;
                *"=> /"*) lib=${line#*=> }; lib=${lib%% (*}; cp -n "$(readlink -f "$lib")" "$in/tools/lib/$(basename "$lib")" ;;
            esac
        done < <(ldd "$path")
    done
    # What the plans share (plans source $LAB_LIB).
    cp "$HERE/dom0/plan-lib.sh" "$in/plan-lib.sh"
    printf 'GUESTS_TIMEOUT=%s\nPLAN_TIMEOUT=%s\nexport LAB_LIB=/lab/in/plan-lib.sh\n' "$((T_GUESTS - 20))" "$T_PLAN" >"$in/lab.env"
    # Two disks: vda holds exactly the input tar (busybox tar reads a device to its end), vdb is
    # an empty sparse disk dom0 writes the results to.
    local input=$RUN_DIR/input.tar disk=$RUN_DIR/results.img
    tar -c -f "$input" --numeric-owner -C "$in" .
    truncate -s 2G "$disk"
    rm -rf "$in"

    CONSOLE=$RUN_DIR/console.log
    : >"$CONSOLE"
    local total=$((T_BOOT + T_GUESTS + plans_total + T_SHUTDOWN))
    # guest_loglvl stays at its default: "all" printed ~20 lines on the serial port for every
    # HVM context load (each register write, each hbreak step-over), slow under TCG.
    local xen_args="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=$SMP loglvl=all conring_size=4M ${VMI_XEN_LAB_XEN_ARGS:-}"
    local dom0_args="console=hvc0 earlyprintk=xen rdinit=/init loglevel=4 print-fatal-signals=1"
    t=$(now)
    timeout -s KILL "$total" qemu-system-x86_64 \
        -accel "$ACCEL" -cpu "$CPU" -m 3072 -smp "$SMP" \
        -kernel "$images/xen.elf" -append "$xen_args" \
        -initrd "$images/vmlinuz $dom0_args,$images/dom0.cpio.gz" \
        -drive "file=$input,format=raw,if=virtio,readonly=on" -drive "file=$disk,format=raw,if=virtio" \
        -nodefaults -serial "file:$CONSOLE" -display none -vga none -net none -monitor none \
        -parallel none -no-reboot </dev/null >"$RUN_DIR/qemu.out" 2>&1 &
    QEMU_PID=$!

    await boot '^LAB: toolstack-up' "$T_BOOT"
    phase_done boot "$t"
    # Each guest's time to its first tick, from the moment the toolstack was up.
    t=$(now)
    await "guest pvguest" '^LAB: ticking pvguest' "$T_GUESTS"
    phase_done "guest pvguest" "$t"
    await "guest pvhguest" '^LAB: ticking pvhguest' "$T_GUESTS"
    phase_done "guest pvhguest" "$t"
    await guests '^LAB: guests-up' 30
    local name
    for p in "$plan_dir"/*.sh; do
        [ -e "$p" ] || continue
        name=$(basename "$p" .sh)
        t=$(now)
        await "plan $name" "^LAB: plan-end $name " "$(plan_wait "$p")"
        phase_done "plan $name" "$t"
        grep -aq "^LAB: plan-retry $name:" "$CONSOLE" &&
            log "plan $name ran twice: $(grep -a "^LAB: plan-retry $name:" "$CONSOLE" | head -n 1 | tr -d '\r')"
    done
    t=$(now)
    await collect '^LAB: results-written' "$T_SHUTDOWN"
    phase_done collect "$t"
    t=$(now)
    local waited=0
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        [ $waited -lt $((T_SHUTDOWN * 5)) ] || fail_phase shutdown "QEMU still running ${T_SHUTDOWN}s after reboot -f"
        sleep 0.2
        waited=$((waited + 1))
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=
    phase_done shutdown "$t"

    # Results: OUTDIR/<plan>/{stdout,stderr,exit_code,...}, OUTDIR/_lab/ (console logs).
    local res=$RUN_DIR/results
    mkdir -p "$res"
    (cd "$res" && cpio -i -d --quiet --no-absolute-filenames <"$disk") || fail_phase collect "the results disk holds no cpio archive"
    for p in "$res"/*; do
        [ -e "$p" ] || continue
        rm -rf "${out:?}/$(basename "$p")"
        mv "$p" "$out/"
    done
    mkdir -p "$out/_lab"
    tr -d '\r' <"$CONSOLE" >"$out/_lab/console.log"
    grep -a '^LAB: ' "$out/_lab/console.log" >&2 || true

    local failed=0 code
    for p in "$plan_dir"/*.sh; do
        [ -e "$p" ] || continue
        name=$(basename "$p" .sh)
        code=$(cat "$out/$name/exit_code" 2>/dev/null || echo missing)
        if [ "$code" != 0 ]; then
            failed=1
            log "plan $name: exit $code (see $out/$name/stderr)"
            tail -n 20 "$out/$name/stderr" 2>/dev/null | sed 's/^/  | /' >&2 || true
        fi
    done
    phase_done total "$run_start"
    cleanup
    trap - EXIT INT TERM HUP
    if [ $failed -ne 0 ]; then
        log "some plans failed; results in $out"
        return 1
    fi
    log "all plans passed; results in $out"
}

# ---------------------------------------------------------------------------------------------
# Fixtures: one boot running fixtures/*.sh, then the files worth committing are compressed into
# Tests/Fixtures/xen-x86/.
cmd_fixtures() {
    local out=$CACHE/xen/fixtures-out
    while [ $# -gt 0 ]; do
        case "$1" in
            --out) out=$2; shift 2 ;;
            *) die "fixtures: unknown argument '$1' (usage: lab.sh fixtures [--out OUTDIR])" ;;
        esac
    done
    rm -rf "$out"
    "$HERE/lab.sh" run --plan-dir "$HERE/fixtures" --out "$out" || log "fixtures: a plan failed (kept what it made)"
    local src=$out/10-pv-dump dst=$REPO/Tests/Fixtures/xen-x86
    [ -s "$src/pvguest.core" ] || die "fixtures: no PV dump was made (see $out)"
    mkdir -p "$dst"
    local f
    for f in xenctx.txt lsevtchn.txt debug-keys-e.txt xl-list-l.json symbols.txt xl-info.txt; do
        [ -e "$src/$f" ] && cp "$src/$f" "$dst/pvguest.$f"
    done
    log "compressing the PV dump ($(stat -c %s "$src/pvguest.core") bytes)"
    timeout 900 xz -T2 -6 -c "$src/pvguest.core" >"$dst/pvguest.core.xz" || die "fixtures: xz failed"
    [ -d "$out/20-pvh-dump-attempt" ] && cp "$out/20-pvh-dump-attempt/stdout" "$dst/pvhguest.dump-core-attempt.txt"
    ls -l "$dst" >&2
}

case "${1:-}" in
    build) shift; build_images >/dev/null; log "images ready" ;;
    run) shift; cmd_run "$@" ;;
    fixtures) shift; cmd_fixtures "$@" ;;
    *) echo "usage: lab.sh build | run --plan-dir DIR --out OUTDIR | fixtures [--out OUTDIR]" >&2; exit 2 ;;
esac
