/// Reads the distributor and redistributors through guest-physical memory (a gdbstub in physical
/// mode, a live domain's foreign mappings): any `PhysicalMemory`.
///
/// Only registers without read side effects are touched: identification and control registers,
/// the set-enable/set-pending/set-active views, groups, priorities, configuration, routing. Never
/// the clear views, the SGI generation or message registers, nor any ICC_* (system registers; IAR
/// reads acknowledge an interrupt). Each register is read at its own width (4 bytes; 8 for
/// GICD_IROUTER and GICR_TYPER/PROPBASER/PENDBASER), as emulated GICs refuse wider accesses.
///
/// Offsets: Arm IHI 0069H 12.8 table 12-25 (GICD), 12.10 table 12-27/12-29 (GICR RD and SGI
/// frames); Linux include/linux/irqchip/arm-gic-v3.h GICD_*, GICR_*, GICR_SGI_BASE (SZ_64K).
public struct GICMMIOReader {
    /// QEMU's virt board (hw/arm/virt.c base_memmap VIRT_GIC_DIST, VIRT_GIC_REDIST).
    public static let virtDistributorBase: UInt64 = 0x0800_0000
    public static let virtRedistributorBase: UInt64 = 0x080A_0000
    /// A redistributor region rarely holds more; the walk also stops at GICR_TYPER.Last.
    public static let maxRedistributors = 512

    public let memory: PhysicalMemory
    public let distributorBase: UInt64
    public let redistributorBase: UInt64

    public init(memory: PhysicalMemory, distributorBase: UInt64? = nil, redistributorBase: UInt64? = nil) {
        self.memory = memory
        self.distributorBase = distributorBase ?? Self.virtDistributorBase
        self.redistributorBase = redistributorBase ?? Self.virtRedistributorBase
    }

    enum GICD {
        static let ctlr: UInt64 = 0x0000, typer: UInt64 = 0x0004, iidr: UInt64 = 0x0008
        static let igroupr: UInt64 = 0x0080, isenabler: UInt64 = 0x0100, ispendr: UInt64 = 0x0200
        static let isactiver: UInt64 = 0x0300, ipriorityr: UInt64 = 0x0400, icfgr: UInt64 = 0x0C00
        static let igrpmodr: UInt64 = 0x0D00, irouter: UInt64 = 0x6000, pidr2: UInt64 = 0xFFE8
    }

    enum GICR {
        static let ctlr: UInt64 = 0x0000, iidr: UInt64 = 0x0004, typer: UInt64 = 0x0008
        static let waker: UInt64 = 0x0014, propbaser: UInt64 = 0x0070, pendbaser: UInt64 = 0x0078
        static let sgiBase: UInt64 = 0x10000
    }

    func u32(_ a: UInt64) throws -> UInt32 {
        let b = try memory.readPhysical(a, count: 4)
        guard b.count == 4 else { throw VMIError("short read of 4 bytes at \(hex(a))") }
        return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }  // GIC registers are little-endian
    }

    func u64(_ a: UInt64) throws -> UInt64 {
        let b = try memory.readPhysical(a, count: 8)
        guard b.count == 8 else { throw VMIError("short read of 8 bytes at \(hex(a))") }
        return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Bitmap, priority and configuration registers of INTIDs 0..<count at one frame.
    func bank(_ base: UInt64, first: Int, count: Int) throws -> InterruptBank {
        let words = (first + count + 31) / 32
        func bitmap(_ off: UInt64) throws -> [UInt32] {
            try (0..<words).map { w in w * 32 < first ? 0 : try u32(base + off + UInt64(4 * w)) }
        }
        var priority = [UInt8](repeating: 0, count: words * 32)
        for w in stride(from: first / 4, to: (first + count + 3) / 4, by: 1) {
            let v = try u32(base + GICD.ipriorityr + UInt64(4 * w))
            for b in 0..<4 { priority[4 * w + b] = UInt8((v >> (8 * UInt32(b))) & 0xff) }
        }
        // GICD_ICFGR<n>: two bits per INTID, the upper one set for edge-triggered.
        var edge = [UInt32](repeating: 0, count: words)
        for w in stride(from: first / 16, to: (first + count + 15) / 16, by: 1) {
            let v = try u32(base + GICD.icfgr + UInt64(4 * w))
            for i in 0..<16 where v & (2 << (2 * UInt32(i))) != 0 {
                let n = w * 16 + i
                edge[n / 32] |= 1 << UInt32(n % 32)
            }
        }
        return InterruptBank(
            first: first, count: count, group: try bitmap(GICD.igroupr), grpmod: try bitmap(GICD.igrpmodr),
            enabled: try bitmap(GICD.isenabler), pending: try bitmap(GICD.ispendr), active: try bitmap(GICD.isactiver),
            edge: edge, level: nil, priority: priority)
    }

    public func snapshot() throws -> GICSnapshot {
        var snap = GICSnapshot()
        let d = distributorBase
        let pidr2 = try u32(d + GICD.pidr2)
        let arch = (pidr2 >> 4) & 0xf
        guard arch == 3 || arch == 4 else {
            throw VMIError("no GICv3 distributor at \(hex(d)): GICD_PIDR2.ArchRev is \(arch) (use --gicd-base)")
        }
        var dist = GICDistributor()
        dist.ctlr = try u32(d + GICD.ctlr)
        let typer = try u32(d + GICD.typer)
        dist.typer = typer
        dist.iidr = try u32(d + GICD.iidr)
        let lines = min(Int(typer & 0x1f) + 1, 32) * 32  // ITLinesNumber; INTIDs 1020+ are special
        let nIRQ = min(lines, 1020)
        dist.spis = try bank(d, first: 32, count: nIRQ - 32)
        dist.irouter = [UInt64](repeating: 0, count: nIRQ)
        for n in 32..<nIRQ { dist.irouter[n] = try u64(d + GICD.irouter + UInt64(8 * n)) }
        snap.distributor = dist

        var rd = redistributorBase
        for cpu in 0..<Self.maxRedistributors {
            var r = GICRedistributor(vcpu: cpu)
            let rpidr2 = try u32(rd + GICD.pidr2)
            guard (rpidr2 >> 4) & 0xf >= 3 else {
                throw VMIError("no GICv3 redistributor at \(hex(rd)) (use --gicr-base)")
            }
            r.base = rd
            r.ctlr = try u32(rd + GICR.ctlr)
            r.iidr = try u32(rd + GICR.iidr)
            let t = try u64(rd + GICR.typer)
            r.typer = t
            r.waker = try u32(rd + GICR.waker)
            r.propbaser = try u64(rd + GICR.propbaser)
            r.pendbaser = try u64(rd + GICR.pendbaser)
            // The SGI frame repeats the distributor's layout for INTIDs 0-31.
            r.bank = try bank(rd + GICR.sgiBase, first: 0, count: 32)
            // Processor_Number names the CPU; the frames are 2 x 64 KiB, 4 x 64 KiB with VLPIS.
            r.vcpu = Int((t >> 8) & 0xffff)
            snap.redistributors.append(r)
            if t & (1 << 4) != 0 { return snap }  // Last
            rd += t & (1 << 1) != 0 ? 0x40000 : 0x20000
        }
        throw VMIError("more than \(Self.maxRedistributors) redistributors without GICR_TYPER.Last")
    }
}
