#!/usr/bin/env python3
"""A TCP relay that cuts its one connection after a while: a gdb stub that goes away mid-stream.

Usage: cut-proxy.py PORTFILE TARGET_PORT SECONDS
Listens on 127.0.0.1 (an ephemeral port, written to PORTFILE), accepts one client, relays its
bytes to 127.0.0.1:TARGET_PORT and back, and SECONDS after the client connected closes both
sides (the client sees the stub close; QEMU sees its client vanish, as after a SIGKILL).
Exits when the relay ends; bounded: gives up after 60 s without a client.
"""
import os
import selectors
import socket
import sys
import time


def main():
    portfile, target, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(lsock.getsockname()[1]))
    # Written whole, then renamed: a reader never sees half a number.
    os.rename(portfile + ".tmp", portfile)
    lsock.settimeout(60)
    try:
        client, _ = lsock.accept()
    except socket.timeout:
        return 1
    stub = socket.create_connection(("127.0.0.1", target), timeout=10)
    end = time.monotonic() + seconds
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ, stub)
    sel.register(stub, selectors.EVENT_READ, client)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            data = key.fileobj.recv(65536)
            if not data:
                left = 0
                break
            key.data.sendall(data)
        if left <= 0:
            break
    for s in (client, stub):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
