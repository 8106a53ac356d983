#!/bin/bash
# Builds the libFuzzer targets and runs each for SECONDS (default 60), one summary line per
# target; exit 1 if any target found a crash, leak, timeout or OOM. Findings are kept under
# .build/fuzz/artifacts/<target>/: minimize one with
#   .build/release/<target> -minimize_crash=1 -runs=10000 -exact_artifact_path=regressions/<target>/NAME FILE
# and add it under regressions/<target>/ (replayed by every run, and by a unit test).
#   Tests/Fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# FUZZ_RUNS=N stops a target after N executions (SECONDS is then the cap); FUZZ_NICE=19 runs the
# fuzzers niced. Every run bounds memory: a parser that allocates past FUZZ_MEM_MB (RSS or one
# malloc) is a finding, as is an input that takes FUZZ_TIMEOUT seconds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-60}
shift || true
runs=${FUZZ_RUNS:--1}
mem=${FUZZ_MEM_MB:-256}
per_input=${FUZZ_TIMEOUT:-5}
all=(fuzz-coredump fuzz-migration fuzz-rsp fuzz-stopreply fuzz-targetxml fuzz-console-e fuzz-console-q
     fuzz-kvm-vgic fuzz-pagewalk fuzz-eventwords fuzz-json fuzz-spec fuzz-ndjson)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

max_len() {  # per parser: big enough for the seeds, small enough to keep executions fast
    # (libFuzzer's own default is the largest seed, at least 4096; a text parser's inputs grow
    # to the bound over a long run, and each doubling halves its rate)
    case $1 in
        fuzz-coredump) echo 1100000 ;; fuzz-migration) echo 300000 ;; fuzz-pagewalk) echo 65536 ;;
        fuzz-targetxml) echo 8448 ;; fuzz-rsp|fuzz-ndjson|fuzz-kvm-vgic) echo 8192 ;;
        fuzz-stopreply|fuzz-spec) echo 1024 ;; fuzz-json|fuzz-eventwords) echo 16384 ;; *) echo 4096 ;;
    esac
}

export PATH=/opt/swift/usr/bin:$PATH
# The fuzz package depends on the root by path, and SwiftPM names a path package after its
# directory: a checkout named "fuzz" would clash with Tests/Fuzz, so go through a symlink then.
if [ -z "${VMITOOLS_ROOT:-}" ] && [ "$(basename "$root" | tr A-Z a-z)" = fuzz ]; then
    mkdir -p "$here/.build/root" && ln -sfn "$root" "$here/.build/root/vmitools"
    export VMITOOLS_ROOT="$here/.build/root/vmitools"
fi
swift build -c release --package-path "$here" -Xswiftc -sanitize=fuzzer,address 2>&1 \
    | grep -E "error|Compiling|Build complete" | grep -v "^\[" >&2
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "run.sh: build failed" >&2; exit 2; }
bin=$(swift build -c release --package-path "$here" --show-bin-path)

work="$here/.build/fuzz"
"$here/make-seeds.sh" "$work/seeds" >&2
# ASan's quarantine (freed memory held back, 256 MB by default) counts in the RSS bound: keep it
# small, so the bound measures what the parser holds. No stack trace per malloc (a quarter of the
# time of the allocating targets): a finding still stops the run, and its input replayed with
# ASAN_OPTIONS=malloc_context_size=30 shows where the memory came from.
export ASAN_OPTIONS=${ASAN_OPTIONS:-symbolize=0:detect_leaks=1:quarantine_size_mb=16:malloc_context_size=0}
found=0
for t in "${targets[@]}"; do
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/seeds/$t" "$here/corpus/$t" "$here/regressions/$t"
    log="$work/$t.log"
    touch "$work/$t.start"
    # An outer timeout too: a Swift trap can hang in symbolization after libFuzzer reports it.
    # /usr/bin/time, when there: the CPU seconds the target got (a shared machine gives less than
    # the wall time).
    rm -f "$work/$t.cpu"
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -o "$work/$t.cpu" -f '%U %S')
    "${timer[@]}" timeout -k 10 $((secs + 120)) nice -n "${FUZZ_NICE:-0}" \
        "$bin/$t" -max_total_time="$secs" -runs="$runs" \
        -timeout="$per_input" -rss_limit_mb="$mem" -malloc_limit_mb="$mem" -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" \
        "$work/corpus/$t" "$here/corpus/$t" "$here/regressions/$t" "$work/seeds/$t" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
    wall=$(( $(date +%s) - $(stat -c %Y "$work/$t.start") ))
    cpu=$(awk '/^[0-9.]+ [0-9.]+$/ { printf "%.0f", $1 + $2 }' "$work/$t.cpu" 2>/dev/null)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    count() { find "$work/artifacts/$t" -name "$1-*" -newer "$work/$t.start" | wc -l; }
    c=$(count crash); l=$(count leak); to=$(count timeout); oom=$(count oom)
    status=ok
    if [ "$rc" -ne 0 ] || [ $((c + l + to + oom)) -gt 0 ]; then status="FOUND (rc $rc, log $log)"; found=1; fi
    fmt='%-16s %5ss (cpu %5ss)  execs %9s  execs/s %6s  cov %5s  slowest %ss  '
    printf "$fmt"'crashes %d leaks %d timeouts %d ooms %d  %s\n' \
        "$t" "$wall" "${cpu:-?}" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${slowest:-?}" "$c" "$l" "$to" "$oom" "$status"
done
exit $found
