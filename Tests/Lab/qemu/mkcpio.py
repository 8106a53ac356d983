#!/usr/bin/env python3
"""Writes the lab initramfs (cpio "newc") to stdout without needing root or mknod.

Usage: mkcpio.py BUSYBOX INIT_SCRIPT > initrd.cpio
Entries: /bin/busybox, /init (the script), /dev/console (c 5 1), /dev/null (c 1 3) and empty
/proc /sys /tmp /sbin /usr/bin /usr/sbin. Fixed mtimes and inode numbers keep it reproducible
(the cache compares inputs, and the same inputs give the same bytes).
"""
import sys

entries = []  # (name, mode, data, rdev_major, rdev_minor)


def add(name, mode, data=b"", major=0, minor=0):
    entries.append((name, mode, data, major, minor))


def main():
    busybox = open(sys.argv[1], "rb").read()
    init = open(sys.argv[2], "rb").read()
    for d in ("bin", "dev", "proc", "sys", "tmp", "sbin", "usr", "usr/bin", "usr/sbin"):
        add(d, 0o040755)
    add("bin/busybox", 0o100755, busybox)
    add("bin/sh", 0o120777, b"busybox")
    add("init", 0o100755, init)
    add("dev/console", 0o020600, b"", 5, 1)
    add("dev/null", 0o020666, b"", 1, 3)
    out = sys.stdout.buffer
    ino = 1

    def write(name, mode, data, major, minor, nlink):
        nonlocal ino
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(nb), 0))
        ino += 1
        buf = hdr.encode() + nb
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(buf) % 4)
        out.write(buf)

    for name, mode, data, major, minor in entries:
        write(name, mode, data, major, minor, 2 if mode & 0o040000 else 1)
    write("TRAILER!!!", 0, b"", 0, 0, 1)


main()
