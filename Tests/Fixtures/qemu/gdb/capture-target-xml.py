#!/usr/bin/env python3
"""Saves the target description a live gdbstub serves (target.xml and every file it includes).

Usage: capture-target-xml.py HOST PORT OUTDIR
Speaks just enough of the GDB remote protocol (acks, qSupported, qXfer:features:read) and
detaches with D;1 so the guest keeps running. Written for the vmitools fixtures; the stub is
the real thing (QEMU -gdb), the files are saved byte for byte as it sent them.
"""
import os
import re
import socket
import sys


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


class Stub:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def send(self, payload: bytes):
        self.s.sendall(b"$" + payload + b"#%02x" % checksum(payload))

    def read_packet(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    payload = self.buf[start + 1:end]
                    self.buf = self.buf[end + 3:]
                    self.s.sendall(b"+")
                    return payload
            chunk = self.s.recv(65536)
            if not chunk:
                raise SystemExit("stub closed the connection")
            self.buf += chunk

    def request(self, payload: bytes) -> bytes:
        self.send(payload)
        while True:
            reply = self.read_packet()
            # QEMU pushes a stop reply when it stops the VM on connect: skip it.
            if payload[:1] not in (b"?",) and re.match(rb"^T[0-9a-f]{2}", reply) and not payload.startswith(b"qXfer"):
                continue
            return reply


def unescape(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == 0x7D:
            out.append(data[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def read_feature(stub: Stub, name: str) -> bytes:
    data = b""
    while True:
        reply = stub.request(b"qXfer:features:read:%s:%x,%x" % (name.encode(), len(data), 0x800))
        kind, body = reply[:1], unescape(reply[1:])
        if kind not in (b"m", b"l"):
            raise SystemExit(f"qXfer of {name} failed: {reply!r}")
        data += body
        if kind == b"l":
            return data


def main():
    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    stub = Stub(host, port)
    stub.request(b"qSupported:multiprocess+;xmlRegisters=i386")
    todo, seen = ["target.xml"], set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        data = read_feature(stub, name)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        todo += [m.decode() for m in re.findall(rb'<xi:include href="([^"]+)"', data)]
    stub.send(b"D;1")
    stub.read_packet()
    print(" ".join(sorted(seen)))


main()
