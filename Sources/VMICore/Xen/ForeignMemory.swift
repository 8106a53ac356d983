#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Owns a `xenforeignmemory` handle and a small cache of read-only single-page mappings of one
/// domain; `deinit` unmaps every page and closes the handle.
///
/// Frames are what the hypervisor's foreign-map call takes: guest frame numbers for HVM/PVH
/// guests and **machine** frame numbers for PV guests (their page tables and cr3 hold machine
/// frames, so a page-table walk over this memory needs no p2m translation).
final class ForeignMemory {
    let handle: OpaquePointer
    let domid: UInt32
    let logger: UnsafeMutablePointer<xentoollog_logger>
    /// Mapped pages by frame, evicted oldest first.
    private var pages: [UInt64: UnsafeRawPointer] = [:]
    private var order: [UInt64] = []
    static let capacity = 64
    static let pageSize = Int(cxen_page_size)

    init(domid: UInt32) throws {
        let logger = cxen_quiet_logger()!
        do {
            handle = try XenCall.pointer("xenforeignmemory_open") { xenforeignmemory_open(logger, 0) }
        } catch {
            cxen_logger_destroy(logger)
            throw error
        }
        self.logger = logger
        self.domid = domid
    }

    deinit {
        for (_, page) in pages { xenforeignmemory_unmap(handle, UnsafeMutableRawPointer(mutating: page), 1) }
        xenforeignmemory_close(handle)
        cxen_logger_destroy(logger)
    }

    /// The page at `frame`, mapped read-only (cached). `xenforeignmemory_map` reports a frame it
    /// cannot map in its per-page error array rather than in errno.
    func page(_ frame: UInt64) throws -> UnsafeRawPointer {
        if let p = pages[frame] { return p }
        var pfn = xen_pfn_t(frame)
        var err: Int32 = 0
        let mapped = try XenCall.pointer("xenforeignmemory_map") {
            xenforeignmemory_map(handle, domid, PROT_READ, 1, &pfn, &err)
        }
        if err != 0 {
            xenforeignmemory_unmap(handle, mapped, 1)
            throw XenCallError(call: "xenforeignmemory_map", errno: err < 0 ? -err : err)
        }
        if order.count >= ForeignMemory.capacity {
            let old = order.removeFirst()
            if let p = pages.removeValue(forKey: old) {
                xenforeignmemory_unmap(handle, UnsafeMutableRawPointer(mutating: p), 1)
            }
        }
        let p = UnsafeRawPointer(mapped)
        pages[frame] = p
        order.append(frame)
        return p
    }

    /// Copies `count` bytes from frame-addressed memory, across page boundaries.
    func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        var addr = address
        let size = UInt64(ForeignMemory.pageSize)
        while out.count < count {
            let offset = Int(addr % size)
            let n = min(count - out.count, ForeignMemory.pageSize - offset)
            let p = try page(addr / size)
            out.append(contentsOf: UnsafeRawBufferPointer(start: p + offset, count: n))
            addr &+= UInt64(n)
        }
        return out
    }
}
#endif
