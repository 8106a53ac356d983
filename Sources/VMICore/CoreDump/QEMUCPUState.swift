/// QEMU's own per-vCPU x86 note (name "QEMU", type 0) in `dump-guest-memory` files: struct
/// QEMUCPUState of target/i386/arch_dump.c, version 1.
///
/// {u32 version, u32 size; u64 rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags; QEMUCPUSegment
/// cs ds es fs gs ss ldt tr gdt idt; u64 cr[5]; u64 kernel_gs_base (newer QEMU, size 0x1b8)}, a
/// segment being {u32 selector, limit, flags, pad; u64 base}. It carries what NT_PRSTATUS lacks:
/// control registers, descriptor tables, the swapped GS base.
enum QEMUCPUState {
    static let minimumSize = 432
    static let segmentsOffset = 152
    static let segmentOrder = ["cs", "ds", "es", "fs", "gs", "ss", "ldt", "tr", "gdt", "idt"]
    static let gprOrder = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp"] + (8...15).map { "r\($0)" }

    struct Segment: Equatable {
        var selector: UInt32
        var limit: UInt32
        var flags: UInt32
        var base: UInt64
    }

    /// Adds what the note holds to `regs` (decoded from NT_PRSTATUS), in the live drivers' order.
    static func merge(_ desc: ByteView, into regs: inout RegisterSet) throws {
        guard desc.count >= 8 else { throw DumpFormatError.corrupt("QEMU note of \(desc.count) bytes") }
        let size = Int(try desc.u32(4))
        guard try desc.u32(0) == 1, size >= minimumSize, size <= desc.count else {
            // An unknown version: keep what NT_PRSTATUS gave rather than guess a layout.
            return
        }
        var out = RegisterSet(arch: .x86_64, vcpu: regs.vcpu)
        out["rip"] = try desc.u64(136)
        out["rsp"] = try desc.u64(8 + 8 * 6)
        out["rflags"] = try desc.u64(144)
        for (i, name) in gprOrder.enumerated() where name != "rsp" { out[name] = try desc.u64(8 + 8 * i) }
        for i in [0, 2, 3, 4] { out["cr\(i)"] = try desc.u64(392 + 8 * i) }
        var seg: [String: Segment] = [:]
        for (i, name) in segmentOrder.enumerated() {
            let o = segmentsOffset + 24 * i
            seg[name] = Segment(
                selector: try desc.u32(o), limit: try desc.u32(o + 4), flags: try desc.u32(o + 8),
                base: try desc.u64(o + 16))
        }
        for name in ["cs", "ss", "ds", "es", "fs", "gs"] { out[name] = UInt64(seg[name]!.selector) }
        out["tr"] = UInt64(seg["tr"]!.selector)
        out["ldtr"] = UInt64(seg["ldt"]!.selector)
        out["fs_base"] = seg["fs"]!.base
        out["gs_base"] = seg["gs"]!.base
        if size >= minimumSize + 8 { out["kernel_gs_base"] = try desc.u64(432) }
        for name in ["cs", "ss", "ds", "es", "tr"] { out["\(name)_base"] = seg[name]!.base }
        out["ldtr_base"] = seg["ldt"]!.base
        out["gdtr_base"] = seg["gdt"]!.base
        out["gdtr_limit"] = UInt64(seg["gdt"]!.limit)
        out["idtr_base"] = seg["idt"]!.base
        out["idtr_limit"] = UInt64(seg["idt"]!.limit)
        regs = out
    }
}
