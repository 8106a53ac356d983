import Testing

@testable import VMICore

@Suite struct X86PageWalkTests {
    /// PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; data page 0x5000.
    static func tables(_ va: UInt64) -> PageMemory {
        let m = PageMemory()
        m.set(0x1000 + ((va >> 39) & 0x1ff) * 8, 0x2000 | 0x3)
        m.set(0x2000 + ((va >> 30) & 0x1ff) * 8, 0x3000 | 0x3)
        m.set(0x3000 + ((va >> 21) & 0x1ff) * 8, 0x4000 | 0x3)
        m.set(0x4000 + ((va >> 12) & 0x1ff) * 8, 0x8000_0000_0000_5000 | 0x3)  // NX set: not an address bit
        m.set(0x5000, 0x1122_3344_5566_7788)
        return m
    }

    @Test func fourLevel4KiBPage() throws {
        let va: UInt64 = 0xffff_ffff_8100_0000
        let vm = VirtualMemory(physical: Self.tables(va), mode: .x86_64(root: 0x1000, levels: 4))
        #expect(try vm.walk(va + 0x10) == Translation(physical: 0x5010, pageSize: 4096))
        #expect(try vm.read(va, count: 8) == Synthetic.le(UInt64(0x1122_3344_5566_7788)))
    }

    @Test func largePages() throws {
        let m = PageMemory()
        let va: UInt64 = 0xffff_8880_0000_0000
        m.set(0x1000 + ((va >> 39) & 0x1ff) * 8, 0x2000 | 0x3)
        m.set(0x2000 + ((va >> 30) & 0x1ff) * 8, 0x4000_0000 | 0x83)  // 1 GiB
        m.set(0x2000 + (((va >> 30) + 1) & 0x1ff) * 8, 0x3000 | 0x3)
        m.set(0x3000, 0x20_0000 | 0x1083)  // 2 MiB with PAT (bit 12) set
        let vm = VirtualMemory(physical: m, mode: .x86_64(root: 0x1000, levels: 4))
        #expect(try vm.walk(va + 0x123456) == Translation(physical: 0x4012_3456, pageSize: 1 << 30))
        #expect(try vm.walk(va + (1 << 30) + 0x1234) == Translation(physical: 0x20_1234, pageSize: 1 << 21))
    }

    @Test func fiveLevelUsesPML5() throws {
        let va: UInt64 = 0xff00_0000_0000_0000
        let m = PageMemory()
        m.set(0x9000 + ((va >> 48) & 0x1ff) * 8, 0x1000 | 0x3)
        let t = Self.tables(va)
        for (k, v) in t.pages { m.pages[k] = v }
        m.set(0x9000 + ((va >> 48) & 0x1ff) * 8, 0x1000 | 0x3)
        let vm = VirtualMemory(physical: m, mode: .x86_64(root: 0x9000, levels: 5))
        #expect(try vm.translate(va) == 0x5000)
        // Not canonical under 4-level paging.
        let vm4 = VirtualMemory(physical: m, mode: .x86_64(root: 0x1000, levels: 4))
        #expect(throws: TranslationFault.self) { try vm4.translate(va) }
    }

    @Test func notPresentAndUnbackedTablesFail() throws {
        let va: UInt64 = 0xffff_ffff_8100_0000
        let m = Self.tables(va)
        let vm = VirtualMemory(physical: m, mode: .x86_64(root: 0x1000, levels: 4))
        let e = #expect(throws: TranslationFault.self) { try vm.translate(0xffff_8000_0000_0000) }
        #expect(e?.description == "virtual address 0xffff800000000000 does not translate: PML4 entry 0x0 not present")
        m.set(0x4000 + ((va >> 12) & 0x1ff) * 8, 0xdead_b000 | 1)
        let vm2 = VirtualMemory(physical: m, mode: .x86_64(root: 0x7777_7000, levels: 4))
        let e2 = #expect(throws: TranslationFault.self) { try vm2.translate(va) }
        #expect(e2?.description.contains("is not in the dump") == true)
    }

    /// A PML4 entry pointing back at the PML4 (a recursive mapping, or a hostile cycle) ends
    /// after four reads whatever the tables say.
    @Test func cyclicTablesEndAfterFourReads() throws {
        let m = PageMemory()
        for i in 0..<512 { m.set(0x1000 + UInt64(i) * 8, 0x1000 | 0x3) }
        let vm = VirtualMemory(physical: m, mode: .x86_64(root: 0x1000, levels: 4))
        #expect(try vm.walk(0xffff_ffff_ffff_f123).physical == 0x1123)
        #expect(m.reads == 4)
        // PS set in a PML4 entry is reserved: a fault, not a page.
        m.set(0x1000, 0x1000 | 0x83)
        #expect(throws: TranslationFault.self) { try vm.walk(0x123) }
    }

    @Test func machineFramesMapThroughTheFrameMap() throws {
        // Tables hold machine frames 0x101.. for guest frames 0x1..; the data page is mfn 0x105.
        let va: UInt64 = 0xffff_ffff_8100_0000
        let m = PageMemory()
        m.set(0x1000 + ((va >> 39) & 0x1ff) * 8, 0x102000 | 0x3)
        m.set(0x2000 + ((va >> 30) & 0x1ff) * 8, 0x103000 | 0x3)
        m.set(0x3000 + ((va >> 21) & 0x1ff) * 8, 0x104000 | 0x3)
        m.set(0x4000 + ((va >> 12) & 0x1ff) * 8, 0x105000 | 0x3)
        m.set(0x5000, 42)
        let vm = VirtualMemory(
            physical: m, mode: .x86_64(root: 0x101000, levels: 4), frames: .mapped { $0 >= 0x100 ? $0 - 0x100 : nil })
        #expect(try vm.translate(va + 8) == 0x5008)
        let bad = VirtualMemory(physical: m, mode: .x86_64(root: 0x1000, levels: 4), frames: .mapped { _ in nil })
        let e = #expect(throws: TranslationFault.self) { try bad.translate(va) }
        #expect(e?.description.contains("machine frame 0x1 belongs to no page of the guest") == true)
    }

    @Test func translationsAreCached() throws {
        let va: UInt64 = 0xffff_ffff_8100_0000
        let vm = VirtualMemory(physical: Self.tables(va), mode: .x86_64(root: 0x1000, levels: 4))
        for i in 0..<100 { _ = try vm.translate(va + UInt64(i * 8)) }
        #expect(vm.walks == 1)
        vm.invalidate()
        _ = try vm.translate(va)
        #expect(vm.walks == 2)
    }

    @Test func pagingModeFromControlRegisters() throws {
        var r = RegisterSet(arch: .x86_64, vcpu: 0)
        r["cr0"] = 0x8005_0033
        r["cr3"] = 0x1234_5000 | 0x801  // PCID bits dropped
        r["cr4"] = 0x3006f0
        #expect(try PagingMode.x86(r, longMode: true) == .x86_64(root: 0x1234_5000, levels: 4))
        r["cr4"] = 0x3016f0
        #expect(try PagingMode.x86(r, longMode: true) == .x86_64(root: 0x1234_5000, levels: 5))
        r["cr0"] = 0x11
        #expect(try PagingMode.x86(r, longMode: true) == .identity)
        r["cr0"] = 0x8000_0011
        r["efer"] = 0
        #expect(throws: VMIError.self) { try PagingMode.x86(r, longMode: true) }
    }
}

@Suite struct AArch64PageWalkTests {
    /// 48-bit, 4 levels: L0 at 0x40000000, L1 0x40001000, L2 0x40002000, L3 0x40003000.
    static func tables(_ va: UInt64, root: UInt64 = 0x4000_0000) -> PageMemory {
        let m = PageMemory()
        m.set(root + ((va >> 39) & 0x1ff) * 8, 0x4000_1000 | 0x3)
        m.set(0x4000_1000 + ((va >> 30) & 0x1ff) * 8, 0x4000_2000 | 0x3)
        m.set(0x4000_2000 + ((va >> 21) & 0x1ff) * 8, 0x4000_3000 | 0x3)
        m.set(0x4000_3000 + ((va >> 12) & 0x1ff) * 8, 0x0060_0000_4123_4000 | 0x703)  // attrs, UXN
        return m
    }

    @Test func ttbr1FourLevels() throws {
        let va: UInt64 = 0xffff_8000_0801_0000
        let vm = VirtualMemory(
            physical: Self.tables(va), mode: .aarch64(ttbr0: nil, ttbr1: 0x0001_0000_4000_0001, t0sz: 16, t1sz: 16))
        #expect(try vm.walk(va + 0x10) == Translation(physical: 0x4123_4010, pageSize: 4096))
    }

    @Test func ttbr0ThreeLevelsAndBlocks() throws {
        // T0SZ 25: 39-bit VA, walk starts at level 1.
        let va: UInt64 = 0x40_0000
        let m = PageMemory()
        m.set(0x5000_0000 + ((va >> 30) & 0x1ff) * 8, 0x5000_1000 | 0x3)
        m.set(0x5000_1000 + ((va >> 21) & 0x1ff) * 8, 0x8020_0000 | 0x1)  // 2 MiB block
        let vm = VirtualMemory(physical: m, mode: .aarch64(ttbr0: 0x5000_0000, ttbr1: nil, t0sz: 25, t1sz: 25))
        #expect(try vm.walk(va + 0x1234) == Translation(physical: 0x8020_1234, pageSize: 1 << 21))
        let e = #expect(throws: TranslationFault.self) { try vm.walk(0x80_0000_0000) }
        #expect(e?.description.contains("outside the 39-bit TTBR0 region") == true)
        let e2 = #expect(throws: TranslationFault.self) { try vm.walk(0xffff_ffff_0000_0000) }
        #expect(e2?.description.contains("no TTBR1_EL1") == true)
    }

    @Test func invalidAndReservedDescriptors() throws {
        let va: UInt64 = 0xffff_8000_0801_0000
        let m = Self.tables(va)
        let mode = PagingMode.aarch64(ttbr0: nil, ttbr1: 0x4000_0000, t0sz: 16, t1sz: 16)
        m.set(0x4000_3000 + ((va >> 12) & 0x1ff) * 8, 0x4123_4001)  // 0b01 at level 3: reserved
        #expect(throws: TranslationFault.self) { try VirtualMemory(physical: m, mode: mode).walk(va) }
        m.set(0x4000_0000 + ((va >> 39) & 0x1ff) * 8, 0x4000_1001)  // block at level 0: reserved
        #expect(throws: TranslationFault.self) { try VirtualMemory(physical: m, mode: mode).walk(va) }
        m.set(0x4000_0000 + ((va >> 39) & 0x1ff) * 8, 0)
        let e = #expect(throws: TranslationFault.self) { try VirtualMemory(physical: m, mode: mode).walk(va) }
        #expect(e?.description.hasSuffix("level 0 descriptor 0x0 invalid") == true)
    }

    @Test func cyclicTablesEnd() throws {
        let m = PageMemory()
        for i in 0..<512 { m.set(0x4000_0000 + UInt64(i) * 8, 0x4000_0000 | 0x3) }
        let vm = VirtualMemory(physical: m, mode: .aarch64(ttbr0: 0x4000_0000, ttbr1: 0x4000_0000, t0sz: 16, t1sz: 16))
        #expect(try vm.walk(0xffff_ffff_ffff_f008).physical == 0x4000_0008)
        #expect(m.reads == 4)
    }

    @Test func modeFromTCR() throws {
        // Linux's usual TCR_EL1: T0SZ=T1SZ=16, TG0=4K (0b00), TG1=4K (0b10).
        #expect(
            try PagingMode.aarch64(ttbr0: 1, ttbr1: 2, tcr: 0x0000_0034_b510_3510)
                == .aarch64(ttbr0: 1, ttbr1: 2, t0sz: 16, t1sz: 16))
        #expect(throws: VMIError.self) { try PagingMode.aarch64(ttbr0: 1, ttbr1: 2, tcr: 0x0000_0034_f510_7510) }
        #expect(
            try PagingMode.aarch64(ttbr0: 1, ttbr1: 2, tcr: nil) == .aarch64(ttbr0: 1, ttbr1: 2, t0sz: 16, t1sz: 16))
    }
}
