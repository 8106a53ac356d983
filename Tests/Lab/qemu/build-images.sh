#!/usr/bin/env bash
# Builds the QEMU lab's guest images from Debian packages only:
#   $LAB/qemu/<arch>/kernel          (x86_64: bzImage; aarch64: plain Image)
#   $LAB/qemu/<arch>/initrd.cpio.gz  (busybox-static + /init, device nodes, no root needed)
# LAB = ${VMI_LAB_CACHE:-<repo>/.lab}. .debs land in $LAB/debs (shared with the Xen lab; a
# flock on $LAB/debs/.lock serialises downloads). A rebuild does nothing unless the chosen
# .debs, init.sh, mkcpio.py or this script changed (stamp file per arch).
# Usage: build-images.sh [x86_64|aarch64]...   (default: both)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
LAB=${VMI_LAB_CACHE:-$repo/.lab}
debs=$LAB/debs
mkdir -p "$debs"

die() { echo "build-images: $*" >&2; exit 1; }

# deb_arch ARCH -> Debian architecture name.
deb_arch() { case $1 in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) die "unknown arch '$1'" ;; esac; }

# fetch PKG DEBARCH: prints the path of the .deb for the candidate version, downloading it
# (under the shared lock) only when absent.
fetch() {
    local pkg=$1 da=$2 ver file
    ver=$(apt-cache policy "$pkg:$da" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate for $pkg:$da (run: dpkg --add-architecture $da; apt-get update)"
    file="$debs/${pkg}_${ver//:/%3a}_$da.deb"
    if [ ! -s "$file" ]; then
        (
            flock -w 600 9 || die "timed out waiting for $debs/.lock"
            if [ ! -s "$file" ]; then
                tmp=$(mktemp -d "$debs/.dl.XXXXXX")
                (cd "$tmp" && timeout 600 apt-get download -q "$pkg:$da=$ver" >&2) || { rm -rf "$tmp"; die "apt-get download $pkg:$da failed"; }
                mv "$tmp"/*.deb "$file"
                rm -rf "$tmp"
            fi
        ) 9>"$debs/.lock"
    fi
    echo "$file"
}

build() {
    local arch=$1 da kpkg kdeb bdeb out stamp want
    da=$(deb_arch "$arch")
    # The kernel the metapackage points at (e.g. linux-image-6.1.0-56-amd64).
    kpkg=$(apt-cache depends "linux-image-$da:$da" 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}')
    kpkg=${kpkg%:$da}
    [ -n "$kpkg" ] || die "cannot resolve linux-image-$da:$da (apt-get update?)"
    kdeb=$(fetch "$kpkg" "$da")
    bdeb=$(fetch busybox-static "$da")
    out=$LAB/qemu/$arch
    stamp=$out/.stamp
    want=$( { basename "$kdeb"; basename "$bdeb"; cat "$here/init.sh" "$here/mkcpio.py" "$0"; } | sha256sum | cut -c1-64)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -s "$out/kernel" ] && [ -s "$out/initrd.cpio.gz" ]; then
        echo "build-images: $arch up to date ($out)"
        return
    fi
    echo "build-images: building $arch from $(basename "$kdeb") and $(basename "$bdeb")"
    mkdir -p "$out"
    local work; work=$(mktemp -d "$out/.work.XXXXXX")
    # Only the kernel file and busybox are needed: extract just those members.
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
    dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$work" ./bin/busybox
    local k; k=$(ls "$work"/boot/vmlinuz-* | head -n1)
    [ -s "$k" ] || die "no vmlinuz in $kdeb"
    python3 "$here/mkcpio.py" "$work/bin/busybox" "$here/init.sh" | gzip -n -9 > "$work/initrd.cpio.gz"
    mv "$k" "$out/kernel"
    mv "$work/initrd.cpio.gz" "$out/initrd.cpio.gz"
    basename "$kdeb" > "$out/kernel.source"
    rm -rf "$work"
    echo "$want" > "$stamp"
    echo "build-images: $arch ready: $(du -h "$out/kernel" | cut -f1) kernel, $(du -h "$out/initrd.cpio.gz" | cut -f1) initrd"
}

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64)
mkdir -p "$LAB/qemu"
for a in "${archs[@]}"; do
    # One builder per arch at a time (with-guests.sh and make-fixtures.sh may run together).
    (flock -w 600 8 || die "timed out waiting for $LAB/qemu/.lock-$a"; build "$a") 8>"$LAB/qemu/.lock-$a"
done
