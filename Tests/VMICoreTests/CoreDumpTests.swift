import Foundation
import Testing

@testable import VMICore

@Suite struct CoreDumpDecoderTests {
    /// A vcpu_guest_context with each register set to a value naming its offset.
    static func xenContext(inKernel: Bool = true) -> [UInt8] {
        var c = [UInt8](repeating: 0, count: XenX86Context.pvContextSize)
        for o in stride(from: 520, to: 720, by: 8) { Synthetic.put(UInt64(0x1000 + o), at: o, in: &c) }
        for o in stride(from: 4984, to: 5168, by: 8) { Synthetic.put(UInt64(0x1000 + o), at: o, in: &c) }
        for o in [656, 680, 688, 696, 704, 712] { Synthetic.put(UInt64(o / 8), at: o, in: &c) }
        Synthetic.put(UInt32(inKernel ? 4 : 0), at: 512, in: &c)
        return c
    }

    @Test func xenContextUsesTheHeaderOffsets() throws {
        let c = Self.xenContext()
        let r = try XenX86Context.pvRegisters(c, vcpu: 1)
        #expect(r.vcpu == 1 && r.arch == .x86_64)
        #expect(r["rip"] == 0x1000 + 648 && r["rsp"] == 0x1000 + 672 && r["rflags"] == 0x1000 + 664)
        #expect(r["rax"] == 0x1000 + 600 && r["r15"] == 0x1000 + 520 && r["rbp"] == 0x1000 + 552)
        #expect(r["cr3"] == 0x1000 + 5008 && r["cr4"] == 0x1000 + 5016 && r["dr7"] == 0x1000 + 5104)
        #expect(r["cs"] == 82 && r["gs"] == 89)
        #expect(r["gs_base"] == 0x1000 + 5152 && r["kernel_gs_base"] == 0x1000 + 5160)
        #expect(Array(r.names.prefix(4)) == ["rip", "rsp", "rflags", "rax"])
        let user = try XenX86Context.pvRegisters(Self.xenContext(inKernel: false), vcpu: 0)
        #expect(user["gs_base"] == 0x1000 + 5160 && user["kernel_gs_base"] == 0x1000 + 5152)
    }

    @Test func prstatusX86AndQEMUNote() throws {
        var pr = [UInt8](repeating: 0, count: 336)
        for i in 0..<27 { Synthetic.put(UInt64(100 + i), at: 112 + 8 * i, in: &pr) }
        var r = try pr.withUnsafeBytes { try ELFPRStatus.x86_64(ByteView($0), vcpu: 0) }
        #expect(r["r15"] == 100 && r["rip"] == 116 && r["rflags"] == 118 && r["gs"] == 126 && r["orig_rax"] == nil)
        var q = [UInt8](repeating: 0, count: 0x1b8)
        Synthetic.put(UInt32(1), at: 0, in: &q)
        Synthetic.put(UInt32(0x1b8), at: 4, in: &q)
        for i in 0..<18 { Synthetic.put(UInt64(200 + i), at: 8 + 8 * i, in: &q) }
        for s in 0..<10 {
            Synthetic.put(UInt32(0x10 + s), at: 152 + 24 * s, in: &q)
            Synthetic.put(UInt32(0xffff), at: 156 + 24 * s, in: &q)
            Synthetic.put(UInt64(0xa000 + s), at: 168 + 24 * s, in: &q)
        }
        for i in 0..<5 { Synthetic.put(UInt64(0xc0 + i), at: 392 + 8 * i, in: &q) }
        Synthetic.put(UInt64(0x6b67), at: 432, in: &q)
        try q.withUnsafeBytes { try QEMUCPUState.merge(ByteView($0), into: &r) }
        #expect(r["rax"] == 200 && r["rsp"] == 206 && r["r15"] == 215 && r["rip"] == 216 && r["rflags"] == 217)
        #expect(r["cr0"] == 0xc0 && r["cr3"] == 0xc3 && r["cr4"] == 0xc4 && r["cr1"] == nil)
        #expect(r["cs"] == 0x10 && r["ss"] == 0x15 && r["fs_base"] == 0xa003 && r["gs_base"] == 0xa004)
        #expect(r["kernel_gs_base"] == 0x6b67 && r["gdtr_base"] == 0xa008 && r["idtr_limit"] == 0xffff)
    }

    @Test func prstatusAArch64() throws {
        var pr = [UInt8](repeating: 0, count: 392)
        for i in 0..<34 { Synthetic.put(UInt64(0x100 + i), at: 112 + 8 * i, in: &pr) }
        let r = try pr.withUnsafeBytes { try ELFPRStatus.aarch64(ByteView($0), vcpu: 2) }
        #expect(r["x0"] == 0x100 && r["x30"] == 0x11e && r["sp"] == 0x11f && r["pc"] == 0x120 && r["pstate"] == 0x121)
        #expect(r.count == 34 && r.pc == 0x120)
    }

    @Test func vmcoreinfoGivesTheKernelRoot() throws {
        let text = Array(
            "OSRELEASE=6.1.0\nSYMBOL(swapper_pg_dir)=ffff800009a5e000\nNUMBER(kimage_voffset)=0xffff7fffc7e00000\nNUMBER(VA_BITS)=48\nNUMBER(TCR_EL1_T1SZ)=16\n"
                .utf8)
        let info = text.withUnsafeBytes { VMCoreInfo(ByteView($0)) }
        #expect(info.aarch64KernelPaging == .aarch64(ttbr0: nil, ttbr1: 0x41c5_e000, t0sz: 16, t1sz: 16))
    }

    @Test func notesRejectRunaways() throws {
        var n = Synthetic.note("CORE", 1, [1, 2, 3, 4])
        Synthetic.put(UInt32(0xffff_fff0), at: 4, in: &n)
        let e = n.withUnsafeBytes { b in
            #expect(throws: DumpFormatError.self) { try ELFNote.parse(ByteView(b), offset: 0, size: UInt64(b.count)) }
        }
        _ = e
    }
}

@Suite struct CoreDumpOpenTests {
    @Test func missingFileSaysSo() throws {
        let e = #expect(throws: VMIError.self) { try openCoreDump(path: "/nonexistent/x.core") }
        #expect(e?.description == "cannot open '/nonexistent/x.core': No such file or directory")
    }

    @Test(arguments: [
        ([UInt8](), "not a dump: empty file"),
        (Array("hello world\n".utf8), "not a dump: no ELF header"),
        (Array("KDUMP   ".utf8) + [UInt8](repeating: 0, count: 100), "not a dump: kdump-compressed"),
        ([0x7f, 0x45, 0x4c, 0x46, 2, 1], "corrupt dump: truncated ELF header"),
    ])
    func nonDumpsAreNamed(bytes: [UInt8], message: String) throws {
        let path = try Synthetic.file(bytes)
        let e = #expect(throws: VMIError.self) { try openCoreDump(path: path) }
        #expect(e?.description.hasPrefix("'\(path)': \(message)") == true, "\(e?.description ?? "")")
    }

    @Test func directoryIsNotADump() throws {
        let e = #expect(throws: VMIError.self) { try openCoreDump(path: "/tmp") }
        #expect(e?.description == "cannot open '/tmp': Is a directory")
    }

    static func page(_ fill: UInt8) -> [UInt8] { [UInt8](repeating: fill, count: 4096) }

    @Test func xenCoreRegistersPhysicalAndPVTranslation() throws {
        // Guest frames 0-4 in machine frames 0x100-0x104; page tables for one kernel address.
        let va: UInt64 = 0xffff_ffff_8100_0000
        var pml4 = Self.page(0)
        var pdpt = Self.page(0)
        var pd = Self.page(0)
        var pt = Self.page(0)
        Synthetic.put(UInt64(0x101000 | 3), at: Int((va >> 39) & 0x1ff) * 8, in: &pml4)
        Synthetic.put(UInt64(0x102000 | 3), at: Int((va >> 30) & 0x1ff) * 8, in: &pdpt)
        Synthetic.put(UInt64(0x103000 | 3), at: Int((va >> 21) & 0x1ff) * 8, in: &pd)
        Synthetic.put(UInt64(0x104000 | 3), at: Int((va >> 12) & 0x1ff) * 8, in: &pt)
        var ctx = CoreDumpDecoderTests.xenContext()
        Synthetic.put(UInt64(0x100000), at: 5008, in: &ctx)
        let bytes = Synthetic.xenCore(
            contexts: [ctx, CoreDumpDecoderTests.xenContext()],
            pages: [(0, 0x100, pml4), (1, 0x101, pdpt), (2, 0x102, pd), (3, 0x103, pt), (4, 0x104, Self.page(0x5a))])
        let driver = try openCoreDump(path: try Synthetic.file(bytes))
        let dump = try #require(driver as? XenDumpCore)
        #expect(dump.layout.isPV && dump.layout.vcpuCount == 2 && dump.layout.xenVersion == "4.17.7")
        #expect(try dump.vcpus() == [0, 1])
        #expect(try dump.registers(vcpu: 0)["cr3"] == 0x100000)
        #expect(throws: VMIError.self) { try dump.registers(vcpu: 2) }
        #expect(try dump.readPhysical(0x4ffe, count: 2) == [0x5a, 0x5a])
        #expect(try dump.readPhysical(0x3ff8, count: 16).suffix(8) == Array(repeating: 0x5a, count: 8))
        #expect(throws: PhysicalMemoryError.self) { try dump.readPhysical(0x5000, count: 1) }
        #expect(dump.sharedInfo?.count == 4096)
        let vm = try dump.virtualMemory(vcpu: 0)
        #expect(try vm.translate(va + 0x10) == 0x4010)
        #expect(try vm.read(va, count: 4) == [0x5a, 0x5a, 0x5a, 0x5a])
        #expect(throws: (any Error).self) { try dump.require(RegisterWriter.self, to: "write registers") }
    }

    /// Auto-translated dumps (HVM/PVH: magic 0xF00FEBEE, `.xen_pfn`) hold guest-physical frames
    /// in their page tables, so the walk needs no frame map.
    @Test func xenHVMCoreUsesGuestFrames() throws {
        let va: UInt64 = 0xffff_ffff_8100_0000
        var pml4 = Self.page(0), pdpt = Self.page(0), pd = Self.page(0)
        Synthetic.put(UInt64(0x11000 | 3), at: Int((va >> 39) & 0x1ff) * 8, in: &pml4)
        Synthetic.put(UInt64(0x12000 | 3), at: Int((va >> 30) & 0x1ff) * 8, in: &pdpt)
        Synthetic.put(UInt64(0x20_0000 | 0x83), at: Int((va >> 21) & 0x1ff) * 8, in: &pd)  // 2 MiB page
        var ctx = CoreDumpDecoderTests.xenContext()
        Synthetic.put(UInt64(0x8005_0033), at: 4984, in: &ctx)
        Synthetic.put(UInt64(0x10000), at: 5008, in: &ctx)
        Synthetic.put(UInt64(0x6f0), at: 5016, in: &ctx)
        let bytes = Synthetic.xenCore(
            contexts: [ctx],
            pages: [(0x10, UInt64.max, pml4), (0x11, UInt64.max, pdpt), (0x12, UInt64.max, pd), (0x234, 0, Self.page(9))],
            pv: false)
        let dump = try #require(try openCoreDump(path: try Synthetic.file(bytes)) as? XenDumpCore)
        #expect(!dump.layout.isPV)
        let vm = try dump.virtualMemory(vcpu: 0)
        #expect(vm.mode == .x86_64(root: 0x10000, levels: 4))
        #expect(try vm.read(va + 0x34_000, count: 2) == [9, 9])
    }

    @Test func qemuCoreRegistersAndMemory() throws {
        var pr = [UInt8](repeating: 0, count: 392)
        for i in 0..<34 { Synthetic.put(UInt64(0x100 + i), at: 112 + 8 * i, in: &pr) }
        let info = Array("SYMBOL(swapper_pg_dir)=ffff800008001000\nNUMBER(kimage_voffset)=0xffff7fffc8000000\n".utf8)
        let bytes = Synthetic.qemuCore(
            machine: 183, notes: [Synthetic.note("CORE", 1, pr), Synthetic.note("VMCOREINFO", 0, info)],
            ram: [(0x4000_0000, Self.page(1) + Self.page(2)), (0x1000_0000, Self.page(3))])
        let dump = try #require(try openCoreDump(path: try Synthetic.file(bytes)) as? QEMUDump)
        #expect(dump.arch == .aarch64 && dump.layout.segments.map(\.paddr) == [0x1000_0000, 0x4000_0000])
        #expect(try dump.registers(vcpu: 0)["pc"] == 0x120)
        #expect(try dump.readPhysical(0x4000_0ffe, count: 4) == [1, 1, 2, 2])
        #expect(throws: PhysicalMemoryError.self) { try dump.readPhysical(0x4000_1fff, count: 2) }
        // TTBR1 from VMCOREINFO: __pa(swapper_pg_dir) = 0x40001000 (bytes 0x02 here: invalid L0 entries).
        let vm = try dump.virtualMemory(vcpu: 0)
        #expect(vm.mode == .aarch64(ttbr0: nil, ttbr1: 0x4000_1000, t0sz: 16, t1sz: 16))
        let e = #expect(throws: TranslationFault.self) { try vm.translate(0xffff_8000_0800_0000) }
        #expect(e?.description.hasSuffix("level 0 descriptor 0x202020202020202 invalid") == true)
    }

    @Test func overlappingSegmentsAreCorrupt() throws {
        var pr = [UInt8](repeating: 0, count: 336)
        pr[0] = 0
        let bytes = Synthetic.qemuCore(
            machine: 62, notes: [Synthetic.note("CORE", 1, pr)], ram: [(0x1000, Self.page(1)), (0x1800, Self.page(2))])
        let e = #expect(throws: VMIError.self) { try openCoreDump(path: try Synthetic.file(bytes)) }
        #expect(e?.description.contains("corrupt dump: PT_LOAD segments overlap at guest-physical 0x1800") == true)
    }

    /// Thousands of PT_NOTE headers naming the same notes must not multiply into millions.
    @Test func repeatedNoteSegmentsAreBounded() throws {
        let notes = (0..<40).map { _ in Synthetic.note("CORE", 1, [UInt8](repeating: 0, count: 336)) }
        var bytes = Synthetic.qemuCore(machine: 62, notes: notes, ram: [(0, Self.page(0))])
        // Repeat the PT_NOTE header: rewrite the header table with 2000 copies appended at the end.
        let noteHeader = Array(bytes[64..<120])
        let loadHeader = Array(bytes[120..<176])
        let table = loadHeader + (0..<2000).flatMap { _ in noteHeader }
        let phoff = bytes.count
        bytes += table
        Synthetic.put(UInt64(phoff), at: 32, in: &bytes)
        Synthetic.put(UInt16(2001), at: 56, in: &bytes)
        let e = #expect(throws: VMIError.self) { try openCoreDump(path: try Synthetic.file(bytes)) }
        #expect(e?.description.hasSuffix("corrupt dump: more than 65536 notes") == true, "\(e?.description ?? "")")
    }

    @Test func unsortedFrameTableStillResolves() throws {
        let bytes = Synthetic.xenCore(
            contexts: [CoreDumpDecoderTests.xenContext()], pages: [(7, 0x200, Self.page(7)), (2, 0x300, Self.page(2))])
        let dump = try #require(try openCoreDump(path: try Synthetic.file(bytes)) as? XenDumpCore)
        #expect(try dump.readPhysical(0x7000, count: 1) == [7])
        #expect(try dump.readPhysical(0x2000, count: 1) == [2])
    }

    @Test func absurdReadsAreRefused() throws {
        let bytes = Synthetic.xenCore(contexts: [CoreDumpDecoderTests.xenContext()], pages: [(0, 1, Self.page(0))])
        let dump = try #require(try openCoreDump(path: try Synthetic.file(bytes)) as? XenDumpCore)
        #expect(throws: VMIError.self) { try dump.readPhysical(0, count: Int.max) }
        #expect(throws: VMIError.self) { try dump.readPhysical(UInt64.max - 1, count: 8) }
        #expect(throws: VMIError.self) { try dump.readPhysical(0, count: -1) }
    }
}
