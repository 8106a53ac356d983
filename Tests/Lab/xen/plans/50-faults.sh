#!/bin/sh
# lab-timeout: 1200
# Guest safety under faults: vmi-watch and vmi-step on the PVH guest, ended at random moments
# under load by SIGINT, SIGTERM, SIGHUP, a closed stdout, --timeout and kill -9. After each
# trial: the guest ticks, is not paused, TF and our debug-register slots are clear, and a fresh
# listener attaches (after kill -9 only with --force, which must reclaim the ring). Last, the
# domain is destroyed under a running vmi-watch: one clear line, exit 1.
# Env: PV_NAME PVH_NAME PV_DOMID PVH_DOMID OUT [FAULT_TRIALS]. Results: trials.txt (one line a
# trial: n tool how delay exit verdict), "check NAME: ok|why" lines; exit 0 when all held.
. "$LAB_LIB"
TRIALS=${FAULT_TRIALS:-24}
# A small pseudo-random source without $RANDOM (busybox sh has it, but make it explicit).
seed=$(( $(date +%s) % 65536 ))
rnd() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); echo $(( seed / 65536 % $1 )); }

# Verdict of the guest after a trial: "ok" or what is wrong. After kill -9, first the same
# tool with --force must reclaim the ring and undo what the killed one left (its ledger).
verdict() {
    why=
    if [ -n "$1" ]; then
        case $tool in
            vmi-step) timeout 30 vmi-step "$D" --count 1 --force >/dev/null 2>"$OUT/reclaim.err" ;;
            *) timeout 30 vmi-watch "$D" --event cr3 --count 1 --force >/dev/null 2>"$OUT/reclaim.err" ;;
        esac || why="$why reclaim($(head -n 1 "$OUT/reclaim.err"))"
    fi
    state=$(xl list "$D" 2>/dev/null | awk 'NR == 2 { print $5 }')
    case "$state" in *p*) why="$why paused($state)" ;; esac
    a=$(ticks); sleep 3; b=$(ticks)
    [ "$b" -gt "$a" ] || why="$why no-tick"
    regs=$(vmi-regs "$D" 2>&1)
    f=$(echo "$regs" | sed -n 's/.*"rflags":"0x\([0-9a-f]*\)".*/\1/p')
    d7=$(echo "$regs" | sed -n 's/.*"dr7":"0x\([0-9a-f]*\)".*/\1/p')
    [ -n "$f" ] && [ $((0x$f & 0x100)) -eq 0 ] || why="$why tf(0x$f)"
    [ -n "$d7" ] && [ $((0x$d7 & 0xff)) -eq 0 ] || why="$why dr7(0x$d7)"
    if ! timeout 30 vmi-watch "$D" --event cr3 --count 1 >/dev/null 2>"$OUT/free.err"; then
        why="$why monitor($(head -n 1 "$OUT/free.err"))"
    fi
    echo "${why:-ok}"
}

fn=$(awk '$3 == "hrtimer_nanosleep" { print $1 }' /proc/kallsyms)
: >"$OUT/trials.txt"
n=0
while [ $n -lt "$TRIALS" ]; do
    n=$((n + 1))
    # Every way to end for each tool in turn (24 trials: each pair twice); the moment is random.
    case $(( (n - 1) / 6 % 2 )) in
        0) tool=vmi-watch; args="$D --event cr3 --event cpuid --event hbreak@0x$fn" ;;
        1) tool=vmi-step; args="$D --count 100000000" ;;
    esac
    how=$(( (n - 1) % 6 ))
    delay=$(( $(rnd 30) + 5 ))  # tenths of a second
    d=$(awk -v t=$delay 'BEGIN { printf "%.1f", t / 10 }')
    force=
    case $how in
        0|1|2)
            # In the foreground through timeout(1): a script's background job ignores SIGINT.
            sig=$(echo INT TERM HUP | cut -d' ' -f$((how + 1)))
            timeout -s KILL 60 timeout -s $sig "$d" $tool $args >/dev/null 2>"$OUT/trial.err"
            rc=$?; what=SIG$sig ;;
        3)
            ( $tool $args 2>"$OUT/trial.err"; echo $? >"$OUT/trial.rc" ) | head -n $(( $(rnd 50) + 1 )) >/dev/null
            rc=$(cat "$OUT/trial.rc"); what=head ;;
        4)
            $tool $args --timeout "${d}s" >/dev/null 2>"$OUT/trial.err"; rc=$?; what=timeout ;;
        5)
            $tool $args >/dev/null 2>"$OUT/trial.err" &
            p=$!; sleep "$d"; kill -KILL $p; wait $p 2>/dev/null; rc=$?; what=KILL; force=--force ;;
    esac
    v=$(verdict "$force")
    echo "$n $tool $what ${d}s exit=$rc $v" | tee -a "$OUT/trials.txt"
    [ "$v" = ok ] || check "trial-$n" "$tool $what: $v; $(head -c 200 "$OUT/trial.err")"
done
for how in SIGINT SIGTERM SIGHUP head timeout KILL; do
    echo "$how: $(grep -c " $how .* ok$" "$OUT/trials.txt") ok of $(grep -c " $how " "$OUT/trials.txt")"
done | tee "$OUT/trials-summary.txt"
bad=$(grep -vc ' ok$' "$OUT/trials.txt")
if [ "$bad" -eq 0 ]; then check trials ok; else check trials "$bad of $TRIALS trials left the guest unclean"; fi

# The domain vanishes under a running listener.
vmi-watch "$D" --event cr3 >"$OUT/vanish.json" 2>"$OUT/vanish.err" &
p=$!
sleep 3
xl destroy "$D"
read -r t0 _ </proc/uptime
( sleep 30; kill -KILL $p 2>/dev/null ) &
g=$!
wait $p
echo $? >"$OUT/vanish.exit"
kill $g 2>/dev/null
read -r t1 _ </proc/uptime
echo "vanish: exit $(cat "$OUT/vanish.exit") $(awk "BEGIN{print $t1 - $t0}") s after xl destroy, $(wc -l <"$OUT/vanish.json") records; $(cat "$OUT/vanish.err")"
vmi-regs "$D" >/dev/null 2>"$OUT/gone-regs.err"; echo $? >"$OUT/gone-regs.exit"
vmi-evtchn "$D" >/dev/null 2>"$OUT/gone-evtchn.err"; echo $? >"$OUT/gone-evtchn.exit"
echo "after destroy: vmi-regs exit $(cat "$OUT/gone-regs.exit"): $(cat "$OUT/gone-regs.err")"
exit $status
