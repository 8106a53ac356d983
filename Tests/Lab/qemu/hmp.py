#!/usr/bin/env python3
"""Sends one HMP command to a QEMU monitor on 127.0.0.1:PORT and prints the reply.

Usage: hmp.py PORT TIMEOUT COMMAND
The monitor echoes the command line with terminal escapes; the reply is what comes between
that echo and the next "(qemu) " prompt, with escapes and carriage returns removed.
Exit 0 on a reply, 1 on a connection error, 2 on a timeout (the message names which).
"""
import re
import socket
import sys
import time

PROMPT = b"(qemu) "
ESC = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]|\x1b[A-Za-z]")


def read_until_prompt(sock, deadline):
    buf = b""
    while not buf.endswith(PROMPT):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("monitor closed the connection")
        buf += chunk
    return buf


def main():
    port, timeout, command = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=min(timeout, 10))
    except OSError as e:
        print(f"hmp: cannot connect to 127.0.0.1:{port}: {e.strerror or e}", file=sys.stderr)
        return 1
    phase = "banner"
    try:
        read_until_prompt(sock, deadline)
        phase = f"reply to '{command}'"
        sock.sendall(command.encode() + b"\n")
        raw = read_until_prompt(sock, deadline)
    except TimeoutError:
        print(f"hmp: timed out after {timeout:g}s waiting for the {phase}", file=sys.stderr)
        return 2
    except (ConnectionError, OSError) as e:
        if command.strip() in ("quit", "q"):
            return 0  # quit closes the connection without a prompt
        print(f"hmp: {phase}: {e}", file=sys.stderr)
        return 1
    finally:
        sock.close()
    text = ESC.sub(b"", raw[: -len(PROMPT)]).replace(b"\r", b"").decode("utf-8", "replace")
    lines = text.split("\n")
    # The first line is the echoed command.
    if lines and lines[0].strip().endswith(command.strip()):
        lines = lines[1:]
    sys.stdout.write("\n".join(lines))
    return 0


sys.exit(main())
