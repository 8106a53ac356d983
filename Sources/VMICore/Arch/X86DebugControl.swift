/// DR7, the x86 debug control register, for execution breakpoints in DR0-DR3.
///
/// Layout (Intel SDM vol. 3 §18.2.4, AMD APM vol. 2 §13.1.1.5): L*n* = bit 2n, G*n* = bit 2n+1
/// enable slot *n*; R/W*n* = bits 16+4n..17+4n (00 = instruction execution) and LEN*n* = bits
/// 18+4n..19+4n (must be 00 for execution); bit 10 always reads 1.
public enum X86DebugControl {
    public static let slots = 0..<4
    static let reservedOne: UInt64 = 1 << 10

    /// Slot `n` is in use when either of its enable bits is set.
    public static func isEnabled(_ dr7: UInt64, slot n: Int) -> Bool {
        dr7 & (UInt64(0b11) << (2 * n)) != 0
    }

    /// A slot the guest leaves disabled, preferring the highest (guests and debuggers fill DR0
    /// first), or nil when all four are taken.
    public static func freeSlot(_ dr7: UInt64, excluding taken: Set<Int> = []) -> Int? {
        slots.reversed().first { !isEnabled(dr7, slot: $0) && !taken.contains($0) }
    }

    /// `dr7` with slot `n` enabled (local) as an instruction breakpoint; the other slots keep
    /// their bits.
    public static func enablingExecution(_ dr7: UInt64, slot n: Int) -> UInt64 {
        let conditions = UInt64(0b1111) << (16 + 4 * n)
        return (dr7 & ~conditions) | (UInt64(1) << (2 * n)) | reservedOne
    }

    /// `dr7` with slot `n` disabled and its condition bits cleared.
    public static func disabling(_ dr7: UInt64, slot n: Int) -> UInt64 {
        let bits = (UInt64(0b11) << (2 * n)) | (UInt64(0b1111) << (16 + 4 * n))
        return (dr7 & ~bits) | reservedOne
    }
}
