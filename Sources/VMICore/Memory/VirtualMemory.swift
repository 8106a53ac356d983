/// Guest-virtual memory of one vCPU's address space: a page-table walker over any
/// `PhysicalMemory` (a dump, live Xen foreign mappings, a gdbstub in physical mode), with a
/// translation cache.
///
/// Drivers build one from a vCPU's registers (`PagingMode.x86`, `PagingMode.aarch64`) and, for
/// Xen PV, a `FrameMap` from machine to guest frames. A source that reads machine frames
/// directly (live PV through foreign mappings, which take machine frames) passes `.identity`
/// and gets machine addresses back from `translate`.
public final class VirtualMemory {
    public let physical: PhysicalMemory
    public let mode: PagingMode
    let frames: FrameMap
    /// Virtual page number -> guest-physical page base. Bounded; cleared when full.
    private var cache: [UInt64: UInt64] = [:]
    static let cacheCapacity = 1 << 14
    public private(set) var walks = 0

    public init(physical: PhysicalMemory, mode: PagingMode, frames: FrameMap = .identity) {
        self.physical = physical
        self.mode = mode
        self.frames = frames
    }

    /// The guest-physical address behind `va` (cached per 4 KiB page).
    public func translate(_ va: UInt64) throws -> UInt64 {
        let page = va >> 12
        if let base = cache[page] { return base | (va & 0xfff) }
        let t = try walk(va)
        if cache.count >= Self.cacheCapacity { cache.removeAll(keepingCapacity: true) }
        cache[page] = t.physical & ~0xfff
        return t.physical
    }

    /// A full walk, bypassing the cache: the physical address and the size of the mapping page.
    public func walk(_ va: UInt64) throws -> Translation {
        walks += 1
        let read = { (a: UInt64) in try self.physical.readPhysicalUInt64(a) }
        switch mode {
        case .identity:
            return Translation(physical: va, pageSize: 4096)
        case .x86_64(let root, let levels):
            return try X86PageWalk.translate(va, root: root, levels: levels, frames: frames, read: read)
        case .aarch64(let ttbr0, let ttbr1, let t0sz, let t1sz):
            return try AArch64PageWalk.translate(va, ttbr0: ttbr0, ttbr1: ttbr1, t0sz: t0sz, t1sz: t1sz, read: read)
        }
    }

    /// Reads `count` bytes at virtual `va`, page by page (pages need not be physically contiguous).
    public func read(_ va: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, count <= maxMemoryReadCount else {
            throw VMIError("read of \(count) bytes refused (at most \(maxMemoryReadCount))")
        }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var at = va
        while out.count < count {
            let n = min(count - out.count, Int(4096 - (at & 0xfff)))
            out += try physical.readPhysical(try translate(at), count: n)
            at &+= UInt64(n)
        }
        return out
    }

    /// Forgets cached translations (after the guest changed its page tables).
    public func invalidate() { cache.removeAll(keepingCapacity: true) }
}

/// Targets whose vCPUs' virtual address spaces can be read.
public protocol VirtualMemoryProvider: TargetDriver {
    /// The address space `vcpu` currently uses (its CR3 or TTBRs).
    func virtualMemory(vcpu: Int) throws -> VirtualMemory
}
