/// Interrupt identifiers (Arm IHI 0069H 2.2, table 2-1 "INTID ranges").
public enum INTID {
    public enum Kind: String, Sendable {
        case sgi, ppi, spi, lpi, special, reserved
    }

    /// 0-15 SGI, 16-31 PPI, 32-1019 SPI, 1020-1023 special, 1056-1119 extended PPI,
    /// 4096-5119 extended SPI, 8192 and up LPI; the rest is reserved.
    public static func kind(of intid: UInt32) -> Kind {
        switch intid {
        case 0..<16: return .sgi
        case 16..<32, 1056..<1120: return .ppi
        case 32..<1020, 4096..<5120: return .spi
        case 1020..<1024: return .special
        case 8192...: return .lpi
        default: return .reserved
        }
    }

    /// Names of the PPIs every guest here meets: the Arm Base System Architecture (DEN0094) PPI
    /// assignments that QEMU's virt board (hw/arm/virt.h ARCH_TIMER_*_IRQ, ARCH_GIC_MAINT_IRQ,
    /// VIRTUAL_PMU_IRQ) and Xen (xen/include/public/arch-arm.h GUEST_TIMER_VIRT_PPI 27,
    /// GUEST_TIMER_PHYS_S_PPI 29, GUEST_TIMER_PHYS_NS_PPI 30, GUEST_EVTCHN_PPI 31) both follow.
    /// INTID 31 is the event-channel upcall of Xen guests; other guests leave it unused.
    public static func name(of intid: UInt32) -> String? {
        switch intid {
        case 23: return "pmu"
        case 25: return "gic_maintenance"
        case 26: return "hyp_phys_timer"
        case 27: return "virt_timer"
        case 28: return "hyp_virt_timer"
        case 29: return "sec_phys_timer"
        case 30: return "phys_timer"
        case 31: return "xen_evtchn"
        default: return nil
        }
    }
}
