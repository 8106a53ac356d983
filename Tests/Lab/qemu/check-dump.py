#!/usr/bin/env python3
"""Checks a dump-guest-memory ELF against the HMP ground truth taken at the same stop.

Usage: check-dump.py DUMP.elf[.xz] TRANSLATE.txt
For every mapped line of TRANSLATE.txt (name va pa x_bytes xp_bytes) the 16 bytes at pa in
the dump's PT_LOAD segments must equal both the `x` (virtual) and `xp` (physical) reads.
Prints one line per address; exit 1 on any mismatch. make-fixtures.sh runs it on each dump.
"""
import lzma
import struct
import sys


def main():
    dump, table = sys.argv[1], sys.argv[2]
    opener = lzma.open if dump.endswith(".xz") else open
    with opener(dump, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        print(f"check-dump: {dump}: not an ELF64 file")
        return 1
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    for i in range(phnum):
        p_type, _, off, _, paddr, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((paddr, off, filesz))
    print("PT_LOAD " + " ".join(f"{p:#x}+{s:#x}" for p, _, s in loads))
    bad = 0
    for line in open(table):
        if line.startswith("#") or not line.strip():
            continue
        name, va, pa, x, xp = line.split()
        if pa == "-":
            print(f"{name} {va} unmapped")
            continue
        pa = int(pa, 16)
        seg = next(((p, o, s) for p, o, s in loads if p <= pa and pa + 16 <= p + s), None)
        if seg is None:
            print(f"{name} {va} pa {pa:#x} outside the dump")
            bad += 1
            continue
        p, o, _ = seg
        got = data[o + pa - p : o + pa - p + 16].hex()
        if got == x == xp:
            print(f"{name} {va} -> {pa:#x} ok")
        else:
            print(f"{name} {va} -> {pa:#x} MISMATCH dump={got} x={x} xp={xp}")
            bad += 1
    return 1 if bad else 0


sys.exit(main())
