# What the event plans (30-events, 40-step, 50-faults) share; lab.sh ships it as $LAB_LIB and a
# plan sources it: `. "$LAB_LIB"`. Env: PVH_NAME PVH_DOMID OUT. Sets status, D and LOG; a plan
# exits with $status (0 when every check held).
status=0
D=$PVH_DOMID
LOG=/var/log/xen/console/guest-$PVH_NAME.log

# check NAME ok|WHY: one "check NAME: ..." line on stdout, read by Tests/CLITests.
check() { echo "check $1: $2"; [ "$2" = ok ] || status=1; }
ticks() { grep -c '^tick ' "$LOG"; }

# The guest still runs: new console ticks within 4 s.
alive() {
    a=$(ticks); sleep 4; b=$(ticks)
    if [ "$b" -gt "$a" ]; then check "alive-$1" ok; else check "alive-$1" "no tick in 4 s ($a)"; fi
}

# No monitor is left: a second listener attaches at once.
monitor_free() {
    if timeout 30 vmi-watch "$D" --event cr3 --count 1 >/dev/null 2>"$OUT/free-$1.err"; then
        check "monitor-free-$1" ok
    else
        check "monitor-free-$1" "$(head -n 1 "$OUT/free-$1.err")"
    fi
}

# TF (0x100) clear in rflags, read by vmi-regs with the guest running.
tf_clear() {
    vmi-regs "$D" >"$OUT/regs-$1.json" 2>&1
    f=$(sed -n 's/.*"rflags":"0x\([0-9a-f]*\)".*/\1/p' "$OUT/regs-$1.json")
    if [ -z "$f" ]; then check "tf-clear-$1" "no rflags: $(head -c 200 "$OUT/regs-$1.json")"
    elif [ $((0x$f & 0x100)) -eq 0 ]; then check "tf-clear-$1" ok
    else check "tf-clear-$1" "rflags 0x$f"; fi
}

# started CASE: waits (up to 60 s) for the tool's first record in $OUT/CASE.json, then 1 s more:
# it is attached then, whatever a loaded dom0 made its start cost.
started() {
    i=0
    while [ ! -s "$OUT/$1.json" ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
    sleep 1
}

# signal_case CASE SIGNAL TOOL ARGS...: TOOL sent SIGNAL once it runs (its first record out);
# stdout, stderr and exit status into $OUT/CASE.*. The tool runs in the foreground (a script's
# background job starts with SIGINT ignored, and the tools keep an inherited ignore, as other
# Unix tools do); a watcher in the background sends the signal; a KILL after 60 s is the backstop.
signal_case() {
    c=$1 sig=$2; shift 2
    rm -f "$OUT/$c.pid"; : >"$OUT/$c.json"
    ( started "$c"; [ -s "$OUT/$c.pid" ] && kill -s "$sig" "$(cat "$OUT/$c.pid")" ) &
    w=$!
    timeout -s KILL 60 sh -c 'echo $$ >"$0"; exec "$@"' "$OUT/$c.pid" "$@" >"$OUT/$c.json" 2>"$OUT/$c.err"
    echo $? >"$OUT/$c.exit"
    kill $w 2>/dev/null; wait $w 2>/dev/null
    echo "$c: exit $(cat "$OUT/$c.exit") after SIG$sig, $(wc -l <"$OUT/$c.json") records"
}

# kill9_case CASE TOOL ARGS...: TOOL in the background, killed by SIGKILL once it runs; what it
# printed in $OUT/CASE.json.
kill9_case() {
    c=$1; shift
    : >"$OUT/$c.json"
    "$@" >"$OUT/$c.json" 2>&1 &
    victim=$!
    started "$c"
    kill -KILL $victim; wait $victim 2>/dev/null
}

# The guest's console has no kernel fault line matching REGEX: check guest-faults.
no_guest_faults() {
    grep -E "$1" "$LOG" >"$OUT/guest-faults.txt"
    if [ -s "$OUT/guest-faults.txt" ]; then check guest-faults "$(head -n 1 "$OUT/guest-faults.txt")"; else check guest-faults ok; fi
    dmesg | grep -i -E "segfault|traps:" | tail -n 20 >"$OUT/segfaults.txt"
}
