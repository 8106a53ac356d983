/// GICv3 register layouts. Bit positions follow Arm IHI 0069H (section 12, "GIC system register
/// descriptions"; section 12.9 distributor, 12.10/12.11 redistributor) and are checked against the
/// masks of Linux include/linux/irqchip/arm-gic-v3.h (ICH_HCR_*, ICH_VMCR_*, ICH_VTR_*, ICC_CTLR_EL1_*,
/// ICC_SRE_EL1_*, GICD_CTLR_*, GICD_TYPER_*, GICR_CTLR_*, GICR_TYPER_*, GICR_WAKER_*,
/// GICR_PROPBASER_*, GICR_PENDBASER_*).
public enum GICRegisters {
    // MARK: virtual CPU interface control (EL2), IHI 0069H 12.4

    /// ICH_HCR_EL2 (12.4.8). Linux: ICH_HCR_EN BIT(0), ICH_HCR_UIE BIT(1), ICH_HCR_NPIE BIT(3),
    /// ICH_HCR_TC BIT(10), ICH_HCR_TALL0 BIT(11), ICH_HCR_TALL1 BIT(12), ICH_HCR_TDIR BIT(14),
    /// ICH_HCR_EOIcount_SHIFT 27.
    public static let ichHCR = RegisterLayout(
        "ich_hcr_el2",
        [
            BitField("en", 0), BitField("uie", 1), BitField("lrenpie", 2), BitField("npie", 3),
            BitField("vgrp0eie", 4), BitField("vgrp0die", 5), BitField("vgrp1eie", 6), BitField("vgrp1die", 7),
            BitField("vsgieoicount", 8), BitField("tc", 10), BitField("tall0", 11), BitField("tall1", 12),
            BitField("tsei", 13), BitField("tdir", 14), BitField("dvim", 15), BitField("eoicount", 27, 5, .number),
        ])

    /// ICH_VMCR_EL2 (12.4.11). Linux: ICH_VMCR_ENG0_SHIFT 0, ENG1 1, ACK_CTL 2, FIQ_EN 3, CBPR 4,
    /// EOIM 9, BPR1_SHIFT 18, BPR0_SHIFT 21, PMR_SHIFT 24.
    public static let ichVMCR = RegisterLayout(
        "ich_vmcr_el2",
        [
            BitField("veng0", 0), BitField("veng1", 1), BitField("vackctl", 2), BitField("vfiqen", 3),
            BitField("vcbpr", 4), BitField("veoim", 9), BitField("vbpr1", 18, 3, .number),
            BitField("vbpr0", 21, 3, .number), BitField("vpmr", 24, 8, .number),
        ])

    /// ICH_VTR_EL2 (12.4.12). ListRegs, PREbits and PRIbits hold "count minus one": printed as
    /// counts. Linux: ICH_VTR_PRI_BITS_SHIFT 29, ICH_VTR_ID_BITS_SHIFT 23, ICH_VTR_SEIS_SHIFT 22,
    /// ICH_VTR_A3V_SHIFT 21, ICH_VTR_TDS_SHIFT 19.
    public static let ichVTR = RegisterLayout(
        "ich_vtr_el2",
        [
            BitField("nr_lrs", 0, 5, .plusOne), BitField("tds", 19), BitField("nv4", 20), BitField("a3v", 21),
            BitField("seis", 22), BitField("id_bits", 23, 3, .number), BitField("pre_bits", 26, 3, .plusOne),
            BitField("pri_bits", 29, 3, .plusOne),
        ])

    /// ICH_MISR_EL2 (12.4.9): which maintenance interrupts are asserted.
    public static let ichMISR = RegisterLayout(
        "ich_misr_el2",
        [
            BitField("eoi", 0), BitField("u", 1), BitField("lrenp", 2), BitField("np", 3),
            BitField("vgrp0e", 4), BitField("vgrp0d", 5), BitField("vgrp1e", 6), BitField("vgrp1d", 7),
            BitField("vsgi", 8),
        ])

    /// ICH_ELRSR_EL2 (12.4.6): bit n set = list register n holds no interrupt.
    public static let ichELRSR = RegisterLayout("ich_elrsr_el2", [BitField("empty", 0, 16, .bitList)])

    /// ICH_AP0R<n>_EL2 / ICH_AP1R<n>_EL2 (12.4.1/12.4.2): active priorities, one bit per
    /// preemption level (group priority).
    public static let ichAP0R = RegisterLayout("ich_ap0r_el2", [BitField("active", 0, 32, .bitList)])
    public static let ichAP1R = RegisterLayout(
        "ich_ap1r_el2",
        [
            BitField("active", 0, 32, .bitList), BitField("nmi", 63),
        ])

    // MARK: physical CPU interface (ICC_*), IHI 0069H 12.2

    /// ICC_PMR_EL1 (12.2.19): the priority mask.
    public static let iccPMR = RegisterLayout("icc_pmr_el1", [BitField("priority", 0, 8, .number)])
    /// ICC_BPR0_EL1 / ICC_BPR1_EL1 (12.2.5/12.2.6).
    public static let iccBPR = RegisterLayout("icc_bpr", [BitField("binary_point", 0, 3, .number)])
    /// ICC_CTLR_EL1 (12.2.7). Linux: ICC_CTLR_EL1_EOImode_SHIFT 1, ICC_CTLR_EL1_PMHE_SHIFT 6,
    /// ICC_CTLR_EL1_PRI_BITS_SHIFT 8, ICC_CTLR_EL1_ID_BITS_SHIFT 11, ICC_CTLR_EL1_SEIS_SHIFT 14,
    /// ICC_CTLR_EL1_A3V_SHIFT 15, ICC_CTLR_EL1_RSS 18, ICC_CTLR_EL1_ExtRange 19.
    public static let iccCTLR = RegisterLayout(
        "icc_ctlr_el1",
        [
            BitField("cbpr", 0), BitField("eoimode", 1), BitField("pmhe", 6), BitField("pri_bits", 8, 3, .plusOne),
            BitField("id_bits", 11, 3, .number), BitField("seis", 14), BitField("a3v", 15), BitField("rss", 18),
            BitField("extrange", 19),
        ])
    /// ICC_CTLR_EL3 (12.2.8).
    public static let iccCTLREL3 = RegisterLayout(
        "icc_ctlr_el3",
        [
            BitField("cbpr_el1s", 0), BitField("cbpr_el1ns", 1), BitField("eoimode_el3", 2),
            BitField("eoimode_el1s", 3), BitField("eoimode_el1ns", 4), BitField("rm", 5), BitField("pmhe", 6),
            BitField("pri_bits", 8, 3, .plusOne), BitField("id_bits", 11, 3, .number), BitField("seis", 14),
            BitField("a3v", 15), BitField("nds", 17), BitField("rss", 18), BitField("extrange", 19),
        ])
    /// ICC_IGRPEN0_EL1 / ICC_IGRPEN1_EL1 (12.2.15/12.2.16).
    public static let iccIGRPEN = RegisterLayout("icc_igrpen", [BitField("enable", 0)])
    /// ICC_SRE_EL1 (12.2.24). Linux: ICC_SRE_EL1_SRE BIT(0), DFB BIT(1), DIB BIT(2); bit 3 is
    /// Enable in ICC_SRE_EL2/EL3.
    public static let iccSRE = RegisterLayout(
        "icc_sre_el1",
        [
            BitField("sre", 0), BitField("dfb", 1), BitField("dib", 2), BitField("enable", 3),
        ])

    // MARK: distributor, IHI 0069H 12.9

    /// GICD_CTLR (12.9.4), the view with two security states (DS=0) or with DS=1, where bit 1 is
    /// EnableGrp1 and bit 4 is ARE. Linux: GICD_CTLR_RWP (1U << 31), GICD_CTLR_nASSGIreq (1U << 8),
    /// GICD_CTLR_DS (1U << 6), GICD_CTLR_ARE_NS (1U << 4) (the NS view), GICD_CTLR_ENABLE_G1A
    /// (1U << 1), GICD_CTLR_ENABLE_G1 (1U << 0).
    public static let gicdCTLR = RegisterLayout(
        "gicd_ctlr",
        [
            BitField("enable_grp0", 0), BitField("enable_grp1ns", 1), BitField("enable_grp1s", 2),
            BitField("are_s", 4), BitField("are_ns", 5), BitField("ds", 6), BitField("e1nwf", 7),
            BitField("nassgireq", 8), BitField("rwp", 31),
        ])
    /// GICD_CTLR with DS=1 (one security state): bit 1 is EnableGrp1, bit 4 ARE.
    public static let gicdCTLRSingleSecurity = RegisterLayout(
        "gicd_ctlr",
        [
            BitField("enable_grp0", 0), BitField("enable_grp1", 1), BitField("are", 4), BitField("ds", 6),
            BitField("e1nwf", 7), BitField("nassgireq", 8), BitField("rwp", 31),
        ])

    /// The GICD_CTLR layout that applies to this value (DS is bit 6).
    public static func gicdCTLR(for raw: UInt64) -> RegisterLayout {
        raw & (1 << 6) != 0 ? gicdCTLRSingleSecurity : gicdCTLR
    }

    /// GICD_TYPER (12.9.38). ITLinesNumber N means 32*(N+1) INTIDs; IDbits+1 bits of INTID.
    /// Linux: GICD_TYPER_ID_BITS(typer) ((((typer) >> 19) & 0x1f) + 1), GICD_TYPER_LPIS (1U << 17),
    /// GICD_TYPER_MBIS (1U << 16), GICD_TYPER_ESPI (1U << 8), GICD_TYPER_NUM_LPIS(typer) bits 15:11.
    public static let gicdTYPER = RegisterLayout(
        "gicd_typer",
        [
            BitField("it_lines_number", 0, 5, .number), BitField("cpu_number", 5, 3, .number), BitField("espi", 8),
            BitField("nmi", 9), BitField("security_extn", 10), BitField("num_lpis", 11, 5, .number),
            BitField("mbis", 16), BitField("lpis", 17), BitField("dvis", 18), BitField("id_bits", 19, 5, .plusOne),
            BitField("a3v", 24), BitField("no1n", 25), BitField("rss", 26), BitField("espi_range", 27, 5, .number),
        ])
    /// GICD_IIDR (12.9.24); implementer 0x43b is Arm.
    public static let gicdIIDR = RegisterLayout(
        "gicd_iidr",
        [
            BitField("implementer", 0, 12, .hex), BitField("revision", 12, 4, .number),
            BitField("variant", 16, 4, .number), BitField("product_id", 24, 8, .hex),
        ])
    /// GICD_IROUTER<n> (12.9.22): affinity the SPI goes to, or any PE when IRM is set.
    public static let gicdIROUTER = RegisterLayout(
        "gicd_irouter",
        [
            BitField("aff0", 0, 8, .number), BitField("aff1", 8, 8, .number), BitField("aff2", 16, 8, .number),
            BitField("irm", 31), BitField("aff3", 32, 8, .number),
        ])

    // MARK: redistributor, IHI 0069H 12.10/12.11

    /// GICR_CTLR (12.11.2). Linux: GICR_CTLR_ENABLE_LPIS (1UL << 0), GICR_CTLR_CES (1UL << 1),
    /// GICR_CTLR_IR (1UL << 2), GICR_CTLR_RWP (1UL << 3).
    public static let gicrCTLR = RegisterLayout(
        "gicr_ctlr",
        [
            BitField("enable_lpis", 0), BitField("ces", 1), BitField("ir", 2), BitField("rwp", 3),
            BitField("dpg0", 24), BitField("dpg1ns", 25), BitField("dpg1s", 26), BitField("uwp", 31),
        ])
    /// GICR_TYPER (12.11.37), 64 bits. Linux: GICR_TYPER_PLPIS BIT(0), GICR_TYPER_VLPIS BIT(1),
    /// GICR_TYPER_DirectLPIS BIT(3), GICR_TYPER_LAST BIT(4), GICR_TYPER_RVPEID BIT(7),
    /// GICR_TYPER_AFFINITY bits 63:32.
    public static let gicrTYPER = RegisterLayout(
        "gicr_typer",
        [
            BitField("plpis", 0), BitField("vlpis", 1), BitField("dirty", 2), BitField("direct_lpi", 3),
            BitField("last", 4), BitField("dpgs", 5), BitField("mpam", 6), BitField("rvpeid", 7),
            BitField("processor_number", 8, 16, .number), BitField("common_lpi_aff", 24, 2, .number),
            BitField("vsgi", 26), BitField("ppi_num", 27, 5, .number), BitField("affinity", 32, 32, .hex),
        ])
    /// GICR_WAKER (12.11.39). Linux: GICR_WAKER_ProcessorSleep (1U << 1), GICR_WAKER_ChildrenAsleep (1U << 2).
    public static let gicrWAKER = RegisterLayout(
        "gicr_waker",
        [
            BitField("processor_sleep", 1), BitField("children_asleep", 2),
        ])
    /// GICR_PROPBASER (12.11.32): LPI configuration table. Linux: GICR_PROPBASER_IDBITS_MASK 0x1f,
    /// InnerCache shift 7, Shareability shift 10, OuterCache shift 56, address bits 51:12.
    public static let gicrPROPBASER = RegisterLayout(
        "gicr_propbaser",
        [
            BitField("id_bits", 0, 5, .plusOne), BitField("inner_cache", 7, 3, .number),
            BitField("shareability", 10, 2, .number), BitField("address", 12, 40, .address),
            BitField("outer_cache", 56, 3, .number),
        ])
    /// GICR_PENDBASER (12.11.31): LPI pending table. Linux: GICR_PENDBASER_PTZ BIT_ULL(62), address
    /// bits 51:16.
    public static let gicrPENDBASER = RegisterLayout(
        "gicr_pendbaser",
        [
            BitField("inner_cache", 7, 3, .number), BitField("shareability", 10, 2, .number),
            BitField("address", 16, 36, .address), BitField("outer_cache", 56, 3, .number), BitField("ptz", 62),
        ])

    /// What `vmi-gic-dump --decode NAME=WORD` accepts. ICH_LR is decoded by `ListRegister`.
    public static let byName: [String: RegisterLayout] = {
        var table: [String: RegisterLayout] = [:]
        let all = [
            ichHCR, ichVMCR, ichVTR, ichMISR, ichELRSR, ichAP0R, ichAP1R, iccPMR, iccCTLR, iccCTLREL3, iccSRE,
            gicdCTLR, gicdTYPER, gicdIIDR, gicdIROUTER, gicrCTLR, gicrTYPER, gicrWAKER, gicrPROPBASER,
            gicrPENDBASER,
        ]
        for l in all {
            table[l.name] = l
            // Short spellings: ich_hcr, icc_pmr, icc_sre.
            for suffix in ["_el1", "_el2"] where l.name.hasSuffix(suffix) {
                table[String(l.name.dropLast(suffix.count))] = l
            }
        }
        for (alias, l) in [
            ("icc_bpr0", iccBPR), ("icc_bpr1", iccBPR), ("icc_bpr0_el1", iccBPR), ("icc_bpr1_el1", iccBPR),
            ("icc_igrpen0", iccIGRPEN), ("icc_igrpen1", iccIGRPEN), ("icc_igrpen0_el1", iccIGRPEN),
            ("icc_igrpen1_el1", iccIGRPEN),
        ] {
            table[alias] = l
        }
        return table
    }()
}
