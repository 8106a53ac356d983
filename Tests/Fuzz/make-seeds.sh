#!/bin/bash
# Seeds from the real fixtures that are too big to keep under corpus/: prefixes of the QEMU ELF
# dumps (headers, notes, the first pages of RAM; PT_LOAD sizes clamped to what is kept) and the
# head + vmdesc tail of the migration streams. Written to $1 (default .build/seeds/<target>/).
# Fixtures that are absent are skipped with a note.
set -eu  # no pipefail: `xz -dc | head` ends xz with SIGPIPE
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../Fixtures"
out=${1:-$here/.build/seeds}
mkdir -p "$out"/fuzz-coredump "$out"/fuzz-migration "$out"/fuzz-console-e

dump_prefix() {  # fixture.xz bytes -> stdout (an ELF dump whose segments fit the prefix)
    xz -dc "$1" 2>/dev/null | head -c "$2" | python3 -c '
import struct, sys
b = bytearray(sys.stdin.buffer.read())
if b[:4] != b"\x7fELF" or b[4] != 2: sys.exit("not ELF64")
phoff, = struct.unpack_from("<Q", b, 0x20)
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
for i in range(phnum):
    o = phoff + i * phentsize
    if o + 56 > len(b): break
    ptype, = struct.unpack_from("<I", b, o)
    off, = struct.unpack_from("<Q", b, o + 8)
    if ptype != 1: continue
    filesz = max(0, min(struct.unpack_from("<Q", b, o + 32)[0], len(b) - off))
    if off >= len(b): struct.pack_into("<I", b, o, 0)  # PT_NULL: not in the prefix
    else: struct.pack_into("<QQ", b, o + 32, filesz, filesz)
sys.stdout.buffer.write(b)'
}

for arch in x86_64 aarch64; do
    f="$fixtures/qemu/$arch.dump.elf.xz"
    [ -f "$f" ] || { echo "make-seeds: $f absent, skipped" >&2; continue; }
    for kb in 64 1024; do dump_prefix "$f" $((kb * 1024)) > "$out/fuzz-coredump/$arch-$kb"k.elf; done
done
for core in "$fixtures"/xen-x86/*.core.xz "$fixtures"/xen-x86/*.core; do
    [ -f "$core" ] || continue
    case $core in *.xz) cat=(xz -dc) ;; *) cat=(cat) ;; esac
    "${cat[@]}" "$core" | head -c $((256 * 1024)) > "$out/fuzz-coredump/xen-$(basename "${core%.xz}")"
done

# A stream is the device sections then the vmdesc JSON at the end: keep the head and the tail.
for name in aarch64 aarch64-el2; do
    f="$fixtures/qemu/$name.migration.xz"
    [ -f "$f" ] || { echo "make-seeds: $f absent, skipped" >&2; continue; }
    tmp=$(mktemp); xz -dc "$f" > "$tmp"
    { head -c 4096 "$tmp"; tail -c 65536 "$tmp"; } > "$out/fuzz-migration/$name-head-tail"
    tail -c 262144 "$tmp" > "$out/fuzz-migration/$name-tail"
    rm -f "$tmp"
done

# The console ring is the boot log then the dumps: the seed is the last dump, which fits in the
# target's max_len (the whole ring would be cut to its boot log).
e="$fixtures/xen-x86/evtchn/debug-keys-e.txt"
if [ -f "$e" ]; then
    awk "/'e' pressed/ { n = NR } { line[NR] = \$0 } END { for (i = n; i <= NR; i++) print line[i] }" "$e" \
        | head -c 4096 > "$out/fuzz-console-e/debug-keys-e-last-dump.txt"
fi
echo "make-seeds: $(find "$out" -type f | wc -l) seeds in $out"
