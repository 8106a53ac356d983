#!/usr/bin/env bash
# Makes the QEMU fixtures in Tests/Fixtures/qemu/ from real guests (see that folder's README).
#
#   make-fixtures.sh [x86_64] [aarch64] [aarch64-el2]   default: all three, one boot each
#   make-fixtures.sh bench-stream OUTFILE                512 MiB aarch64-el2 guest, raw stream
#
# Per guest, at one HMP `stop` after the guest has ticked a while:
#   x86_64:      dump-guest-memory ELF + registers + translation ground truth + info tlb/mem
#   aarch64:     the same, plus the migration stream and the GIC MMIO ground truth
#   aarch64-el2: migration stream + GIC MMIO ground truth + registers
# Env: VMI_LAB_CACHE (images), VMI_LAB_FIXTURES_OUT (default Tests/Fixtures/qemu),
#      VMI_LAB_STATE (scratch, default $VMI_LAB_CACHE/state).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
LAB=${VMI_LAB_CACHE:-$repo/.lab}
export VMI_LAB_CACHE=$LAB
OUT=${VMI_LAB_FIXTURES_OUT:-$repo/Tests/Fixtures/qemu}
STATE=${VMI_LAB_STATE:-$LAB/state}
G=$here/guest.sh
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

log() { echo "make-fixtures: $*" >&2; }
die() { log "$*"; exit 1; }

# hmp DIR CMD [FILE]: one HMP command, logged in $transcript; the reply goes to stdout, or to
# FILE (big replies such as info tlb), which the transcript then names instead.
hmp() {
    local reply
    reply=$("$G" hmp "$1" "$2") || die "HMP '$2' failed"
    if [ -n "${3:-}" ]; then
        printf '%s\n' "$reply" > "$3"
        printf '(qemu) %s\n[reply saved as %s]\n' "$2" "$(basename "$3")" >> "$transcript"
    else
        printf '(qemu) %s\n%s\n' "$2" "$reply" >> "$transcript"
        printf '%s\n' "$reply"
    fi
}

# bytes DIR x|xp ADDR: 16 bytes as 32 hex digits, or "-" when QEMU cannot read them.
bytes() {
    local r
    r=$(hmp "$1" "$2 /16xb $3")
    if grep -q 'Cannot access' <<<"$r"; then echo "-"; return; fi
    sed -n 's/^[0-9a-f]*: *//p' <<<"$r" | tr -s ' \n' '\n\n' | sed -n 's/^0x//p' | tr -d '\n'
    echo
}

# reg NAME FILE: a register's value from `info registers` (x86 RIP=..., Arm PC=... / SP_EL1=...).
reg() { grep -o "\b$1=[0-9a-f]*" "$2" | head -n1 | cut -d= -f2; }

# translate DIR ARCH FILE: for each address NAME VA, the gva2gpa result and the bytes read
# both ways. Format (one line each): NAME VA PA X_BYTES XP_BYTES ("-" when unmapped).
translate() {
    local dir=$1 arch=$2 f=$3 regs=$4 name va pa
    {
        echo "# name va pa bytes_via_x bytes_via_xp -- HMP gva2gpa VA, x /16xb VA, xp /16xb PA;"
        echo "# taken at the same stop as the dump (QEMU 7.2, TCG); '-' = unmapped."
    } > "$f"
    local list=()
    if [ "$arch" = x86_64 ]; then
        list+=("rip 0x$(reg RIP "$regs")" "rsp 0x$(reg RSP "$regs")")
        list+=("gs_base 0x$(grep -o '^GS =[0-9a-f]* [0-9a-f]*' "$regs" | awk '{print $3}')")
        list+=("gdt_base 0x$(grep -o '^GDT= *[0-9a-f]*' "$regs" | awk '{print $2}')")
        list+=("direct_map_0x100000 0xffff888000100000")
    else
        list+=("pc 0x$(reg PC "$regs")" "sp 0x$(reg SP "$regs")")
        list+=("linear_map_start 0xffff000000000000" "linear_map_0x100000 0xffff000000100000")
    fi
    # Kernel symbols /init printed from /proc/kallsyms.
    while read -r _ _ name va _; do list+=("$name $va"); done < <(grep -a 'vmi-lab sym ' "$dir/console.log" | tr -d '\r')
    list+=("user_unmapped 0x1000")
    local item
    for item in "${list[@]}"; do
        read -r name va <<<"$item"
        pa=$(hmp "$dir" "gva2gpa $va" | sed -n 's/^gpa: //p')
        if [ -z "$pa" ]; then
            echo "$name $va - - -" >> "$f"
        else
            echo "$name $va $pa $(bytes "$dir" x "$va") $(bytes "$dir" xp "$pa")" >> "$f"
        fi
    done
}

# gic DIR FILE: live GICv3 MMIO reads (registers without read side effects) through HMP xp.
gic() {
    local dir=$1 f=$2 n
    echo "# name paddr value -- HMP xp /1wx (32-bit) or /1gx (64-bit) at the same stop as the stream" > "$f"
    r32() { echo "$1 $(printf '0x%08x' "$2") $(hmp "$dir" "xp /1wx $(printf '0x%x' "$2")" | awk '{print $2}')" >> "$f"; }
    r64() { echo "$1 $(printf '0x%08x' "$2") $(hmp "$dir" "xp /1gx $(printf '0x%x' "$2")" | awk '{print $2}')" >> "$f"; }
    local D=0x08000000 R=0x080A0000 S=$((0x080A0000 + 0x10000))
    r32 gicd_ctlr $D; r32 gicd_typer $((D + 4)); r32 gicd_iidr $((D + 8)); r32 gicd_pidr2 $((D + 0xFFE8))
    local lines
    lines=$(( ($(hmp "$dir" "xp /1wx $((D + 4))" | awk '{print $2}') & 0x1f) + 1 ))
    for n in $(seq 0 $((lines - 1))); do r32 "gicd_igroupr$n" $((D + 0x80 + 4 * n)); done
    for n in $(seq 0 $((lines - 1))); do r32 "gicd_isenabler$n" $((D + 0x100 + 4 * n)); done
    for n in $(seq 0 $((lines - 1))); do r32 "gicd_ispendr$n" $((D + 0x200 + 4 * n)); done
    for n in $(seq 0 $((lines - 1))); do r32 "gicd_isactiver$n" $((D + 0x300 + 4 * n)); done
    for n in $(seq 0 15); do r32 "gicd_ipriorityr$n" $((D + 0x400 + 4 * n)); done
    for n in $(seq 0 $((2 * lines - 1))); do r32 "gicd_icfgr$n" $((D + 0xC00 + 4 * n)); done
    for n in $(seq 0 $((lines - 1))); do r32 "gicd_igrpmodr$n" $((D + 0xD00 + 4 * n)); done
    for n in $(seq 32 63); do r64 "gicd_irouter$n" $((D + 0x6000 + 8 * n)); done
    r32 gicr_ctlr $R; r32 gicr_iidr $((R + 4)); r64 gicr_typer $((R + 8)); r32 gicr_waker $((R + 0x14))
    r32 gicr_pidr2 $((R + 0xFFE8))
    r32 gicr_igroupr0 $((S + 0x80)); r32 gicr_isenabler0 $((S + 0x100)); r32 gicr_ispendr0 $((S + 0x200))
    r32 gicr_isactiver0 $((S + 0x300))
    for n in $(seq 0 7); do r32 "gicr_ipriorityr$n" $((S + 0x400 + 4 * n)); done
    r32 gicr_icfgr0 $((S + 0xC00)); r32 gicr_icfgr1 $((S + 0xC04)); r32 gicr_igrpmodr0 $((S + 0xD00))
}

# migrate DIR FILE: stream of the stopped guest, waits for completion (bounded).
migrate() {
    local dir=$1 file=$2 i st
    rm -f "$file"
    hmp "$dir" "migrate \"exec:cat > $file\"" >/dev/null
    for i in $(seq 1 600); do
        st=$(hmp "$dir" "info migrate" | sed -n 's/^Migration status: //p')
        case $st in
            completed) return 0 ;;
            failed|cancelled) die "migration $st ($dir)" ;;
        esac
        sleep 0.5
    done
    die "migration did not complete in 300 s ($dir)"
}

xzc() { xz -T2 -6 -f "$1" && chmod 644 "$1.xz"; }

one() {
    local arch=$1 dir t0=$SECONDS
    dir=$STATE/fixtures-$arch
    transcript=$OUT/$arch.hmp.log
    mkdir -p "$OUT" "$dir"
    : > "$transcript"
    "$G" stop "$dir" >/dev/null 2>&1 || true
    trap '"$G" stop "'"$dir"'" >/dev/null 2>&1 || true' EXIT
    "$G" start "$arch" "$dir" >&2
    "$G" wait-ready "$dir" >&2
    sleep 3 # a few ticks of the fork loop
    hmp "$dir" stop >/dev/null
    hmp "$dir" "info status" >/dev/null
    hmp "$dir" "info registers" > "$OUT/$arch.info-registers.txt"
    case $arch in
        x86_64|aarch64)
            translate "$dir" "$arch" "$OUT/$arch.translate.txt" "$OUT/$arch.info-registers.txt"
            # info tlb / info mem are x86-only in QEMU 7.2; keep whatever answers.
            local c
            for c in tlb mem; do
                hmp "$dir" "info $c" "$OUT/$arch.info-$c.txt"
                if [ "$(wc -l < "$OUT/$arch.info-$c.txt")" -le 2 ] && grep -qi 'unknown\|not\|invalid' "$OUT/$arch.info-$c.txt"; then
                    # Not available for this target: the reply goes into the transcript instead.
                    sed -i '$d' "$transcript"
                    cat "$OUT/$arch.info-$c.txt" >> "$transcript"
                    rm "$OUT/$arch.info-$c.txt"
                elif [ "$(stat -c %s "$OUT/$arch.info-$c.txt")" -gt 65536 ]; then
                    xzc "$OUT/$arch.info-$c.txt"
                fi
            done
            ;;
    esac
    case $arch in aarch64|aarch64-el2) gic "$dir" "$OUT/$arch.gic-mmio.txt" ;; esac
    case $arch in
        x86_64|aarch64)
            rm -f "$OUT/$arch.dump.elf" "$OUT/$arch.dump.elf.xz"
            VMI_LAB_HMP_TIMEOUT=300 hmp "$dir" "dump-guest-memory $OUT/$arch.dump.elf" >/dev/null
            [ -s "$OUT/$arch.dump.elf" ] || die "no dump written for $arch"
            log "$arch dump: $(stat -c %s "$OUT/$arch.dump.elf") bytes"
            ;;
    esac
    case $arch in
        aarch64|aarch64-el2)
            migrate "$dir" "$OUT/$arch.migration"
            log "$arch stream: $(stat -c %s "$OUT/$arch.migration") bytes"
            ;;
    esac
    hmp "$dir" "info status" >/dev/null
    grep -a -v 'vmi-lab tick' "$dir/console.log" | tr -d '\r' > "$OUT/$arch.console.txt" || true
    "$G" stop "$dir" >&2
    local f
    for f in "$OUT/$arch.dump.elf" "$OUT/$arch.migration"; do
        if [ -f "$f" ]; then xzc "$f"; log "$(basename "$f").xz: $(stat -c %s "$f.xz") bytes"; fi
    done
    if [ -f "$OUT/$arch.dump.elf.xz" ]; then
        "$PY" "$here/check-dump.py" "$OUT/$arch.dump.elf.xz" "$OUT/$arch.translate.txt" >&2 ||
            die "$arch dump disagrees with the HMP reads"
    fi
    log "$arch done in $((SECONDS - t0)) s"
}

bench() {
    local out=$1 dir=$STATE/bench-stream t0=$SECONDS
    transcript=$dir/hmp.log
    mkdir -p "$dir"; : > "$transcript"
    out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
    trap '"$G" stop "'"$dir"'" >/dev/null 2>&1 || true' EXIT
    VMI_LAB_MEM=512 "$G" start aarch64-el2 "$dir" >&2
    "$G" wait-ready "$dir" >&2
    hmp "$dir" stop >/dev/null
    migrate "$dir" "$out"
    "$G" stop "$dir" >&2
    log "bench stream $out: $(stat -c %s "$out") bytes in $((SECONDS - t0)) s"
}

if [ "${1:-}" = bench-stream ]; then
    [ $# -eq 2 ] || die "usage: make-fixtures.sh bench-stream OUTFILE"
    bench "$2"
    exit 0
fi
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64 aarch64-el2)
for a in "${archs[@]}"; do
    case $a in x86_64|aarch64|aarch64-el2) one "$a" ;; *) die "unknown guest '$a'" ;; esac
done
