/// Instructions a TF single-step must not run with TF set on AMD Xen (notes/amd-single-step.md):
/// Xen completes them itself after an intercept (svm.c `__update_guest_eip`) and, seeing TF,
/// injects #DB **into the guest** instead of raising a monitor event. The stepper runs such an
/// instruction with TF clear and stops after it on a temporary breakpoint.
///
/// Pure decoding of the first bytes at rip: legacy and REX prefixes, then the opcode.
/// Intel SDM vol. 2 opcode maps; AMD APM vol. 3 (VMMCALL 0f 01 d9, MONITORX/MWAITX).
public enum TrapFlagHazard: Equatable, Sendable {
    /// CPUID: the stepper keeps a sync CPUID monitor and completes it itself.
    case cpuid
    /// Another intercepted instruction of `length` bytes.
    case completedByXen(length: Int)

    /// Legacy and REX prefix bytes before the opcode.
    public static func prefixLength(_ bytes: [UInt8]) -> Int {
        var i = 0
        while i < min(bytes.count, 14) {
            let b = bytes[i]
            let legacy: Set<UInt8> = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65]
            if legacy.contains(b) || (0x40...0x4f).contains(b) {
                i += 1
                continue
            }
            break
        }
        return i
    }

    /// The instruction's length when it is one Xen completes itself (CPUID included), else nil.
    public static func length(_ bytes: [UInt8]) -> Int? {
        switch classify(bytes) {
        case .completedByXen(let n)?: return n
        case .cpuid?: return prefixLength(bytes) + 2
        case nil: return nil
        }
    }

    public static func classify(_ bytes: [UInt8]) -> TrapFlagHazard? {
        let i = prefixLength(bytes)
        guard i < bytes.count else { return nil }
        let op = bytes[i]
        func at(_ k: Int) -> UInt8? { i + k < bytes.count ? bytes[i + k] : nil }
        switch op {
        case 0xfb:
            // STI: the trap is held back until after the next instruction (interrupt shadow),
            // so `sti; hlt` (Linux's safe_halt) runs the HLT with TF set: treat both as one.
            if case .completedByXen(let n)? = classify(Array(bytes[(i + 1)...])) {
                return .completedByXen(length: i + 1 + n)
            }
            return nil
        case 0xf4: return .completedByXen(length: i + 1)  // HLT
        case 0xe4...0xe7: return .completedByXen(length: i + 2)  // IN/OUT imm8
        case 0xec...0xef, 0x6c...0x6f: return .completedByXen(length: i + 1)  // IN/OUT dx, INS/OUTS
        case 0x0f:
            guard let op2 = at(1) else { return nil }
            switch op2 {
            case 0xa2: return .cpuid
            case 0x30, 0x31, 0x32, 0x33, 0x08, 0x09: return .completedByXen(length: i + 2)  // WRMSR RDTSC RDMSR RDPMC INVD WBINVD
            case 0x20...0x23:
                // MOV to/from CR and DR: always the register form (ModRM mod = 11).
                return .completedByXen(length: i + 3)
            case 0x01:
                guard let modrm = at(2) else { return nil }
                // VMMCALL, XSETBV, MONITOR, MWAIT, RDTSCP, MONITORX, MWAITX
                if [0xd9, 0xd1, 0xc8, 0xc9, 0xf9, 0xfa, 0xfb].contains(modrm) { return .completedByXen(length: i + 3) }
                return nil
            default: return nil
            }
        default: return nil
        }
    }
}
