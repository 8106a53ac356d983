/// ICH_LR<n>_EL2, one list register of the virtual CPU interface (Arm IHI 0069H 12.4.7).
///
/// Bits: vINTID 31:0, pINTID 44:32 when HW=1; when HW=0 bit 41 is EOI (maintenance interrupt on
/// deactivation) and 44:32 are otherwise RES0; Priority 55:48; NMI 59 (FEAT_GICv3_NMI); Group 60;
/// HW 61; State 63:62. Linux include/linux/irqchip/arm-gic-v3.h: ICH_LR_VIRTUAL_ID_MASK,
/// ICH_LR_PHYS_ID_SHIFT 32, ICH_LR_EOI (1ULL << 41), ICH_LR_PRIORITY_SHIFT 48, ICH_LR_GROUP (1ULL << 60),
/// ICH_LR_HW (1ULL << 61), ICH_LR_STATE (3ULL << 62).
public struct ListRegister: Equatable, Sendable {
    public enum State: String, Sendable {
        case invalid
        case pending
        case active
        case pendingActive = "pending_active"
    }

    public let raw: UInt64

    public init(_ raw: UInt64) { self.raw = raw }

    public var vintid: UInt32 { UInt32(truncatingIfNeeded: raw) }
    public var hw: Bool { raw & (1 << 61) != 0 }
    /// The physical INTID deactivated with the virtual one (HW=1 only).
    public var pintid: UInt32? { hw ? UInt32((raw >> 32) & 0x1fff) : nil }
    /// HW=0: a maintenance interrupt is asserted when the guest deactivates it.
    public var eoi: Bool { !hw && raw & (1 << 41) != 0 }
    public var priority: Int { Int((raw >> 48) & 0xff) }
    public var nmi: Bool { raw & (1 << 59) != 0 }
    public var group: Int { raw & (1 << 60) != 0 ? 1 : 0 }
    public var state: State {
        switch raw >> 62 {
        case 0: return .invalid
        case 1: return .pending
        case 2: return .active
        default: return .pendingActive
        }
    }

    /// An invalid LR keeps stale vINTID and priority bits: only State says whether it is live.
    public var isEmpty: Bool { state == .invalid }

    /// ICH_ELRSR_EL2 bit for this LR (IHI 0069H 12.4.6): no pending or active interrupt, and no
    /// maintenance interrupt still owed on EOI.
    public var countsAsEmpty: Bool { state == .invalid && (hw || !eoi) }

    /// The decoded fields, in the order records print them.
    public var fields: [(key: StaticString, value: FieldValue)] {
        var out: [(key: StaticString, value: FieldValue)] = [
            ("vintid", .number(Int(vintid))), ("kind", .text(INTID.kind(of: vintid).rawValue)),
        ]
        if let p = pintid { out.append(("pintid", .number(Int(p)))) } else { out.append(("eoi", .flag(eoi))) }
        out += [
            ("state", .text(state.rawValue)), ("priority", .number(priority)), ("group", .number(group)),
            ("hw", .flag(hw)), ("nmi", .flag(nmi)),
        ]
        if let name = INTID.name(of: vintid) { out.append(("name", .text(name))) }
        return out
    }
}

/// Registers of the virtual CPU interface the architecture derives from others. Sources that only
/// hold the list registers and ICH_HCR/ICH_VMCR (a QEMU migration stream) get them computed here.
public enum DerivedVirtualRegisters {
    /// ICH_ELRSR_EL2 (IHI 0069H 12.4.6).
    public static func elrsr(_ lrs: [ListRegister]) -> UInt64 {
        var v: UInt64 = 0
        for (i, lr) in lrs.enumerated() where i < 64 && lr.countsAsEmpty { v |= 1 << UInt64(i) }
        return v
    }

    /// ICH_MISR_EL2 (IHI 0069H 12.4.9), from ICH_HCR_EL2, ICH_VMCR_EL2 and the list registers.
    public static func misr(hcr: UInt64, vmcr: UInt64, _ lrs: [ListRegister]) -> UInt64 {
        guard hcr & 1 != 0 else { return 0 }  // En=0: no maintenance interrupts
        var v: UInt64 = 0
        func hcrBit(_ n: UInt64) -> Bool { hcr & (1 << n) != 0 }
        if lrs.contains(where: { $0.state == .invalid && !$0.hw && $0.eoi }) { v |= 1 << 0 }
        if hcrBit(1) && lrs.filter({ $0.state != .invalid }).count <= 1 { v |= 1 << 1 }
        if hcrBit(2) && (hcr >> 27) & 0x1f != 0 { v |= 1 << 2 }
        if hcrBit(3) && !lrs.contains(where: { $0.state == .pending }) { v |= 1 << 3 }
        let eng0 = vmcr & 1 != 0
        let eng1 = vmcr & 2 != 0
        if hcrBit(4) && eng0 { v |= 1 << 4 }
        if hcrBit(5) && !eng0 { v |= 1 << 5 }
        if hcrBit(6) && eng1 { v |= 1 << 6 }
        if hcrBit(7) && !eng1 { v |= 1 << 7 }
        return v
    }
}
