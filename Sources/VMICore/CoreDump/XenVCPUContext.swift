/// Decodes one x86_64 `vcpu_guest_context_t` (5168 bytes) of an `xl dump-core` `.xen_prstatus`
/// section into a `RegisterSet`.
///
/// Offsets from /usr/include/xen/arch-x86/xen.h (struct vcpu_guest_context) and xen-x86_64.h
/// (struct cpu_user_regs), checked with offsetof against libxen-dev 4.17: user_regs at 520,
/// ctrlreg[8] at 4984, debugreg[8] at 5048, fs_base 5144, gs_base_kernel 5152, gs_base_user 5160.
/// Names and order are those of the live Xen driver (Xen/XenX86Context.swift on the xen-live
/// branch), so a domain and its dump print the same keys.
enum XenVCPUContext {
    static let size = 5168
    /// `VGCF_in_kernel` in `flags` (offset 512): whether gs_base_kernel is the live GS base.
    static let inKernelFlag: UInt32 = 1 << 2

    /// (name, offset, width in bytes). Selectors are uint16_t followed by padding.
    static func layout(inKernel: Bool) -> [(String, Int, Int)] {
        [
            ("rip", 648, 8), ("rsp", 672, 8), ("rflags", 664, 8),
            ("rax", 600, 8), ("rbx", 560, 8), ("rcx", 608, 8), ("rdx", 616, 8),
            ("rsi", 624, 8), ("rdi", 632, 8), ("rbp", 552, 8),
            ("r8", 592, 8), ("r9", 584, 8), ("r10", 576, 8), ("r11", 568, 8),
            ("r12", 544, 8), ("r13", 536, 8), ("r14", 528, 8), ("r15", 520, 8),
            // ctrlreg[0, 2, 3, 4]; a PV guest's cr3 holds a machine frame << 12.
            ("cr0", 4984, 8), ("cr2", 5000, 8), ("cr3", 5008, 8), ("cr4", 5016, 8),
            // debugreg[0-3, 6, 7]; dr4/dr5 are aliases.
            ("dr0", 5048, 8), ("dr1", 5056, 8), ("dr2", 5064, 8), ("dr3", 5072, 8), ("dr6", 5096, 8), ("dr7", 5104, 8),
            ("cs", 656, 2), ("ss", 680, 2), ("ds", 696, 2), ("es", 688, 2), ("fs", 704, 2), ("gs", 712, 2),
            ("fs_base", 5144, 8),
            // The live GS base, then the one SWAPGS would load (other sources' kernel_gs_base).
            ("gs_base", inKernel ? 5152 : 5160, 8), ("kernel_gs_base", inKernel ? 5160 : 5152, 8),
        ]
    }

    /// `context` holds one `vcpu_guest_context_t`.
    static func registers(_ context: ByteView, vcpu: Int) throws -> RegisterSet {
        guard context.count >= size else { throw DumpFormatError.corrupt("vCPU context of \(context.count) bytes") }
        let inKernel = try context.u32(512) & inKernelFlag != 0
        var regs = RegisterSet(arch: .x86_64, vcpu: vcpu)
        for (name, offset, width) in layout(inKernel: inKernel) {
            regs[name] = width == 8 ? try context.u64(offset) : UInt64(try context.u16(offset))
        }
        return regs
    }
}
