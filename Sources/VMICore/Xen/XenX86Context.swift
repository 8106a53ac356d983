/// Byte layouts of the two x86_64 register records Xen hands out, decoded without libxen so
/// that dumps (`.xen_prstatus` holds the same `vcpu_guest_context`) can share them.
///
/// Offsets come from /usr/include/xen/arch-x86/xen.h, xen-x86_64.h (`vcpu_guest_context`,
/// `cpu_user_regs`) and xen/arch-x86/hvm/save.h (`struct hvm_hw_cpu`, save code CPU = 2); the
/// unit tests check each one against `offsetof` of the real headers.
public enum XenX86Context {
    /// One register inside a record: little-endian, 2, 4 or 8 bytes wide.
    public struct Field: Equatable, Sendable {
        public var name: String
        public var offset: Int
        public var width: Int

        init(_ name: String, _ offset: Int, _ width: Int = 8) {
            self.name = name
            self.offset = offset
            self.width = width
        }
    }

    /// `sizeof(vcpu_guest_context_x86_64_t)`.
    public static let pvContextSize = 5168
    /// `sizeof(struct hvm_hw_cpu)`.
    public static let hvmCPUSize = 1032
    /// `VGCF_in_kernel` in `vcpu_guest_context.flags` (offset 512): which GS base is live.
    static let vgcfInKernel: UInt64 = 1 << 2

    static let gprOrder = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp"] + (8...15).map { "r\($0)" }

    // cpu_user_regs starts at 520 in vcpu_guest_context: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8
    // rax rcx rdx rsi rdi (u64 each), error_code, entry_vector (u32), rip 648, cs 656 (u16),
    // rflags 664, rsp 672, ss 680, es 688, ds 696, fs 704, gs 712 (u16 + padding).
    static let pvGPR: [String: Int] = [
        "r15": 520, "r14": 528, "r13": 536, "r12": 544, "rbp": 552, "rbx": 560, "r11": 568, "r10": 576,
        "r9": 584, "r8": 592, "rax": 600, "rcx": 608, "rdx": 616, "rsi": 624, "rdi": 632,
    ]

    /// The fields of a PV vCPU context. `inKernel` (VGCF_in_kernel) decides which of
    /// gs_base_kernel (5152) and gs_base_user (5160) is the live GS base; the other is what
    /// SWAPGS would load, the value other sources call kernel_gs_base.
    public static func pvFields(inKernel: Bool) -> [Field] {
        var f = [Field("rip", 648), Field("rsp", 672), Field("rflags", 664)]
        f += gprOrder.map { Field($0, pvGPR[$0]!) }
        // ctrlreg[8] at 4984; cr3 holds a machine frame number << 12 for PV guests.
        f += [0, 2, 3, 4].map { Field("cr\($0)", 4984 + 8 * $0) }
        // debugreg[8] at 5048.
        f += [0, 1, 2, 3, 6, 7].map { Field("dr\($0)", 5048 + 8 * $0) }
        f += [("cs", 656), ("ss", 680), ("ds", 696), ("es", 688), ("fs", 704), ("gs", 712)].map { Field($0, $1, 2) }
        f.append(Field("fs_base", 5144))
        f.append(Field("gs_base", inKernel ? 5152 : 5160))
        f.append(Field("kernel_gs_base", inKernel ? 5160 : 5152))
        return f
    }

    /// The fields of an HVM/PVH CPU save record (`struct hvm_hw_cpu`). The TSC is left out on
    /// purpose: it moves between a read and a write, and writing it back would turn the guest's
    /// clock back.
    public static let hvmFields: [Field] = {
        var f = [Field("rip", 640), Field("rsp", 568), Field("rflags", 648)]
        let gpr: [String: Int] = [
            "rax": 512, "rbx": 520, "rcx": 528, "rdx": 536, "rbp": 544, "rsi": 552, "rdi": 560,
            "r8": 576, "r9": 584, "r10": 592, "r11": 600, "r12": 608, "r13": 616, "r14": 624, "r15": 632,
        ]
        f += gprOrder.map { Field($0, gpr[$0]!) }
        f += [("cr0", 656), ("cr2", 664), ("cr3", 672), ("cr4", 680), ("efer", 992)].map { Field($0, $1) }
        f += [("dr0", 688), ("dr1", 696), ("dr2", 704), ("dr3", 712), ("dr6", 720), ("dr7", 728)].map { Field($0, $1) }
        // Selectors (u32) from 736 in the order cs ds es fs gs ss tr ldtr; bases (u64) from 808
        // in the same order, then idtr_base 872, gdtr_base 880; limits of idtr/gdtr at 800/804.
        let segs = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr"]
        let shown = ["cs", "ss", "ds", "es", "fs", "gs", "tr", "ldtr"]
        f += shown.map { Field($0, 736 + 4 * segs.firstIndex(of: $0)!, 4) }
        f += ["fs", "gs"].map { Field("\($0)_base", 808 + 8 * segs.firstIndex(of: $0)!) }
        f.append(Field("kernel_gs_base", 944))  // shadow_gs: the MSR SWAPGS exchanges with
        f += ["cs", "ss", "ds", "es", "tr", "ldtr"].map { Field("\($0)_base", 808 + 8 * segs.firstIndex(of: $0)!) }
        f += [Field("gdtr_base", 880), Field("gdtr_limit", 804, 4), Field("idtr_base", 872), Field("idtr_limit", 800, 4)]
        f += [("sysenter_cs", 920), ("sysenter_esp", 928), ("sysenter_eip", 936)].map { Field($0, $1) }
        f += [("star", 968), ("lstar", 960), ("cstar", 976), ("sfmask", 984), ("tsc_aux", 1000)].map { Field($0, $1) }
        return f
    }()

    /// `tsc` in `struct hvm_hw_cpu`: the guest TSC when the record was saved.
    static let hvmTSCOffset = 1008

    /// Moves the record's guest TSC forward by `nanoseconds` at `khz` (the HEADER record's
    /// gtsc_khz). Loading a CPU record sets the guest TSC to the saved value: without this the
    /// guest's clock steps back by the time between the save and the load.
    public static func advanceTSC(_ record: inout [UInt8], nanoseconds: UInt64, khz: UInt32) throws {
        guard record.count >= hvmCPUSize else { throw shortRecord("HVM CPU record", record.count, hvmCPUSize) }
        let field = Field("tsc", hvmTSCOffset)
        let cycles = nanoseconds.multipliedFullWidth(by: UInt64(khz))
        let (delta, _) = UInt64(1_000_000).dividingFullWidth((cycles.high, cycles.low))
        try set(&record, [field], [("tsc", read(record, field) &+ delta)])
    }

    // MARK: decoding

    public static func pvRegisters(_ context: [UInt8], vcpu: Int) throws -> RegisterSet {
        guard context.count >= pvContextSize else { throw shortRecord("vcpu_guest_context", context.count, pvContextSize) }
        return registers(context, pvFields(inKernel: pvInKernel(context)), vcpu: vcpu)
    }

    public static func hvmRegisters(_ record: [UInt8], vcpu: Int) throws -> RegisterSet {
        guard record.count >= hvmCPUSize else { throw shortRecord("HVM CPU record", record.count, hvmCPUSize) }
        return registers(record, hvmFields, vcpu: vcpu)
    }

    static func pvInKernel(_ context: [UInt8]) -> Bool { read(context, Field("flags", 512)) & vgcfInKernel != 0 }

    static func registers(_ bytes: [UInt8], _ fields: [Field], vcpu: Int) -> RegisterSet {
        var set = RegisterSet(arch: .x86_64, vcpu: vcpu)
        for field in fields { set[field.name] = read(bytes, field) }
        return set
    }

    // MARK: encoding

    /// Writes `values` into a PV context in place; names must be ones `pvFields` lists.
    public static func setPV(_ context: inout [UInt8], _ values: [(name: String, value: UInt64)]) throws {
        guard context.count >= pvContextSize else { throw shortRecord("vcpu_guest_context", context.count, pvContextSize) }
        try set(&context, pvFields(inKernel: pvInKernel(context)), values)
    }

    /// Writes `values` into an HVM CPU record in place; names must be ones `hvmFields` lists.
    public static func setHVM(_ record: inout [UInt8], _ values: [(name: String, value: UInt64)]) throws {
        guard record.count >= hvmCPUSize else { throw shortRecord("HVM CPU record", record.count, hvmCPUSize) }
        try set(&record, hvmFields, values)
    }

    static func set(_ bytes: inout [UInt8], _ fields: [Field], _ values: [(name: String, value: UInt64)]) throws {
        for (name, value) in values {
            guard let field = fields.first(where: { $0.name == name }) else {
                throw VMIError("register '\(name)' cannot be written on this domain")
            }
            if field.width < 8 && value >> UInt64(field.width * 8) != 0 {
                throw VMIError("value \(hex(value)) does not fit the \(field.width * 8)-bit register '\(name)'")
            }
            for i in 0..<field.width { bytes[field.offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
        }
    }

    static func read(_ bytes: [UInt8], _ field: Field) -> UInt64 {
        var v: UInt64 = 0
        for i in stride(from: field.width - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[field.offset + i]) }
        return v
    }

    static func shortRecord(_ what: String, _ got: Int, _ want: Int) -> VMIError {
        VMIError("\(what) too short: \(got) bytes, expected \(want)")
    }
}
