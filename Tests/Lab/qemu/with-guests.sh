#!/usr/bin/env bash
# Runs CMD... with the three QEMU lab guests up (x86_64, aarch64, aarch64-el2), then stops
# every guest whatever happens. Exports for CMD:
#   VMI_LAB_GDB_<A>=127.0.0.1:PORT  VMI_LAB_HMP_<A>=127.0.0.1:PORT  VMI_LAB_QEMU_STATE_<A>=DIR
# with <A> in X86_64, AARCH64, AARCH64_EL2. Exit status: CMD's, or 1 when a guest failed.
# Env: VMI_LAB_GUESTS (default "x86_64 aarch64 aarch64-el2"), VMI_LAB_STATE (state root,
# default: a fresh folder under $VMI_LAB_CACHE/state, removed afterwards unless VMI_LAB_KEEP=1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export VMI_LAB_CACHE=${VMI_LAB_CACHE:-$repo/.lab}
G=$here/guest.sh
[ $# -gt 0 ] || { echo "usage: with-guests.sh CMD [ARG]..." >&2; exit 2; }

read -r -a guests <<<"${VMI_LAB_GUESTS:-x86_64 aarch64 aarch64-el2}"
mkdir -p "${VMI_LAB_STATE:-$VMI_LAB_CACHE/state}"
root=$(mktemp -d "${VMI_LAB_STATE:-$VMI_LAB_CACHE/state}/with-guests.XXXXXX")

cleanup() {
    local a
    for a in "${guests[@]}"; do "$G" stop "$root/$a" >/dev/null 2>&1 || true; done
    [ "${VMI_LAB_KEEP:-0}" = 1 ] || rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Build images once up front (cached), so parallel starts don't race on the cache.
arches=()
for a in "${guests[@]}"; do arches+=("${a%-el2}"); done
"$here/build-images.sh" $(printf '%s\n' "${arches[@]}" | sort -u)

t0=$SECONDS
for a in "${guests[@]}"; do "$G" start "$a" "$root/$a"; done
# Boot in parallel; each wait is bounded (VMI_LAB_READY_TIMEOUT).
pids=()
for a in "${guests[@]}"; do "$G" wait-ready "$root/$a" & pids+=($!); done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=1; done
[ $bad = 0 ] || { echo "with-guests.sh: a guest did not become ready" >&2; exit 1; }
echo "with-guests.sh: ${#guests[@]} guests ready in $((SECONDS - t0)) s"

for a in "${guests[@]}"; do
    v=$(echo "$a" | tr 'a-z-' 'A-Z_')
    # shellcheck disable=SC1091
    . "$root/$a/env"
    export "VMI_LAB_GDB_$v=127.0.0.1:$GDB_PORT" "VMI_LAB_HMP_$v=127.0.0.1:$HMP_PORT" "VMI_LAB_QEMU_STATE_$v=$root/$a"
done
unset ARCH GDB_PORT HMP_PORT PID
set +e
"$@"
rc=$?
set -e
exit $rc
