#!/usr/bin/env bash
# Fault trials against a live QEMU lab guest (x86_64, aarch64, aarch64-el2): vmi-watch and vmi-step end at random
# moments, in every way a tool can end, while events fire many times a second; after each end
# the guest must be left running and clean.
#
#   fault-trials.sh [-n TRIALS] [-s SEED] [-b BINDIR] [-c | -p END] STATEDIR
#
# -c: the ends in turn (trial i ends the i-th way), so -n 9 -c tries each once; -p END: only
# that end (SIGINT ... cut, as listed below); else at random.
# STATEDIR: a guest started by guest.sh (or with-guests.sh's VMI_LAB_QEMU_STATE_X86_64).
# BINDIR: the built tools (default .build/debug). Exit 0 when every trial passed.
#
# Loads: a software and a hardware breakpoint on the code that writes jiffies_64 (every timer
# tick), write and read watchpoints on jiffies_64 (the read one fires many times per tick),
# vmi-step streaming (every instruction a stop), and vmi-step --until the tick code. The arm64
# kernel lists no data symbols (no jiffies_64): there the hot spot is the IRQ vector
# (VBAR_ELx + 0x280, every timer interrupt), there are no watchpoint loads, and progress is
# measured in console ticks over 3.5 s instead of jiffies over 1.5 s.
# Ends: SIGINT, SIGTERM, SIGHUP, stdout closed (| head -n K), --timeout, --count, SIGKILL, and
# "stall": stdout is a one-page pipe whose reader never reads; SIGTERM comes while it is full (the
# note says whether jiffies_64 advanced during the stall: vmi-watch drops records rather than
# hold the guest; vmi-step's guest is stopped between steps anyway); "cut": the tool talks to
# the stub through cut-proxy.py, which closes the connection mid-stream (exit 1 and one
# `prog: TARGET: ...` line expected; QEMU sees its client vanish, as after SIGKILL).
# Checks after each end, from outside (HMP monitor) before anything attaches again:
#   exit status (128+N for a signal, 0 otherwise) and no message on stderr;
#   `info status` running, and still running 1.5 s later (a breakpoint or watchpoint left on
#   these hot spots would stop it: QEMU shows "paused (debug)");
#   jiffies_64 advanced over that time, and the console printed a new tick;
#   the trace bit clear (`info registers`: RFLAGS.TF on x86_64, PSTATE.SS on AArch64);
#   the bytes at the breakpoint address unchanged (HMP `x`);
# then through a fresh gdb connection (vmi-step -i `mem`, which also proves a new client
# attaches at once): the same bytes.
# After SIGKILL nothing of ours runs: the state QEMU is left in is recorded as it is (see the
# README's "After kill -9"), then the fresh connection reclaims the guest and the checks run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
trials=60 seed=$$ bin=$repo/.build/debug cycle=0 only=""
while getopts n:s:b:cp: o; do
    case $o in
        n) trials=$OPTARG ;; s) seed=$OPTARG ;; b) bin=$OPTARG ;; c) cycle=1 ;; p) only=$OPTARG ;;
        *) sed -n '2,34p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n '2,34p' "$0" >&2; exit 2; }
state=$(cd "$1" && pwd) || exit 2
# shellcheck disable=SC1091
. "$state/env"
case $ARCH in
    x86_64) flagsreg=RFL trapmask=0x100 ;;          # RFLAGS.TF
    aarch64*) flagsreg=PSTATE trapmask=0x200000 ;;  # PSTATE.SS (software step)
    *) echo "fault-trials: unknown ARCH '$ARCH'" >&2; exit 2 ;;
esac
target=gdb:127.0.0.1:$GDB_PORT
RANDOM=$seed
work=$(mktemp -d)
pid="" runner="" reader="" proxy=""
# A tool of an interrupted run must not stay attached to the stub (QEMU takes one client).
# The helpers (reader, proxy) get SIGKILL: a parent may hand us SIGTERM blocked (Foundation's
# Process does), and `sleep` would then never end.
cleanup() {
    local p
    for p in $pid $runner; do kill -TERM "$p" 2>/dev/null; done
    for p in $reader $proxy; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

hmp() { /usr/bin/python3 "$here/hmp.py" "$HMP_PORT" 20 "$1"; }
status() { hmp "info status" | tr -d '\n'; }
ticks() { grep -c 'vmi-lab tick' "$state/console.log"; }
# One 8-byte word of guest-virtual memory through HMP (the current vCPU's page tables).
# (Nothing when QEMU answers "Cannot access memory".)
word() { hmp "x /1gx $1" | awk -F': ' 'NF > 1 { print $2; exit }' | tr -d ' \r' | grep -E '^0x[0-9a-f]+$'; }
bytes8() { hmp "x /8bx $1" | awk -F': ' 'NF > 1 { print $2; exit }' | sed 's/0x//g' | tr -d ' \r' | grep -E '^[0-9a-f]{16}$'; }
flags() { hmp "info registers" | sed -n "s/.*$flagsreg=\([0-9a-f]*\).*/\1/p" | head -n 1; }
pc() { hmp "info registers" | sed -n 's/^ *\(RIP\|PC\)=\([0-9a-f]*\).*/\2/p' | head -n 1; }
# A virtual read can miss by chance: an AArch64 kernel with KPTI has no kernel mapping while
# the vCPU is at EL0. Another try stops it elsewhere.
retry() {
    local out i
    for i in 1 2 3 4 5; do
        out=$("$@") && [ -n "$out" ] && { echo "$out"; return 0; }
        sleep 0.2
    done
    return 1
}
# Eight bytes through a fresh gdb connection: vmi-step's console writes JSON when stdout is a pipe.
gdb_bytes() {
    printf 'mem %s 8\nquit\n' "$1" | timeout 30 "$bin/vmi-step" "$target" -i 2>"$work/fresh.err" |
        /usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r.get("type") == "mem": print(r.get("bytes") or r.get("data") or r); break'
}

jiffies=$(sed -n 's/^vmi-lab sym jiffies_64 \(0x[0-9a-f]*\) .*/\1/p' "$state/console.log" | head -n 1)
if [ -n "$jiffies" ]; then
    # The code that writes jiffies_64 (do_timer under tick handling): runs every timer tick.
    writer=$(timeout 60 "$bin/vmi-watch" "$target" --event "mem:w@va:$jiffies+8" --count 1 --timeout 30s |
        sed -n 's/.*"\(rip\|pc\)":"\(0x[0-9a-f]*\)".*/\2/p')
    settle=1.5
    progress() { word "$jiffies"; }
    loads=(bp hb wwatch rwatch step stepuntil)
else
    # AArch64: "current EL with SPx, IRQ" (Arm ARM D1.10.2) of the EL the kernel runs at.
    writer=$(timeout 60 "$bin/vmi-regs" "$target" --vcpu 0 | /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin); el = (int(r["pstate"], 16) >> 2) & 3
print(hex(int(r["vbar_el2" if el == 2 else "vbar_el1"], 16) + 0x280))')
    settle=3.5
    progress() { ticks; }
    loads=(bp hb step stepuntil)
fi
[ -n "$writer" ] || { echo "fault-trials: no hot spot found (jiffies_64 writer or IRQ vector)" >&2; exit 1; }
orig_hmp=$(retry bytes8 "$writer")
orig_gdb=$(retry gdb_bytes "$writer")
echo "fault-trials: $target ($ARCH) jiffies_64=${jiffies:-none} hot spot=$writer bytes(hmp)=$orig_hmp bytes(gdb)=$orig_gdb seed=$seed"
[ -n "$orig_hmp" ] || { echo "fault-trials: cannot read $writer through the HMP monitor" >&2; exit 1; }
[ -n "$orig_gdb" ] || { echo "fault-trials: cannot read $writer through vmi-step -i: $(cat "$work/fresh.err")" >&2; exit 1; }

# A script's background jobs start with SIGINT ignored, and the tools keep an inherited
# ignore (see Signals.swift); give them SIGINT back, as a terminal's ^C finds it, and SIGHUP,
# which nohup(1) or a detached shell running these trials would have them ignore.
launch=(env --default-signal=INT,HUP)
paths=(SIGINT SIGTERM SIGHUP head timeout count SIGKILL stall cut)
declare -A pass fail
failures=()

load_args() { # load -> tool and arguments
    case $1 in
        bp) echo "vmi-watch --event breakpoint@$writer" ;;
        hb) echo "vmi-watch --event hbreak@$writer" ;;
        wwatch) echo "vmi-watch --event mem:w@va:$jiffies+8" ;;
        rwatch) echo "vmi-watch --event mem:r@va:$jiffies+8" ;;
        step) echo "vmi-step" ;;
        stepuntil) echo "vmi-step --until $writer" ;;
    esac
}

for ((i = 1; i <= trials; i++)); do
    load=${loads[RANDOM % ${#loads[@]}]}
    path=${paths[RANDOM % ${#paths[@]}]}
    [ $cycle = 1 ] && path=${paths[(i - 1) % ${#paths[@]}]}
    [ -n "$only" ] && path=$only
    # A moment from 0 to 3 s after start: some land in the attach, most in the event stream.
    delay=$(printf '0.%03d' $((RANDOM % 1000)))
    [ $((RANDOM % 3)) = 0 ] || delay=$((RANDOM % 3)).$((RANDOM % 10))
    read -r -a cmd <<<"$(load_args "$load")"
    tool=${cmd[0]}
    args=("$target" "${cmd[@]:1}")
    expect=0
    case $path in
        timeout) args+=(--timeout "${delay}s") ;;
        count) n=40; [ "$tool" = vmi-step ] && n=3000; args+=(--count $((1 + RANDOM % n))) ;;
        *) args+=(--timeout 120s) ;;
    esac
    case $path in
        SIGINT) expect=130 ;; SIGTERM | stall) expect=143 ;; SIGHUP) expect=129 ;; SIGKILL) expect=137 ;; cut) expect=1 ;;
    esac
    if [ "$path" = cut ]; then
        rm -f "$work/pport"
        /usr/bin/python3 "$here/cut-proxy.py" "$work/pport" "$GDB_PORT" "$delay" &
        proxy=$!
        for _ in $(seq 100); do [ -s "$work/pport" ] && break; sleep 0.05; done
        args[0]=gdb:127.0.0.1:$(cat "$work/pport")
    fi
    ticks0=$(ticks)
    rm -f "$work/out" "$work/err" "$work/rc"
    t0=$(date +%s.%N)
    if [ "$path" = head ]; then
        k=$((1 + RANDOM % 50))
        (
            "${launch[@]}" "$bin/$tool" "${args[@]}" 2>"$work/err" | head -n "$k" >"$work/out"
            echo "${PIPESTATUS[0]}" >"$work/rc"
        ) &
        runner=$!
        limit=$((SECONDS + 130))
        while kill -0 "$runner" 2>/dev/null && [ $SECONDS -lt $limit ]; do sleep 0.1; done
        kill -9 "$runner" 2>/dev/null
        wait "$runner" 2>/dev/null
        rc=$(cat "$work/rc" 2>/dev/null || echo hang)
        trigger="head -n $k"
    else
        out=$work/out
        if [ "$path" = stall ]; then
            rm -f "$work/fifo" && mkfifo "$work/fifo"
            # The reader shrinks the pipe to one page (F_SETPIPE_SZ), so a few records fill it
            # even when the tick code runs only a few times a second (NO_HZ), then never reads.
            /usr/bin/python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "rb")
try: fcntl.fcntl(f, 1031, 4096)
except OSError: pass
time.sleep(600)' "$work/fifo" &
            reader=$!
            out=$work/fifo
            : >"$work/out"
        fi
        "${launch[@]}" "$bin/$tool" "${args[@]}" >"$out" 2>"$work/err" &
        pid=$!
        case $path in
            SIG*) sleep "$delay"; kill -"${path#SIG}" "$pid" 2>/dev/null ;;
            stall)
                # Long enough to fill the 64 KiB pipe (and vmi-watch's backlog to begin).
                sleep $((2 + ${delay%.*}))
                if [ -n "$jiffies" ]; then
                    js=$(progress); sleep "$settle"; je=$(progress)
                    stalled=$((je - js))
                    note="jiffies during the stall: +$stalled in $settle s"
                else
                    # The IRQ-vector load stops the guest's clock at every hit (ticks stall even
                    # with a fast reader): a guest that moves is one whose pc moves.
                    stalled=$(($(for _ in 1 2 3 4 5; do pc; sleep 0.3; done | sort -u | wc -l) - 1))
                    note="$((stalled + 1)) distinct pcs in 5 samples during the stall"
                fi
                kill -TERM "$pid" 2>/dev/null
                ;;
        esac
        # Bounded: a tool still alive 30 s after its end was asked for is a hang (then killed).
        wait_s=30; [ "$path" = count ] && wait_s=130
        limit=$((SECONDS + wait_s + ${delay%.*}))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $limit ]; do sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid"
            { wait "$pid"; } 2>/dev/null
            rc=hang
        else
            { wait "$pid"; } 2>/dev/null
            rc=$?
        fi
        if [ "$path" = stall ]; then kill -KILL "$reader" 2>/dev/null; { wait "$reader"; } 2>/dev/null; fi
        if [ "$path" = cut ]; then kill -KILL "$proxy" 2>/dev/null; { wait "$proxy"; } 2>/dev/null; fi
        trigger="$path after ${delay}s"
        [ "$path" = stall ] && trigger="stall, TERM after $((3 + ${delay%.*}))s"
        [ "$path" = cut ] && trigger="cut after ${delay}s"
        [ "$path" = count ] && trigger="${args[*]: -2}"
        [ "$path" = timeout ] && trigger="--timeout ${delay}s"
    fi
    took=$(echo "$(date +%s.%N) - $t0" | bc)
    records=$(wc -l <"$work/out")
    problems=()
    [ "$rc" = "$expect" ] || problems+=("exit $rc, expected $expect")
    if [ "$path" = cut ]; then
        # One line naming the tool and the target, whatever the moment of the cut.
        [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^$tool: ${args[0]}: " "$work/err" ||
            problems+=("stderr: $(head -c 300 "$work/err" | tr '\n' '|')")
        note="$(cat "$work/err")"
    elif [ "$path" != SIGKILL ] && [ -s "$work/err" ]; then
        problems+=("stderr: $(head -c 200 "$work/err" | tr '\n' ' ')")
    fi
    # Every stdout line is a whole JSON record (earlier records flushed, none cut).
    if [ -s "$work/out" ] && ! /usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$work/out" 2>/dev/null; then problems+=("stdout holds a broken line"); fi
    [ "$path" = stall ] || [ "$path" = cut ] || note=""
    if [ "$path" = stall ] && [ "$tool" = vmi-watch ] && [ "$stalled" -le 0 ]; then
        problems+=("the guest made no progress while stdout was stalled")
    fi
    s1=$(status)
    j1=$(progress)
    sleep "$settle"
    s2=$(status)
    j2=$(progress)
    if [ "$path" = SIGKILL ] || [ "$path" = cut ]; then
        note="${note:+$note; }left: '${s1#VM status: }', $settle s later '${s2#VM status: }'"
        gb=$(retry gdb_bytes "$writer")  # the next client: attach, read, detach (removes stale points)
        [ "$gb" = "$orig_gdb" ] || problems+=("gdb bytes $gb != $orig_gdb")
        s1=$(status)
        j1=$(progress)
        sleep "$settle"
        s2=$(status)
        j2=$(progress)
    fi
    [[ $s1 == *"VM status: running"* ]] || problems+=("status '$s1'")
    [[ $s2 == *"VM status: running"* ]] || problems+=("$settle s later: '$s2' (a breakpoint or watchpoint left?)")
    [ -n "$j1" ] && [ -n "$j2" ] && [ $((j2)) -gt $((j1)) ] || problems+=("no progress ($j1 -> $j2 in $settle s)")
    rf=$(flags)
    [ -n "$rf" ] && [ $((0x$rf & trapmask)) = 0 ] || problems+=("$flagsreg=$rf: trace bit set")
    hb=$(retry bytes8 "$writer")
    [ "$hb" = "$orig_hmp" ] || problems+=("bytes at $writer $hb != $orig_hmp")
    t1=$(date +%s.%N)
    gb=$(retry gdb_bytes "$writer")
    attach=$(echo "$(date +%s.%N) - $t1" | bc)
    [ "$gb" = "$orig_gdb" ] || problems+=("fresh gdb read: '$gb' ($(head -c 200 "$work/fresh.err"))")
    [[ $(status) == *"VM status: running"* ]] || problems+=("not running after the fresh connection")
    # The console ticks once a second; allow a loaded host a few seconds.
    for _ in 1 2 3 4 5 6; do [ "$(ticks)" -gt "$ticks0" ] && break; sleep 1; done
    [ "$(ticks)" -gt "$ticks0" ] || problems+=("no console tick since the trial began")
    key="$path/${tool}"
    if [ ${#problems[@]} = 0 ]; then
        pass[$key]=$((${pass[$key]:-0} + 1))
        result=ok
    else
        fail[$key]=$((${fail[$key]:-0} + 1))
        result="FAIL: ${problems[*]}"
        failures+=("trial $i ($load, $trigger): ${problems[*]}")
    fi
    printf 'trial %3d %-9s %-22s exit %-4s %5d records %6.2fs  fresh attach %5.2fs  %s%s\n' \
        "$i" "$load" "$trigger" "$rc" "$records" "$took" "$attach" "$result" "${note:+  [$note]}"
done

echo
printf '%-10s %-14s %-14s\n' "end" "vmi-watch" "vmi-step"
for p in "${paths[@]}"; do
    row=()
    for t in vmi-watch vmi-step; do row+=("${pass[$p/$t]:-0} ok, ${fail[$p/$t]:-0} fail"); done
    printf '%-10s %-14s %-14s\n' "$p" "${row[0]}" "${row[1]}"
done
if [ ${#failures[@]} -gt 0 ]; then
    printf '%s\n' "${failures[@]}"
    exit 1
fi
echo "fault-trials: $trials trials, all clean"
