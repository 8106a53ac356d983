/// How a vCPU translates virtual addresses: the inputs of a page-table walk.
public enum PagingMode: Equatable, Sendable {
    /// Paging off (x86 CR0.PG clear, AArch64 SCTLR_EL1.M clear): virtual = physical.
    case identity
    /// x86-64 IA-32e paging, 4-level (PML4) or 5-level (PML5, CR4.LA57). `root` is CR3's table
    /// address (bits 51:12; the PCID and flag bits are dropped).
    case x86_64(root: UInt64, levels: Int)
    /// AArch64 stage 1, EL1&0 regime, 4 KiB granule: TTBR0_EL1 (VA top bit clear) and TTBR1_EL1
    /// (VA top bit set) roots, with the region sizes from TCR_EL1.T0SZ/T1SZ (VA bits = 64 - TnSZ).
    case aarch64(ttbr0: UInt64?, ttbr1: UInt64?, t0sz: Int, t1sz: Int)

    /// CR3 bits 51:12 (Intel SDM vol. 3A, 4.5: "Use of CR3 with 4-level paging").
    static let x86TableMask: UInt64 = 0x000f_ffff_ffff_f000

    /// The x86-64 mode of a vCPU from its control registers: CR0.PG (bit 31), CR4.PAE (bit 5),
    /// CR4.LA57 (bit 12), and long mode from EFER.LMA (bit 10) when the source has EFER, else from
    /// `longMode` (what the dump's format says, e.g. an EM_X86_64 QEMU dump is written in IA-32e mode).
    public static func x86(_ regs: RegisterSet, longMode: Bool) throws -> PagingMode {
        guard let cr0 = regs["cr0"], let cr3 = regs["cr3"], let cr4 = regs["cr4"] else {
            throw VMIError("vcpu \(regs.vcpu) has no cr0/cr3/cr4: cannot translate virtual addresses")
        }
        if cr0 & (1 << 31) == 0 { return .identity }
        let lma = regs["efer"].map { $0 & (1 << 10) != 0 } ?? longMode
        guard lma, cr4 & (1 << 5) != 0 else {
            throw VMIError("vcpu \(regs.vcpu) uses 32-bit paging (cr0 \(hex(cr0)), cr4 \(hex(cr4))): not supported")
        }
        return .x86_64(root: cr3 & x86TableMask, levels: cr4 & (1 << 12) != 0 ? 5 : 4)
    }

    /// The AArch64 mode from system registers when the source has them (`ttbr0_el1`, `ttbr1_el1`,
    /// `tcr_el1`, `sctlr_el1`); nil when it has no TTBR at all.
    public static func aarch64(_ regs: RegisterSet) throws -> PagingMode? {
        if let sctlr = regs["sctlr_el1"], sctlr & 1 == 0 { return .identity }
        guard regs["ttbr0_el1"] != nil || regs["ttbr1_el1"] != nil else { return nil }
        let tcr = regs["tcr_el1"]
        return try aarch64(ttbr0: regs["ttbr0_el1"], ttbr1: regs["ttbr1_el1"], tcr: tcr)
    }

    /// AArch64 mode from TTBRs and TCR_EL1 (T0SZ 5:0, TG0 15:14, T1SZ 21:16, TG1 31:30; Arm ARM
    /// D17.2.139). Without TCR the VA size is taken as 48 bits, Linux's default.
    public static func aarch64(ttbr0: UInt64?, ttbr1: UInt64?, tcr: UInt64?) throws -> PagingMode {
        guard let tcr else { return .aarch64(ttbr0: ttbr0, ttbr1: ttbr1, t0sz: 16, t1sz: 16) }
        let tg0 = (tcr >> 14) & 3
        let tg1 = (tcr >> 30) & 3
        // TG0 0b00 = 4 KiB; TG1 0b10 = 4 KiB (the two fields encode granules differently).
        guard tg0 == 0, tg1 == 2 else {
            throw VMIError("tcr_el1 \(hex(tcr)) selects a 16 or 64 KiB granule: only 4 KiB is supported")
        }
        return .aarch64(ttbr0: ttbr0, ttbr1: ttbr1, t0sz: Int(tcr & 0x3f), t1sz: Int((tcr >> 16) & 0x3f))
    }
}

/// The result of one walk: where a virtual address lives and the size of the page holding it.
public struct Translation: Equatable, Sendable {
    public var physical: UInt64
    public var pageSize: UInt64
}

/// Why a virtual address does not translate. The walk always ends after at most five table reads,
/// so a cyclic or hostile page table ends here, never in a loop.
public struct TranslationFault: Error, Equatable, CustomStringConvertible {
    public var address: UInt64
    public var reason: String

    public var description: String { "virtual address \(hex(address)) does not translate: \(reason)" }
}
