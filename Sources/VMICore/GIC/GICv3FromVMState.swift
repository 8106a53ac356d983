/// QEMU's `arm_gicv3` section (hw/intc/arm_gicv3_common.c vmstate_gicv3, vmstate_gicv3_cpu and its
/// subsections) as a GIC snapshot. Fields are found by name in the decoded section, never by
/// offset, so extra fields of other QEMU versions do no harm.
///
///   gicd_ctlr; group, grpmod, enabled, pending, active, level, edge_trigger (u32[32] bitmaps, bit n%32
///   of word n/32 = INTID n); gicd_ipriority[1020]; gicd_irouter[1020]; cpu[]:
///   gicr_ctlr, gicr_waker, gicr_propbaser, gicr_pendbaser, gicr_igroupr0, gicr_ienabler0, gicr_ipendr0,
///   gicr_iactiver0, edge_trigger, level, gicr_igrpmodr0, gicr_ipriorityr[32],
///   icc_ctlr_el1[2] (index GICV3_S 0, GICV3_NS 1), icc_pmr_el1, icc_bpr[3] (GICV3_BPR0, BPR1S, BPR1NS),
///   icc_apr[3][4] (GICV3_G0, G1, G1NS), icc_igrpen[3] (G0, G1, G1NS), icc_ctlr_el3;
///   arm_gicv3_cpu/virt: ich_apr[3][4], ich_hcr_el2, ich_lr_el2[16], ich_vmcr_el2;
///   arm_gicv3_cpu/sre_el1: icc_sre_el1.
enum GICv3FromVMState {
    static func snapshot(_ gic: VMStateObject) throws -> GICSnapshot {
        func need(_ o: VMStateObject, _ f: String, _ n: Int) throws -> [UInt64] {
            guard let w = o.words(f), w.count >= n else {
                throw VMIError("arm_gicv3 section: field '\(f)' missing or shorter than \(n) words")
            }
            return w
        }
        func u32s(_ w: [UInt64]) -> [UInt32] { w.map { UInt32(truncatingIfNeeded: $0) } }

        var snap = GICSnapshot()
        var dist = GICDistributor()
        dist.ctlr = UInt32(truncatingIfNeeded: try need(gic, "gicd_ctlr", 1)[0])
        var maps = try ["group", "grpmod", "enabled", "pending", "active", "level", "edge_trigger"].map {
            u32s(try need(gic, $0, 32))
        }
        // Streams from QEMU before 2.12 with KVM stored SPI bitmaps one word too high; QEMU moves
        // them down unless the stream says it has no such bug (arm_gicv3_common.c
        // gicv3_gicd_no_migration_shift_bug_post_load).
        if gic.subsection("arm_gicv3/gicd_no_migration_shift_bug")?.word("gicd_no_migration_shift_bug") == 0 {
            maps = maps.map { m in [m[0]] + Array(m[2...]) + [0] }
        }
        let prio = try need(gic, "gicd_ipriority", 32).map { UInt8(truncatingIfNeeded: $0) }
        dist.irouter = try need(gic, "gicd_irouter", 32)
        let n = min(prio.count, dist.irouter.count, maps[0].count * 32)
        dist.spis = InterruptBank(
            first: 32, count: max(0, n - 32), group: maps[0], grpmod: maps[1], enabled: maps[2], pending: maps[3],
            active: maps[4], edge: maps[6], level: maps[5], priority: prio)
        snap.distributor = dist

        for (i, cpu) in gic.structs("cpu").enumerated() {
            var r = GICRedistributor(vcpu: i)
            r.ctlr = cpu.word("gicr_ctlr").map { UInt32(truncatingIfNeeded: $0) }
            r.waker = cpu.word("gicr_waker").map { UInt32(truncatingIfNeeded: $0) }
            r.propbaser = cpu.word("gicr_propbaser")
            r.pendbaser = cpu.word("gicr_pendbaser")
            func one(_ f: String) throws -> [UInt32] { [UInt32(truncatingIfNeeded: try need(cpu, f, 1)[0])] }
            r.bank = InterruptBank(
                first: 0, count: 32, group: try one("gicr_igroupr0"), grpmod: try one("gicr_igrpmodr0"),
                enabled: try one("gicr_ienabler0"), pending: try one("gicr_ipendr0"),
                active: try one("gicr_iactiver0"), edge: try one("edge_trigger"), level: try one("level"),
                priority: try need(cpu, "gicr_ipriorityr", 32).map { UInt8(truncatingIfNeeded: $0) })
            snap.redistributors.append(r)

            var c = GICCPUInterface(vcpu: i)
            func add(_ key: StaticString, _ layout: RegisterLayout, _ v: UInt64?, derived: Bool = false) {
                if let v { c.registers.append(.init(key: key, layout: layout, raw: v, derived: derived)) }
            }
            let ctlr = cpu.words("icc_ctlr_el1") ?? []
            add("icc_ctlr_el1_s", GICRegisters.iccCTLR, ctlr.count > 0 ? ctlr[0] : nil)
            add("icc_ctlr_el1_ns", GICRegisters.iccCTLR, ctlr.count > 1 ? ctlr[1] : nil)
            add("icc_ctlr_el3", GICRegisters.iccCTLREL3, cpu.word("icc_ctlr_el3"))
            add("icc_pmr_el1", GICRegisters.iccPMR, cpu.word("icc_pmr_el1"))
            let bpr = cpu.words("icc_bpr") ?? []
            for (k, j) in [("icc_bpr0_el1", 0), ("icc_bpr1_el1_s", 1), ("icc_bpr1_el1_ns", 2)] as [(StaticString, Int)]
            {
                add(k, GICRegisters.iccBPR, j < bpr.count ? bpr[j] : nil)
            }
            let igrpen = cpu.words("icc_igrpen") ?? []
            for (k, j) in [("icc_igrpen0_el1", 0), ("icc_igrpen1_el1_s", 1), ("icc_igrpen1_el1_ns", 2)]
                as [(StaticString, Int)]
            {
                add(k, GICRegisters.iccIGRPEN, j < igrpen.count ? igrpen[j] : nil)
            }
            // QEMU sends icc_sre_el1 only when it is not 0x7 and assumes 0x7 when absent
            // (arm_gicv3_common.c icc_sre_el1_reg_needed, gicv3_cpu_pre_load). Under TCG the field
            // stays 0 and the register reads as 0x7 regardless (arm_gicv3_cpuif.c icc_sre_read):
            // the stream's value is printed as sent.
            add("icc_sre_el1", GICRegisters.iccSRE, cpu.subsection("arm_gicv3_cpu/sre_el1")?.word("icc_sre_el1") ?? 0x7)
            if let apr = cpu.words("icc_apr"), apr.count >= 12 {
                c.activePriorities += [
                    ("icc_ap0r_el1", Array(apr[0..<4])), ("icc_ap1r_el1_s", Array(apr[4..<8])),
                    ("icc_ap1r_el1_ns", Array(apr[8..<12])),
                ]
            }
            if let virt = cpu.subsection("arm_gicv3_cpu/virt") {
                let hcr = virt.word("ich_hcr_el2") ?? 0
                let vmcr = virt.word("ich_vmcr_el2") ?? 0
                let lrs = (virt.words("ich_lr_el2") ?? []).map(ListRegister.init)
                add("ich_hcr_el2", GICRegisters.ichHCR, virt.word("ich_hcr_el2"))
                add("ich_vmcr_el2", GICRegisters.ichVMCR, virt.word("ich_vmcr_el2"))
                add(
                    "ich_misr_el2", GICRegisters.ichMISR, DerivedVirtualRegisters.misr(hcr: hcr, vmcr: vmcr, lrs),
                    derived: true)
                add("ich_elrsr_el2", GICRegisters.ichELRSR, DerivedVirtualRegisters.elrsr(lrs), derived: true)
                if let apr = virt.words("ich_apr"), apr.count >= 12 {
                    // GICV3_G1 (index 1) is unused for the virtual interface.
                    c.activePriorities += [("ich_ap0r_el2", Array(apr[0..<4])), ("ich_ap1r_el2", Array(apr[8..<12]))]
                }
                for (j, lr) in lrs.enumerated() {
                    snap.listRegisters.append(GICListRegisterEntry(vcpu: i, index: j, lr: lr, origin: .hardware))
                }
            }
            snap.cpuInterfaces.append(c)
        }
        return snap
    }
}
