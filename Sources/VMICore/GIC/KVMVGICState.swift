/// KVM's `/sys/kernel/debug/kvm/<pid>-<fd>/vgic-state` text (Linux arch/arm64/kvm/vgic/vgic-debug.c:
/// print_dist_state, print_header, print_irq_state), parsed strictly:
///
///     Distributor
///     ===========
///     vgic_model:\tGICv3
///     nr_spis:\t%d
///     nr_lpis:\t%d                    (GICv3 only)
///     enabled:\t%d
///
///     P=pending_latch, L=line_level, A=active
///     E=enabled, H=hw, C=config (level=1, edge=0)
///     G=group
///
///     VCPU%2d TYP   ID TGT_ID PLAEHCG     HWID   TARGET SRC PRI VCPU_ID     (SGIs/PPIs of each vCPU)
///     SPI %2d TYP   ID ...                                                  (then SPIs, then LPIs)
///     ----------------------------------------------------------------
///            %s %4d     %2d %d%d%d%d%d%d%d %8d %8x  %2x %3d      %2d
///            LPI %4d freed
///
/// Rows: type (SGI/PPI/SPI/LPI), intid, target vCPU (-1 none), the seven flags, hwintid, mpidr
/// (hex), source (hex, SGIs), priority, vcpu_id the interrupt is queued on (-1 none). KVM's vgic
/// is a software model: it has no list registers and no register words to show.
public enum KVMVGICState {
    public static let maxLines = 1 << 20

    public static func parse(_ text: String, name: String) throws -> GICSnapshot {
        var snap = GICSnapshot()
        var dist = GICDistributor()
        var sawDistributor = false
        var section: Int??  // nil: before any table; .some(nil): SPI table; .some(v): VCPU v table
        var lineNo = 0
        func bad(_ why: String) -> VMIError { VMIError("'\(name)': line \(lineNo): \(why)") }

        // Lines and fields split on UTF-8 bytes: Character splitting (grapheme breaking) was most
        // of the parse. CRLF is taken as well as LF.
        for raw in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            guard lineNo <= maxLines else { throw bad("more than \(maxLines) lines: not vgic-state") }
            let line = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            let fields = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }).map(Substring.init)
            guard let first = fields.first else { continue }
            if fields.count > 2 && fields.contains("TYP") {
                // "VCPU%2d TYP ..." prints "VCPU 0" or "VCPU12"; "SPI  0 TYP ...".
                if first == "SPI" {
                    section = .some(nil)
                } else if first == "VCPU" {
                    section = .some(try headerNumber(fields, bad))
                } else if first.hasPrefix("VCPU"), let v = Int(first.dropFirst(4)) {
                    section = .some(v)
                } else {
                    throw bad("bad table header")
                }
                continue
            }
            switch first {
            case "Distributor":
                sawDistributor = true
            case _ where line.allSatisfy({ $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "-") }):
                continue
            case "vgic_model:":
                guard fields.count == 2 else { throw bad("expected 'vgic_model: GICv3'") }
                dist.model = String(fields[1])
            case "nr_spis:", "nr_lpis:", "enabled:":
                guard fields.count == 2, let n = Int(fields[1]), n >= 0, n <= 1 << 24 else {
                    throw bad("expected '\(first) NUMBER'")
                }
                if first == "nr_spis:" {
                    dist.nrSPIs = n
                } else if first == "nr_lpis:" {
                    dist.nrLPIs = n
                } else {
                    dist.enabled = n != 0
                }
            case "P=pending_latch,", "E=enabled,", "G=group":
                continue
            default:
                guard sawDistributor else { throw bad("not KVM vgic-state text (no 'Distributor' block)") }
                guard let table = section else { throw bad("interrupt row before any table header") }
                if let irq = try row(fields, vcpuTable: table, bad) { snap.interrupts.append(irq) }
            }
        }
        guard sawDistributor else { throw VMIError("'\(name)': not KVM vgic-state text (no 'Distributor' block)") }
        snap.distributor = dist
        return snap
    }

    static func headerNumber(_ f: [Substring], _ bad: (String) -> VMIError) throws -> Int {
        guard f.count >= 2, let v = Int(f[1]), v >= 0 else { throw bad("bad table header") }
        return v
    }

    static func row(_ f: [Substring], vcpuTable: Int?, _ bad: (String) -> VMIError) throws -> GICInterrupt? {
        let kinds: [Substring] = ["SGI", "PPI", "SPI", "LPI"]
        guard kinds.contains(f[0]) else { throw bad("unexpected '\(f[0])': not a vgic-state row") }
        if f.count == 3 && f[2] == "freed" { return nil }  // an LPI unmapped while printing
        guard f.count == 9 else { throw bad("expected 9 columns in an interrupt row, found \(f.count)") }
        guard let intid = UInt32(f[1]), let target = Int(f[2]), target >= -1,
            f[3].count == 7, f[3].allSatisfy({ $0 == "0" || $0 == "1" }),
            let hwid = Int(f[4]), let mpidr = UInt64(f[5], radix: 16), let src = Int(f[6], radix: 16),
            let prio = Int(f[7]), (0...255).contains(prio), let queued = Int(f[8]), queued >= -1
        else { throw bad("malformed interrupt row") }
        let expected: Substring
        switch INTID.kind(of: intid) {
        case .sgi: expected = "SGI"
        case .ppi: expected = "PPI"
        case .spi: expected = "SPI"
        default: expected = "LPI"
        }
        guard f[0] == expected else { throw bad("INTID \(intid) listed as \(f[0])") }
        if intid < 32 && vcpuTable == nil { throw bad("private INTID \(intid) outside a VCPU table") }
        let bits = f[3].map { $0 == "1" }  // P L A E H C G
        var irq = GICInterrupt(
            intid: intid, vcpu: intid < 32 ? vcpuTable : nil, enabled: bits[3],
            pending: bits[0] || (bits[5] && bits[1]), active: bits[2], priority: prio)
        irq.lineLevel = bits[1]
        irq.hw = bits[4]
        irq.config = bits[5] ? .level : .edge
        irq.group = bits[6] ? 1 : 0
        irq.hwintid = hwid
        irq.targetVCPU = target >= 0 ? target : nil
        irq.mpidr = mpidr
        irq.source = src
        return irq
    }
}

/// `kvm-vgic:FILE`: a saved copy of KVM's vgic-state debugfs file.
public final class KVMVGICTarget: GICStateReader {
    public let address: TargetAddress
    let text: String
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "KVM vgic-state text" }

    public init(address: TargetAddress, text: String) {
        self.address = address
        self.text = text
    }

    public func close() {}

    public func gicSnapshot() throws -> GICSnapshot {
        try KVMVGICState.parse(text, name: address.description)
    }
}
