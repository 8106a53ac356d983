#if canImport(CXen)
import CXen

/// The registers a vm_event request carries (`struct vm_event_regs_x86`, filled by Xen's
/// `vm_event_fill_regs` when the event was raised) as a `RegisterSet`, with the names and in
/// the order of `XenX86Context.hvmFields`, so a step record and `vmi-regs` agree. Reading them
/// from the request costs no hypercall, which keeps stepping fast.
enum VMEventRegisters {
    static func registerSet(_ r: vm_event_regs_x86, vcpu: Int) -> RegisterSet {
        var set = RegisterSet(arch: .x86_64, vcpu: vcpu)
        let pairs: [(String, UInt64)] = [
            ("rip", r.rip), ("rsp", r.rsp), ("rflags", r.rflags),
            ("rax", r.rax), ("rbx", r.rbx), ("rcx", r.rcx), ("rdx", r.rdx), ("rsi", r.rsi), ("rdi", r.rdi),
            ("rbp", r.rbp), ("r8", r.r8), ("r9", r.r9), ("r10", r.r10), ("r11", r.r11), ("r12", r.r12),
            ("r13", r.r13), ("r14", r.r14), ("r15", r.r15),
            ("cr0", r.cr0), ("cr2", r.cr2), ("cr3", r.cr3), ("cr4", r.cr4), ("efer", r.msr_efer),
            ("dr6", r.dr6), ("dr7", r.dr7),
            ("cs", UInt64(r.cs_sel)), ("ss", UInt64(r.ss_sel)), ("ds", UInt64(r.ds_sel)), ("es", UInt64(r.es_sel)),
            ("fs", UInt64(r.fs_sel)), ("gs", UInt64(r.gs_sel)),
            ("fs_base", r.fs_base), ("gs_base", r.gs_base), ("kernel_gs_base", r.shadow_gs),
            ("gdtr_base", r.gdtr_base), ("gdtr_limit", UInt64(r.gdtr_limit)),
            ("sysenter_cs", r.sysenter_cs), ("sysenter_esp", r.sysenter_esp), ("sysenter_eip", r.sysenter_eip),
            ("star", r.msr_star), ("lstar", r.msr_lstar),
        ]
        for (name, value) in pairs { set[name] = value }
        return set
    }
}
#endif
