#!/usr/bin/env bash
# One QEMU (TCG) lab guest with a gdbstub and an HMP monitor, both on 127.0.0.1 only.
#
#   guest.sh start ARCH STATEDIR   ARCH: x86_64 | aarch64 | aarch64-el2
#   guest.sh wait-ready STATEDIR   until the console shows ticks (VMI_LAB_READY_TIMEOUT, 240 s)
#   guest.sh hmp STATEDIR "cmd"    prints the HMP reply (VMI_LAB_HMP_TIMEOUT, 60 s)
#   guest.sh stop STATEDIR         quit, then TERM/KILL, and wait until the process is gone
#
# STATEDIR gets env (ARCH, GDB_PORT, HMP_PORT, PID as shell variables), console.log, qemu.log.
# Guest RAM: VMI_LAB_MEM MiB (default 64; x86_64 96: its decompressor fails with 64).
# Images come from build-images.sh (cached).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
LAB=${VMI_LAB_CACHE:-$repo/.lab}
# The system python: version-manager shims cost ~1 s per call on a loaded machine.
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

fail() { # fail PHASE MESSAGE [STATEDIR]
    echo "guest.sh: $1: $2" >&2
    if [ -n "${3:-}" ] && [ -f "$3/console.log" ]; then
        echo "--- last console lines ($3/console.log):" >&2
        tail -n 15 "$3/console.log" | tr -d '\r' >&2
    fi
    if [ -n "${3:-}" ] && [ -s "$3/qemu.log" ]; then
        echo "--- qemu.log:" >&2
        tail -n 10 "$3/qemu.log" >&2
    fi
    exit 1
}

load_env() {
    [ -f "$1/env" ] || fail "${2:-state}" "no $1/env (guest not started?)"
    # shellcheck disable=SC1091
    . "$1/env"
}

alive() { [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cmd_start() {
    local arch=$1 dir=$2 mem=${VMI_LAB_MEM:-} img qemu machine append
    case $arch in
        x86_64) img=$LAB/qemu/x86_64; qemu=qemu-system-x86_64; mem=${mem:-96}
            machine=(-M pc -cpu qemu64); append="console=ttyS0" ;;
        aarch64) img=$LAB/qemu/aarch64; qemu=qemu-system-aarch64
            machine=(-M virt,gic-version=3 -cpu max); append="console=ttyAMA0" ;;
        aarch64-el2) img=$LAB/qemu/aarch64; qemu=qemu-system-aarch64
            machine=(-M virt,gic-version=3,virtualization=on -cpu max); append="console=ttyAMA0" ;;
        *) fail start "unknown ARCH '$arch' (x86_64, aarch64, aarch64-el2)" ;;
    esac
    mem=${mem:-64}
    "$here/build-images.sh" "${arch%-el2}" >/dev/null || fail build "images for $arch"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/env" ]; then
        load_env "$dir"
        alive && fail start "a guest is already running from $dir (pid $PID)"
    fi
    rm -f "$dir/env" "$dir/console.log" "$dir/qemu.log" "$dir/qemu.pid"
    append="$append nokaslr panic=-1 quiet init_on_free=1"
    local try gdb hmp
    for try in 1 2 3 4 5; do
        gdb=$(free_port); hmp=$(free_port)
        [ "$gdb" != "$hmp" ] || continue
        # -daemonize returns once the sockets are bound, so a port taken in between shows here.
        if timeout 60 "$qemu" -accel tcg "${machine[@]}" -m "$mem" -smp 1 -nodefaults -no-user-config \
            -display none -no-reboot -net none \
            -kernel "$img/kernel" -initrd "$img/initrd.cpio.gz" -append "$append" \
            -serial "file:$dir/console.log" \
            -gdb "tcp:127.0.0.1:$gdb" -monitor "tcp:127.0.0.1:$hmp,server,nowait" \
            -pidfile "$dir/qemu.pid" -daemonize >"$dir/qemu.log" 2>&1; then
            break
        fi
        grep -q "in use" "$dir/qemu.log" || fail start "$qemu did not start" "$dir"
        gdb=""
    done
    [ -n "$gdb" ] || fail start "no free port pair after 5 tries" "$dir"
    local pid; pid=$(cat "$dir/qemu.pid")
    printf 'ARCH=%s\nGDB_PORT=%s\nHMP_PORT=%s\nPID=%s\n' "$arch" "$gdb" "$hmp" "$pid" > "$dir/env"
    echo "guest.sh: $arch started: pid $pid, gdb 127.0.0.1:$gdb, hmp 127.0.0.1:$hmp, $mem MiB, console $dir/console.log"
}

cmd_wait_ready() {
    local dir=$1 limit=${VMI_LAB_READY_TIMEOUT:-240} t0=$SECONDS
    load_env "$dir" wait-ready
    while :; do
        alive || fail wait-ready "QEMU (pid $PID) exited before the guest was ready" "$dir"
        # Two ticks: init is up and the loop runs.
        if [ "$(grep -c 'vmi-lab tick' "$dir/console.log" 2>/dev/null)" -ge 2 ]; then
            echo "guest.sh: $ARCH ready after $((SECONDS - t0)) s"
            return 0
        fi
        grep -q "Kernel panic" "$dir/console.log" 2>/dev/null && fail wait-ready "guest kernel panicked" "$dir"
        [ $((SECONDS - t0)) -lt "$limit" ] || fail wait-ready "no tick on the console after $limit s" "$dir"
        sleep 1
    done
}

cmd_hmp() {
    local dir=$1; shift
    load_env "$dir" hmp
    "$PY" "$here/hmp.py" "$HMP_PORT" "${VMI_LAB_HMP_TIMEOUT:-60}" "$*" || fail hmp "command '$*' failed" "$dir"
}

cmd_stop() {
    local dir=$1 i
    [ -f "$dir/env" ] || return 0
    load_env "$dir" stop
    if alive; then
        "$PY" "$here/hmp.py" "$HMP_PORT" 5 quit >/dev/null 2>&1 || true
        for i in $(seq 1 50); do alive || break; sleep 0.1; done
        if alive; then kill -TERM "$PID" 2>/dev/null || true; sleep 1; fi
        if alive; then kill -KILL "$PID" 2>/dev/null || true; fi
        for i in $(seq 1 50); do alive || break; sleep 0.1; done
        alive && fail stop "pid $PID survived SIGKILL" "$dir"
    fi
    # The daemonized QEMU is reaped by init; PID is gone, keep env for the record.
    sed -i 's/^PID=.*/PID=/' "$dir/env"
}

[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
op=$1; shift
case $op in
    start) [ $# -eq 2 ] || fail start "usage: start ARCH STATEDIR"; cmd_start "$@" ;;
    wait-ready) cmd_wait_ready "$1" ;;
    hmp) cmd_hmp "$@" ;;
    stop) cmd_stop "$1" ;;
    *) fail usage "unknown command '$op'" ;;
esac
