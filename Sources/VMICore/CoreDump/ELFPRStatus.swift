/// The `NT_PRSTATUS` note QEMU's `dump-guest-memory` writes per vCPU: Linux's
/// `struct elf_prstatus` (include/uapi/linux/elfcore.h), pr_reg at offset 112 on 64-bit targets.
///
/// x86_64 pr_reg is `struct user_regs_struct` (arch/x86/include/asm/user_64.h), 27 u64;
/// AArch64 pr_reg is `struct user_pt_regs` (arch/arm64/include/uapi/asm/ptrace.h): x0-x30, sp,
/// pc, pstate. QEMU fills them in target/i386/arch_dump.c and target/arm/arch_dump.c.
enum ELFPRStatus {
    static let NT_PRSTATUS: UInt32 = 1
    static let regOffset = 112

    /// user_regs_struct order.
    static let x86Order = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ]
    /// The order records show (the live drivers' order): pc and stack first, then GPRs, segments.
    static let x86Shown = [
        "rip", "rsp", "rflags", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
        "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
    ]

    static func x86_64(_ desc: ByteView, vcpu: Int) throws -> RegisterSet {
        guard desc.count >= regOffset + x86Order.count * 8 else {
            throw DumpFormatError.corrupt("NT_PRSTATUS note of \(desc.count) bytes is too short for x86_64")
        }
        var raw: [String: UInt64] = [:]
        for (i, name) in x86Order.enumerated() { raw[name] = try desc.u64(regOffset + 8 * i) }
        var regs = RegisterSet(arch: .x86_64, vcpu: vcpu)
        for name in x86Shown { regs[name] = raw[name] }
        return regs
    }

    static func aarch64(_ desc: ByteView, vcpu: Int) throws -> RegisterSet {
        guard desc.count >= regOffset + 34 * 8 else {
            throw DumpFormatError.corrupt("NT_PRSTATUS note of \(desc.count) bytes is too short for AArch64")
        }
        var regs = RegisterSet(arch: .aarch64, vcpu: vcpu)
        for i in 0..<31 { regs["x\(i)"] = try desc.u64(regOffset + 8 * i) }
        regs["sp"] = try desc.u64(regOffset + 31 * 8)
        regs["pc"] = try desc.u64(regOffset + 32 * 8)
        regs["pstate"] = try desc.u64(regOffset + 33 * 8)
        return regs
    }
}
