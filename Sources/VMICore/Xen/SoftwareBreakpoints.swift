#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Our own `int3` (0xCC) breakpoints in guest code, written through a writable foreign mapping
/// of the frame that holds each address. Every byte replaced is remembered and put back by
/// `removeAll()` (teardown), and only where 0xCC is still there: a guest that rewrote its code
/// in the meantime keeps what it wrote.
final class SoftwareBreakpoints {
    struct Site {
        var address: UInt64
        var frame: UInt64
        var original: UInt8
        /// False while the original byte is back for a step over it.
        var armed: Bool
    }

    static let int3: UInt8 = 0xcc
    let control: XenControl
    let domid: UInt32
    let ledger: GuestChangeLedger
    private let memory: OpaquePointer
    private let logger: UnsafeMutablePointer<xentoollog_logger>
    private(set) var sites: [UInt64: Site] = [:]

    init(control: XenControl, domid: UInt32, ledger: GuestChangeLedger) throws {
        self.control = control
        self.domid = domid
        self.ledger = ledger
        let logger = cxen_quiet_logger()!
        do {
            memory = try XenCall.pointer("xenforeignmemory_open") { xenforeignmemory_open(logger, 0) }
        } catch {
            cxen_logger_destroy(logger)
            throw error
        }
        self.logger = logger
    }

    deinit {
        removeAll()
        xenforeignmemory_close(memory)
        cxen_logger_destroy(logger)
    }

    var addresses: [UInt64] { sites.keys.sorted() }

    func contains(_ address: UInt64) -> Bool { sites[address] != nil }

    /// The guest frame holding virtual `address`, through `vcpu`'s page tables
    /// (`xc_translate_foreign_address`; kernel addresses translate alike on every vCPU).
    func frame(of address: UInt64, vcpu: Int) throws -> UInt64 {
        let page = UInt64(cxen_page_size)
        errno = 0
        let f = xc_translate_foreign_address(control.handle, domid, Int32(vcpu), address & ~(page - 1))
        if f == 0 {
            throw VMIError("guest address \(hex(address)) is not mapped on vcpu \(vcpu)")
        }
        return UInt64(f)
    }

    /// Calls `body` with frame `frame` mapped read-write.
    func withFrame<T>(_ frame: UInt64, _ body: (UnsafeMutablePointer<UInt8>) throws -> T) throws -> T {
        var pfn = xen_pfn_t(frame)
        var err: Int32 = 0
        let mapped = try XenCall.pointer("xenforeignmemory_map") {
            xenforeignmemory_map(memory, domid, PROT_READ | PROT_WRITE, 1, &pfn, &err)
        }
        defer { xenforeignmemory_unmap(memory, mapped, 1) }
        if err != 0 { throw XenCallError(call: "xenforeignmemory_map", errno: err < 0 ? -err : err) }
        return try body(mapped.assumingMemoryBound(to: UInt8.self))
    }

    private func offset(_ address: UInt64) -> Int { Int(address & (UInt64(cxen_page_size) - 1)) }

    /// Plants 0xCC at `address`; planting twice is a no-op.
    func insert(_ address: UInt64, vcpu: Int) throws {
        if sites[address] != nil { return }
        let f = try frame(of: address, vcpu: vcpu)
        let original = try withFrame(f) { p -> UInt8 in
            let o = p[offset(address)]
            p[offset(address)] = SoftwareBreakpoints.int3
            return o
        }
        sites[address] = Site(address: address, frame: f, original: original, armed: true)
        ledger.recordInt3(address, frame: f, original: original)
    }

    /// Puts the original byte back for good.
    func remove(_ address: UInt64) throws {
        guard let site = sites.removeValue(forKey: address) else { return }
        if site.armed { try restore(site) }
        ledger.forgetInt3(address)
    }

    /// Original byte back while a vCPU steps over it; `rearm` plants 0xCC again.
    func disarm(_ address: UInt64) throws {
        guard var site = sites[address], site.armed else { return }
        try restore(site)
        site.armed = false
        sites[address] = site
    }

    func rearm(_ address: UInt64) throws {
        guard var site = sites[address], !site.armed else { return }
        try withFrame(site.frame) { p in
            site.original = p[offset(address)]
            p[offset(address)] = SoftwareBreakpoints.int3
        }
        site.armed = true
        sites[address] = site
    }

    private func restore(_ site: Site) throws {
        try withFrame(site.frame) { p in
            if p[offset(site.address)] == SoftwareBreakpoints.int3 { p[offset(site.address)] = site.original }
        }
    }

    /// A killed listener's byte: `original` back where 0xCC is still at `address`'s offset in
    /// `frame`; true when it was.
    func restoreStale(address: UInt64, frame: UInt64, original: UInt8) throws -> Bool {
        try withFrame(frame) { p in
            guard p[offset(address)] == SoftwareBreakpoints.int3 else { return false }
            p[offset(address)] = original
            return true
        }
    }

    /// Every original byte back (teardown); errors are ignored so the rest still runs.
    func removeAll() {
        for address in addresses { try? remove(address) }
    }
}
#endif

#if canImport(CXen)
/// vCPUs stepping over one of our breakpoints: the breakpoint is lifted (the original byte
/// back, or the debug-register slot freed) and TF is set for exactly one instruction; the
/// debug exception that follows arms it again and gives the vCPU its own TF back. (Another
/// vCPU passing a software breakpoint meanwhile runs the original instruction unseen: the price
/// of not pausing the whole domain for every hit.)
final class BreakpointStepOvers {
    /// Lifts / re-arms the breakpoint at an address for a vCPU.
    typealias Action = (_ address: UInt64, _ vcpu: UInt32) throws -> Void
    private let lift: Action
    private let arm: Action
    private(set) var pending: [UInt32: (address: UInt64, trapFlag: Bool)] = [:]

    init(lift: @escaping Action, arm: @escaping Action) {
        self.lift = lift
        self.arm = arm
    }

    convenience init(_ breakpoints: SoftwareBreakpoints) {
        self.init(lift: { a, _ in try breakpoints.disarm(a) }, arm: { a, _ in try breakpoints.rearm(a) })
    }

    /// The answer to a hit of ours at the request's rip.
    func begin(_ req: vm_event_request_t) throws -> vm_event_response_t {
        let regs = req.data.regs.x86
        try lift(regs.rip, req.vcpu_id)
        pending[req.vcpu_id] = (regs.rip, regs.rflags & X86Flags.trap != 0)
        return VMEventResponse.trapFlag(req, true)
    }

    /// The answer to a debug exception that ends a step-over, or nil when it is not one.
    func finish(_ req: vm_event_request_t, rearm: Bool = true) throws -> vm_event_response_t? {
        guard let over = pending.removeValue(forKey: req.vcpu_id) else { return nil }
        if rearm { try arm(over.address, req.vcpu_id) }
        return VMEventResponse.trapFlag(req, over.trapFlag)
    }

    /// Teardown, domain paused, ring drained: vCPUs still mid-step get their own TF back
    /// through their registers (the monitor that would catch the trap is going away).
    func abandon(_ target: XenDomainTarget) {
        for (vcpu, over) in pending {
            guard let rflags = try? target.registers(vcpu: Int(vcpu))["rflags"] else { continue }
            try? target.setRegisters(vcpu: Int(vcpu), [("rflags", X86Flags.withTrap(rflags, over.trapFlag))])
        }
        pending.removeAll()
    }
}
#endif
