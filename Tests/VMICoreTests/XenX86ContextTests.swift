#if canImport(CXen)
import CXen
#endif
import Testing
@testable import VMICore

/// The byte offsets XenX86Context decodes, checked against the real libxen headers: each field
/// is set through the C struct with a distinct value, the bytes decoded, the values compared.
@Suite struct XenX86ContextTests {
    #if canImport(CXen)
    @Test func pvContextMatchesTheHeader() throws {
        var ctx = vcpu_guest_context_x86_64_t()
        var expected: [String: UInt64] = [:]
        func v(_ name: String, _ value: UInt64) -> UInt64 { expected[name] = value; return value }
        ctx.user_regs.rip = v("rip", 0xffff_ffff_8100_0001)
        ctx.user_regs.rsp = v("rsp", 0xffff_c900_0000_0002)
        ctx.user_regs.rflags = v("rflags", 0x246)
        ctx.user_regs.rax = v("rax", 0x1000_0000_0000_00a0)
        ctx.user_regs.rbx = v("rbx", 0x1000_0000_0000_00b0)
        ctx.user_regs.rcx = v("rcx", 0x1000_0000_0000_00c0)
        ctx.user_regs.rdx = v("rdx", 0x1000_0000_0000_00d0)
        ctx.user_regs.rsi = v("rsi", 0x1000_0000_0000_00e0)
        ctx.user_regs.rdi = v("rdi", 0x1000_0000_0000_00f0)
        ctx.user_regs.rbp = v("rbp", 0x1000_0000_0000_0100)
        ctx.user_regs.r8 = v("r8", 0x8)
        ctx.user_regs.r9 = v("r9", 0x9)
        ctx.user_regs.r10 = v("r10", 0x10)
        ctx.user_regs.r11 = v("r11", 0x11)
        ctx.user_regs.r12 = v("r12", 0x12)
        ctx.user_regs.r13 = v("r13", 0x13)
        ctx.user_regs.r14 = v("r14", 0x14)
        ctx.user_regs.r15 = v("r15", 0x15)
        ctx.user_regs.cs = UInt16(v("cs", 0xe033))
        ctx.user_regs.ss = UInt16(v("ss", 0xe02b))
        ctx.user_regs.ds = UInt16(v("ds", 0x1))
        ctx.user_regs.es = UInt16(v("es", 0x2))
        ctx.user_regs.fs = UInt16(v("fs", 0x3))
        ctx.user_regs.gs = UInt16(v("gs", 0x4))
        ctx.ctrlreg = (v("cr0", 0x8005_003b), 0, v("cr2", 0x7f00_1234), v("cr3", 0x1234_5000), v("cr4", 0x2660), 0, 0, 0)
        ctx.debugreg = (v("dr0", 0xd0), v("dr1", 0xd1), v("dr2", 0xd2), v("dr3", 0xd3), 0, 0, v("dr6", 0xffff_0ff0), v("dr7", 0x400))
        ctx.fs_base = v("fs_base", 0x7f11_2233_4400)
        ctx.gs_base_kernel = v("gs_base", 0xffff_8880_0f00_0000)  // live in kernel mode
        ctx.gs_base_user = v("kernel_gs_base", 0x7f55_6677_8800)
        ctx.flags = UInt64(VGCF_in_kernel) | UInt64(VGCF_online)
        let bytes = withUnsafeBytes(of: &ctx) { Array($0) }
        #expect(bytes.count == XenX86Context.pvContextSize)
        let regs = try XenX86Context.pvRegisters(bytes, vcpu: 3)
        #expect(regs.vcpu == 3)
        for (name, value) in expected { #expect(regs[name] == value, "\(name)") }
        #expect(Set(regs.names) == Set(expected.keys))

        // In user mode the two GS bases swap roles.
        ctx.flags = UInt64(VGCF_online)
        let user = try XenX86Context.pvRegisters(withUnsafeBytes(of: &ctx) { Array($0) }, vcpu: 0)
        #expect(user["gs_base"] == 0x7f55_6677_8800)
        #expect(user["kernel_gs_base"] == 0xffff_8880_0f00_0000)
    }

    @Test func hvmCPURecordMatchesTheHeader() throws {
        var cpu = hvm_hw_cpu()
        var expected: [String: UInt64] = [:]
        func v(_ name: String, _ value: UInt64) -> UInt64 { expected[name] = value; return value }
        cpu.rip = v("rip", 0xffff_ffff_8100_1000)
        cpu.rsp = v("rsp", 0xffff_c900_0001_0000)
        cpu.rflags = v("rflags", 0x202)
        cpu.rax = v("rax", 0xa); cpu.rbx = v("rbx", 0xb); cpu.rcx = v("rcx", 0xc); cpu.rdx = v("rdx", 0xd)
        cpu.rsi = v("rsi", 0x51); cpu.rdi = v("rdi", 0xd1); cpu.rbp = v("rbp", 0xb9)
        cpu.r8 = v("r8", 8); cpu.r9 = v("r9", 9); cpu.r10 = v("r10", 10); cpu.r11 = v("r11", 11)
        cpu.r12 = v("r12", 12); cpu.r13 = v("r13", 13); cpu.r14 = v("r14", 14); cpu.r15 = v("r15", 15)
        cpu.cr0 = v("cr0", 0x8005_0033); cpu.cr2 = v("cr2", 0x22); cpu.cr3 = v("cr3", 0x10_0000); cpu.cr4 = v("cr4", 0x3506f0)
        cpu.msr_efer = v("efer", 0xd01)
        cpu.dr0 = v("dr0", 0x70); cpu.dr1 = v("dr1", 0x71); cpu.dr2 = v("dr2", 0x72); cpu.dr3 = v("dr3", 0x73)
        cpu.dr6 = v("dr6", 0xffff0ff0); cpu.dr7 = v("dr7", 0x400)
        cpu.cs_sel = UInt32(v("cs", 0x10)); cpu.ss_sel = UInt32(v("ss", 0x18)); cpu.ds_sel = UInt32(v("ds", 0x20))
        cpu.es_sel = UInt32(v("es", 0x28)); cpu.fs_sel = UInt32(v("fs", 0x30)); cpu.gs_sel = UInt32(v("gs", 0x38))
        cpu.tr_sel = UInt32(v("tr", 0x40)); cpu.ldtr_sel = UInt32(v("ldtr", 0x48))
        cpu.fs_base = v("fs_base", 0x7f00_0000_1000); cpu.gs_base = v("gs_base", 0xffff_8880_1f00_0000)
        cpu.shadow_gs = v("kernel_gs_base", 0x7f00_0000_2000)
        cpu.cs_base = v("cs_base", 0x1); cpu.ss_base = v("ss_base", 0x2); cpu.ds_base = v("ds_base", 0x3)
        cpu.es_base = v("es_base", 0x4); cpu.tr_base = v("tr_base", 0xfffffe00_00003000); cpu.ldtr_base = v("ldtr_base", 0x5)
        cpu.gdtr_base = v("gdtr_base", 0xfffffe00_00001000); cpu.gdtr_limit = UInt32(v("gdtr_limit", 0x7f))
        cpu.idtr_base = v("idtr_base", 0xfffffe00_00000000); cpu.idtr_limit = UInt32(v("idtr_limit", 0xfff))
        cpu.sysenter_cs = v("sysenter_cs", 0x10); cpu.sysenter_esp = v("sysenter_esp", 0x2000); cpu.sysenter_eip = v("sysenter_eip", 0x3000)
        cpu.msr_star = v("star", 0x23001000000000); cpu.msr_lstar = v("lstar", 0xffff_ffff_8200_0000)
        cpu.msr_cstar = v("cstar", 0xffff_ffff_8200_1000); cpu.msr_syscall_mask = v("sfmask", 0x47700)
        cpu.msr_tsc_aux = v("tsc_aux", 1)
        cpu.tsc = 0x1234_5678  // deliberately not a register: never written back
        let bytes = withUnsafeBytes(of: &cpu) { Array($0) }
        #expect(bytes.count == XenX86Context.hvmCPUSize)
        let regs = try XenX86Context.hvmRegisters(bytes, vcpu: 1)
        for (name, value) in expected { #expect(regs[name] == value, "\(name)") }
        #expect(Set(regs.names) == Set(expected.keys))
    }
    #endif

    @Test func writesLandWhereReadsLook() throws {
        var pv = [UInt8](repeating: 0, count: XenX86Context.pvContextSize)
        try XenX86Context.setPV(&pv, [("rax", 0x1122_3344_5566_7788), ("cs", 0xe033), ("gs_base", 0x42)])
        let regs = try XenX86Context.pvRegisters(pv, vcpu: 0)
        #expect(regs["rax"] == 0x1122_3344_5566_7788)
        #expect(regs["cs"] == 0xe033)
        #expect(regs["gs_base"] == 0x42)
        var hvm = [UInt8](repeating: 0, count: XenX86Context.hvmCPUSize)
        try XenX86Context.setHVM(&hvm, [("r11", 7), ("efer", 0xd01), ("tr", 0x40)])
        let h = try XenX86Context.hvmRegisters(hvm, vcpu: 0)
        #expect(h["r11"] == 7 && h["efer"] == 0xd01 && h["tr"] == 0x40)
    }

    @Test func tscCarriedForwardAtTheGuestFrequency() throws {
        var cpu = [UInt8](repeating: 0, count: XenX86Context.hvmCPUSize)
        cpu[1008] = 0x10  // tsc = 0x10
        // 2.5 ms at 3,000,000 kHz (3 GHz) = 7,500,000 cycles.
        try XenX86Context.advanceTSC(&cpu, nanoseconds: 2_500_000, khz: 3_000_000)
        let tsc = (0..<8).reduce(UInt64(0)) { $0 | UInt64(cpu[1008 + $1]) << (8 * $1) }
        #expect(tsc == 0x10 + 7_500_000)
        var header = [UInt8](repeating: 0, count: 24)
        header[20] = 0xc0; header[21] = 0xc6; header[22] = 0x2d  // 3,000,000 kHz
        #expect(try HVMSaveImage.guestTSCkHz(header: .init(typecode: 1, instance: 0, payload: header)) == 3_000_000)
        #expect(throws: VMIError("HVM save image: bad HEADER record")) {
            try HVMSaveImage.guestTSCkHz(header: .init(typecode: 2, instance: 0, payload: header))
        }
    }

    @Test func refusesWhatDoesNotFit() {
        var pv = [UInt8](repeating: 0, count: XenX86Context.pvContextSize)
        #expect(throws: VMIError("value 0x10000 does not fit the 16-bit register 'cs'")) {
            try XenX86Context.setPV(&pv, [("cs", 0x10000)])
        }
        #expect(throws: VMIError("register 'tsc' cannot be written on this domain")) {
            var hvm = [UInt8](repeating: 0, count: XenX86Context.hvmCPUSize)
            try XenX86Context.setHVM(&hvm, [("tsc", 1)])
        }
        #expect(throws: VMIError("HVM CPU record too short: 12 bytes, expected 1032")) {
            try XenX86Context.hvmRegisters([UInt8](repeating: 0, count: 12), vcpu: 0)
        }
    }

    @Test func hvmImagesSplitAndBuild() throws {
        let header = HVMSaveImage.Record(typecode: 1, instance: 0, payload: Array(0..<24))
        let cpu = HVMSaveImage.Record(typecode: 2, instance: 1, payload: [UInt8](repeating: 9, count: 1032))
        let image = HVMSaveImage.build([header, cpu])
        #expect(image.count == 8 + 24 + 8 + 1032 + 8)
        #expect(try HVMSaveImage.records(image) == [header, cpu])
        #expect(try HVMSaveImage.find(HVMSaveImage.records(image), typecode: 2, instance: 1) == cpu)
        #expect(throws: VMIError("HVM save image has no record 2 instance 0")) {
            try HVMSaveImage.find(try HVMSaveImage.records(image), typecode: 2, instance: 0)
        }
        // A length that overruns, and a missing END: errors, not crashes.
        var bad = image
        bad[4] = 0xff; bad[5] = 0xff
        #expect(throws: VMIError("HVM save image: record 1/0 overruns the image")) { try HVMSaveImage.records(bad) }
        #expect(throws: VMIError("HVM save image: no END record")) { try HVMSaveImage.records(Array(image.dropLast(8))) }
    }
}
