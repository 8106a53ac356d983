import Testing

@testable import VMICore

/// Register words decoded field by field. Expected values follow Arm IHI 0069H; the words come
/// from the lab (QEMU 7.2 virt, Xen 4.17 on Arm) where noted.
@Suite struct GICDecoderTests {
    func fields(_ layout: RegisterLayout, _ raw: UInt64) -> [String: FieldValue] {
        Dictionary(uniqueKeysWithValues: layout.decode(raw).map { ($0.key.description, $0.value) })
    }

    @Test func listRegisterHardwareMapped() {
        // Virtual timer injected by Xen as a hardware interrupt: active, HW, pINTID 27.
        let lr = ListRegister(0xa0a0_001b_0000_001b)
        #expect(lr.vintid == 27)
        #expect(lr.hw)
        #expect(lr.pintid == 27)
        #expect(!lr.eoi)
        #expect(lr.state == .active)
        #expect(lr.priority == 0xa0)
        #expect(lr.group == 0)
        #expect(INTID.name(of: lr.vintid) == "virt_timer")
    }

    @Test func listRegisterSoftware() {
        let pending = ListRegister(0x50a0_0000_0000_0021)
        #expect(pending.state == .pending && pending.group == 1 && !pending.hw && pending.pintid == nil)
        #expect(pending.vintid == 33 && INTID.kind(of: pending.vintid) == .spi)
        let eoi = ListRegister(0x40a0_0200_0000_0010)
        #expect(eoi.eoi && eoi.state == .pending && eoi.vintid == 16)
        #expect(ListRegister(0x48a0_0000_0000_0010).nmi)
        #expect(ListRegister(0xc000_0000_0000_0001).state == .pendingActive)
        // Invalid LRs keep stale bits: only State says whether they are live.
        let stale = ListRegister(0x00a0_0000_0000_001b)
        #expect(stale.isEmpty && stale.vintid == 27)
    }

    @Test func hypervisorControl() {
        let hcr = fields(GICRegisters.ichHCR, 0x0800_0019)  // En, NPIE, VGrp0EIE, EOIcount 1
        #expect(hcr["en"] == .flag(true) && hcr["uie"] == .flag(false) && hcr["npie"] == .flag(true))
        #expect(hcr["vgrp0eie"] == .flag(true) && hcr["eoicount"] == .number(1))
        // ICH_VMCR_EL2 seen under Xen on Arm: VPMR 0xf0, VBPR0 2, VBPR1 3, VENG1, VFIQEn.
        let vmcr = fields(GICRegisters.ichVMCR, 0xf04c_000a)
        #expect(vmcr["vpmr"] == .number(0xf0) && vmcr["vbpr0"] == .number(2) && vmcr["vbpr1"] == .number(3))
        #expect(vmcr["veng1"] == .flag(true) && vmcr["veng0"] == .flag(false) && vmcr["vfiqen"] == .flag(true))
        // QEMU's ICH_VTR_EL2 for -cpu max: 4 LRs, 5 preemption and 5 priority bits, TDS, A3V.
        let vtr = fields(GICRegisters.ichVTR, 0x9028_0003)
        #expect(vtr["nr_lrs"] == .number(4) && vtr["pre_bits"] == .number(5) && vtr["pri_bits"] == .number(5))
        #expect(vtr["tds"] == .flag(true) && vtr["a3v"] == .flag(true) && vtr["seis"] == .flag(false))
        #expect(fields(GICRegisters.ichELRSR, 0x5)["empty"] == .bitList([0, 2]))
    }

    @Test func derivedMaintenanceAndEmptyStatus() {
        let lrs = [0x40a0_0200_0000_0010 & ~(3 << 62), 0x50a0_0000_0000_0021, 0, 0x90a0_0000_0000_001e]
            .map(ListRegister.init)
        // LR0 is invalid but owes an EOI maintenance interrupt: not empty.
        #expect(DerivedVirtualRegisters.elrsr(lrs) == 0b0100)
        // En|UIE|NPIE: EOI from LR0; two live LRs, so no underflow; a pending LR, so no NP.
        #expect(DerivedVirtualRegisters.misr(hcr: 0b1011, vmcr: 0, lrs) == 0b1)
        #expect(DerivedVirtualRegisters.misr(hcr: 0b1010, vmcr: 0, lrs) == 0, "En=0 asserts nothing")
        // VGrp1DIE with VENG1=0, VGrp0EIE with VENG0=1.
        #expect(DerivedVirtualRegisters.misr(hcr: 0x91, vmcr: 0x1, [ListRegister(0)]) == 0x90)
    }

    @Test func cpuInterface() {
        // QEMU virt under Linux: ICC_CTLR_EL1 (NS) 0x8c02 = EOImode, 5 priority bits, A3V.
        let ctlr = fields(GICRegisters.iccCTLR, 0x8c02)
        #expect(ctlr["eoimode"] == .flag(true) && ctlr["pri_bits"] == .number(5) && ctlr["a3v"] == .flag(true))
        #expect(ctlr["id_bits"] == .number(1) && ctlr["cbpr"] == .flag(false))
        #expect(fields(GICRegisters.iccPMR, 0xf0)["priority"] == .number(240))
        #expect(fields(GICRegisters.iccSRE, 0x7)["dib"] == .flag(true))
        #expect(fields(GICRegisters.iccCTLREL3, 0x28c00)["nds"] == .flag(true))
    }

    @Test func distributorAndRedistributor() {
        // QEMU virt, live MMIO: GICD_CTLR 0x53, GICD_TYPER 0x037a0007, GICD_IIDR 0x43b.
        #expect(GICRegisters.gicdCTLR(for: 0x53).name == "gicd_ctlr")
        let ctlr = fields(GICRegisters.gicdCTLR(for: 0x53), 0x53)
        #expect(ctlr["ds"] == .flag(true) && ctlr["are"] == .flag(true) && ctlr["enable_grp1"] == .flag(true))
        let secure = fields(GICRegisters.gicdCTLR(for: 0x32), 0x32)
        #expect(
            secure["enable_grp1ns"] == .flag(true) && secure["are_ns"] == .flag(true) && secure["ds"] == .flag(false))
        let typer = fields(GICRegisters.gicdTYPER, 0x037a_0007)
        #expect(typer["it_lines_number"] == .number(7) && typer["id_bits"] == .number(16))
        #expect(typer["lpis"] == .flag(true) && typer["no1n"] == .flag(true) && typer["a3v"] == .flag(true))
        #expect(typer["security_extn"] == .flag(false) && typer["mbis"] == .flag(false))
        let iidr = fields(GICRegisters.gicdIIDR, 0x43b)
        #expect(iidr["implementer"] == .hex(0x43b) && iidr["product_id"] == .hex(0))
        // GICR_TYPER 0x1000011: PLPIS, Last, affinity 0.0.0.0, processor 0.
        let rtyper = fields(GICRegisters.gicrTYPER, 0x0100_0011)
        #expect(rtyper["plpis"] == .flag(true) && rtyper["last"] == .flag(true))
        #expect(rtyper["processor_number"] == .number(0) && rtyper["common_lpi_aff"] == .number(1))
        let prop = fields(GICRegisters.gicrPROPBASER, 0x429b_078f)
        #expect(prop["id_bits"] == .number(16) && prop["address"] == .hex(0x429b_0000))
        #expect(prop["inner_cache"] == .number(7) && prop["shareability"] == .number(1))
        #expect(fields(GICRegisters.gicrPENDBASER, 0x429c_0780)["address"] == .hex(0x429c_0000))
        #expect(fields(GICRegisters.gicrWAKER, 0x6)["children_asleep"] == .flag(true))
        #expect(GICReport.route(0x0000_0001_0002_0304) == "1.2.3.4")
        #expect(GICReport.route(0x8000_0000) == "any")
    }

    @Test func intidRanges() {
        #expect(INTID.kind(of: 0) == .sgi && INTID.kind(of: 15) == .sgi)
        #expect(INTID.kind(of: 16) == .ppi && INTID.kind(of: 31) == .ppi && INTID.kind(of: 1056) == .ppi)
        #expect(INTID.kind(of: 32) == .spi && INTID.kind(of: 1019) == .spi && INTID.kind(of: 4096) == .spi)
        #expect(INTID.kind(of: 1023) == .special && INTID.kind(of: 1024) == .reserved)
        #expect(INTID.kind(of: 8192) == .lpi)
        #expect(INTID.name(of: 31) == "xen_evtchn" && INTID.name(of: 30) == "phys_timer")
    }

    @Test func decodeRecords() throws {
        let lr = try GICWordDecoder.record(name: "ich_lr3", raw: 0xa0a0_001b_0000_001b)
        #expect(
            String(decoding: lr.bytes, as: UTF8.self) == """
                {"type":"gic_decode","register":"ich_lr_el2","raw":"0xa0a0001b0000001b","vintid":27,"kind":"ppi",\
                "pintid":27,"state":"active","priority":160,"group":0,"hw":true,"nmi":false,"name":"virt_timer"}

                """)
        let hcr = try GICWordDecoder.record(name: "ICH_HCR", raw: 1)
        #expect(
            String(decoding: hcr.bytes, as: UTF8.self).hasPrefix(
                #"{"type":"gic_decode","register":"ich_hcr_el2","raw":"0x1","en":true,"uie":false"#))
        #expect(throws: VMIError.self) { try GICWordDecoder.record(name: "ich_nope", raw: 0) }
    }
}
