/// Everything one source knows about a GICv3 and its virtual CPU interfaces, in one typed value.
/// Each source fills what it has (a migration stream: distributor, redistributors, ICC/ICH system
/// registers; MMIO: distributor and redistributors; KVM vgic-state: per-INTID rows; Xen's `q` key:
/// list registers) and leaves the rest empty; records are made from it in GICRecords.swift.
public struct GICSnapshot {
    public var distributor: GICDistributor?
    public var redistributors: [GICRedistributor] = []
    public var cpuInterfaces: [GICCPUInterface] = []
    public var listRegisters: [GICListRegisterEntry] = []
    /// Per-INTID state given directly by the source (KVM); the others derive it from the banks.
    public var interrupts: [GICInterrupt] = []
    /// Xen's software view: interrupts a vCPU has in flight or queued for a free LR.
    public var inflight: [XenInflightIRQ] = []

    public init() {}

    /// The vCPUs (CPU interfaces) this snapshot has per-CPU state for, in order.
    public var vcpus: [Int] {
        let all =
            redistributors.map(\.vcpu) + cpuInterfaces.map(\.vcpu) + listRegisters.map(\.vcpu)
            + interrupts.compactMap(\.vcpu) + inflight.map(\.vcpu)
        return Array(Set(all)).sorted()
    }

    /// Per-INTID state: the source's own rows, else SGIs/PPIs of every redistributor then SPIs.
    public func allInterrupts() -> [GICInterrupt] {
        if !interrupts.isEmpty { return interrupts }
        var out: [GICInterrupt] = []
        for r in redistributors {
            guard let bank = r.bank else { continue }
            out += bank.interrupts(vcpu: r.vcpu)
        }
        if let d = distributor, let bank = d.spis {
            out += bank.interrupts(vcpu: nil, routes: d.irouter)
        }
        return out
    }
}

/// GICD_CTLR/TYPER/IIDR and the SPI state. KVM's text gives a summary instead of registers.
public struct GICDistributor {
    public var ctlr: UInt32?
    public var typer: UInt32?
    public var iidr: UInt32?
    /// SPIs (INTID 32 and up), from GICD_I*R<n>.
    public var spis: InterruptBank?
    /// GICD_IROUTER<n>, indexed by INTID (entries below 32 unused).
    public var irouter: [UInt64] = []
    /// KVM vgic-state summary: `vgic_model`, `nr_spis`, `nr_lpis`, `enabled`.
    public var model: String?
    public var nrSPIs: Int?
    public var nrLPIs: Int?
    public var enabled: Bool?

    public init() {}
}

/// One redistributor: its control frame (GICR_CTLR, TYPER, WAKER, PROPBASER, PENDBASER) and the
/// SGI/PPI state of its SGI frame.
public struct GICRedistributor {
    public var vcpu: Int
    public var ctlr: UInt32?
    public var iidr: UInt32?
    public var typer: UInt64?
    public var waker: UInt32?
    public var propbaser: UInt64?
    public var pendbaser: UInt64?
    /// Guest-physical address of its RD frame, for MMIO sources.
    public var base: UInt64?
    /// INTIDs 0-31.
    public var bank: InterruptBank?

    public init(vcpu: Int) { self.vcpu = vcpu }
}

/// System registers of one CPU interface (ICC_*) and its virtual interface control (ICH_*). Only
/// a migration stream carries them: MMIO cannot reach system registers.
public struct GICCPUInterface {
    public struct Register {
        public var key: StaticString
        public var layout: RegisterLayout
        public var raw: UInt64
        /// True when computed from other registers rather than read (ICH_ELRSR_EL2, ICH_MISR_EL2).
        public var derived: Bool
    }

    public var vcpu: Int
    public var registers: [Register] = []
    /// Active-priority registers, four words each: icc_ap0r, icc_ap1r_s, icc_ap1r_ns, ich_ap0r, ich_ap1r.
    public var activePriorities: [(key: StaticString, words: [UInt64])] = []

    public init(vcpu: Int) { self.vcpu = vcpu }

    public func value(_ key: String) -> UInt64? {
        registers.first { $0.key.description == key }?.raw
    }
}

/// One list register of one (v)CPU.
public struct GICListRegisterEntry {
    public enum Origin: String, Sendable {
        /// Read from the CPU (a migration stream's ich_lr_el2, Xen's HW_LR of the running vCPU).
        case hardware
        /// Xen's saved copy for a vCPU that is not running on the CPU printing it (VCPU_LR).
        case saved
    }

    public var vcpu: Int
    public var index: Int
    public var lr: ListRegister
    public var origin: Origin
    /// Xen: the guest the vCPU belongs to, the physical CPU it is on, and whether it was running
    /// there (`[has=T]`) when the key was handled.
    public var domid: Int?
    public var pcpu: Int?
    public var running: Bool?

    public init(
        vcpu: Int, index: Int, lr: ListRegister, origin: Origin, domid: Int? = nil, pcpu: Int? = nil,
        running: Bool? = nil
    ) {
        self.vcpu = vcpu
        self.index = index
        self.lr = lr
        self.origin = origin
        self.domid = domid
        self.pcpu = pcpu
        self.running = running
    }
}

/// Xen's `Inflight irq=I lr=L` / `Pending irq=I` lines.
public struct XenInflightIRQ: Equatable {
    public var domid: Int?
    public var vcpu: Int
    public var intid: UInt32
    /// The LR holding it; nil when only queued (`Pending irq=`: waiting for a free LR).
    public var lr: Int?
    public var queued: Bool
}

/// The state of one interrupt.
public struct GICInterrupt: Equatable {
    public enum Config: String, Sendable { case edge, level }

    public var intid: UInt32
    /// The CPU a private interrupt (SGI/PPI) belongs to; nil for SPIs and LPIs.
    public var vcpu: Int?
    public var enabled: Bool
    public var pending: Bool
    public var active: Bool
    public var group: Int?
    public var grpmod: Bool?
    public var priority: Int
    public var config: Config?
    /// GICD_IROUTER for SPIs.
    public var route: UInt64?
    // KVM's software model only.
    public var hw: Bool?
    public var hwintid: Int?
    public var lineLevel: Bool?
    public var targetVCPU: Int?
    public var mpidr: UInt64?
    public var source: Int?

    public init(intid: UInt32, vcpu: Int?, enabled: Bool, pending: Bool, active: Bool, priority: Int) {
        self.intid = intid
        self.vcpu = vcpu
        self.enabled = enabled
        self.pending = pending
        self.active = active
        self.priority = priority
    }

    public var isInteresting: Bool { enabled || pending || active }
}

/// The bitmap registers of a run of INTIDs as the GIC holds them: GICD_IGROUPR<n>, IGRPMODR,
/// ISENABLER, ISPENDR, ISACTIVER (one bit per INTID, bit n%32 of word n/32), ICFGR folded into an
/// edge bitmap, IPRIORITYR bytes. `level` is QEMU's input line level, kept apart from the pending
/// latch in its migration stream: a level-triggered interrupt is pending when its latch or its
/// line is set (QEMU hw/intc/arm_gicv3_dist.c gicd_read_bitmap_reg, arm_gicv3_redist.c
/// GICR_ISPENDR0), so `interrupts()` folds it in exactly as an ISPENDR read would.
public struct InterruptBank {
    public var first: Int
    public var count: Int
    public var group: [UInt32]
    public var grpmod: [UInt32]
    public var enabled: [UInt32]
    public var pending: [UInt32]
    public var active: [UInt32]
    public var edge: [UInt32]
    public var level: [UInt32]?
    public var priority: [UInt8]

    /// Arrays are indexed by INTID (word n/32, byte n); INTIDs first..<first+count are valid.
    public init(
        first: Int, count: Int, group: [UInt32], grpmod: [UInt32], enabled: [UInt32], pending: [UInt32],
        active: [UInt32], edge: [UInt32], level: [UInt32]?, priority: [UInt8]
    ) {
        self.first = first
        self.count = count
        self.group = group
        self.grpmod = grpmod
        self.enabled = enabled
        self.pending = pending
        self.active = active
        self.edge = edge
        self.level = level
        self.priority = priority
    }

    static func bit(_ words: [UInt32], _ n: Int) -> Bool {
        n / 32 < words.count && words[n / 32] & (1 << UInt32(n % 32)) != 0
    }

    public func interrupts(vcpu: Int?, routes: [UInt64] = []) -> [GICInterrupt] {
        (first..<first + count).map { n in
            let edgeTriggered = Self.bit(edge, n)
            let line = level.map { Self.bit($0, n) } ?? false
            var irq = GICInterrupt(
                intid: UInt32(n), vcpu: vcpu, enabled: Self.bit(enabled, n),
                pending: Self.bit(pending, n) || (!edgeTriggered && line), active: Self.bit(active, n),
                priority: n < priority.count ? Int(priority[n]) : 0)
            irq.group = Self.bit(group, n) ? 1 : 0
            irq.grpmod = Self.bit(grpmod, n)
            irq.config = edgeTriggered ? .edge : .level
            if level != nil { irq.lineLevel = line }
            if n >= 32 && n < routes.count { irq.route = routes[n] }
            return irq
        }
    }
}

/// Where a GIC snapshot comes from: migration streams, KVM text and Xen console text answer
/// directly; MMIO targets go through `GICMMIOReader` over their `PhysicalMemory`.
public protocol GICStateReader: TargetDriver {
    func gicSnapshot() throws -> GICSnapshot
}
