/// Finds an AArch64 kernel's translation-table root (what TTBR1_EL1 held) in guest memory, for
/// sources that keep no system registers: QEMU's AArch64 `dump-guest-memory` notes hold x0-x30,
/// sp, pc and pstate only (target/arm/arch_dump.c), and without `-device vmcoreinfo` the dump
/// has no VMCOREINFO to name swapper_pg_dir either.
///
/// A page qualifies when, taken as a 48-bit 4 KiB-granule level-0 table, it translates every
/// probe (the vCPU's kernel pc and sp) to memory the source holds. The kernel image, and with it
/// swapper_pg_dir, sits near the start of RAM, so the scan is short in practice; it is bounded
/// by `maxPages` whatever the dump's size. The answer is a well-supported inference, not a
/// register value: callers say so.
enum AArch64RootScan {
    static let maxPages = 1 << 18  // 1 GiB of 4 KiB pages

    /// `ranges`: guest-physical RAM (start, length); `probes`: kernel (TTBR1-half) addresses.
    static func kernelRoot(
        ranges: [(UInt64, UInt64)], probes: [UInt64], read: (UInt64) throws -> UInt64, holds: (UInt64) -> Bool
    ) -> UInt64? {
        let kernel = probes.filter { $0 & (1 << 55) != 0 }
        guard let first = kernel.first else { return nil }
        let l0Index = (first >> 39) & 0x1ff
        var scanned = 0
        for (start, length) in ranges {
            var page = (start + 0xfff) & ~0xfff
            while page < start &+ length && scanned < maxPages {
                defer {
                    page += 4096
                    scanned += 1
                }
                // Cheap filter first: the probe's level-0 entry must be a table inside RAM.
                guard let d = try? read(page + l0Index * 8), d & 3 == 3, holds(d & AArch64PageWalk.outputMask) else {
                    continue
                }
                let all = kernel.allSatisfy { va in
                    guard
                        let t = try? AArch64PageWalk.translate(
                            va, ttbr0: nil, ttbr1: page, t0sz: 16, t1sz: 16, read: read)
                    else { return false }
                    return holds(t.physical)
                }
                if all { return page }
            }
        }
        return nil
    }
}
