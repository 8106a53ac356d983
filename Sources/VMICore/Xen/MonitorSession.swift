#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Everything a monitor changes in one domain, and the teardown that undoes it: the ring, the
/// event sources switched on, our breakpoints, and (for the stepper) the trap flag.
///
/// Teardown order (notes/xen-lab.md, "Answering vm_event requests"): pause the domain; switch
/// every source off; put our breakpoint bytes back; take every request still in the ring and
/// answer it (`answerLeft`), so no vCPU stays paused on a sync event; unpause; then disable the
/// monitor (Xen refuses with EAGAIN until each vCPU has run once to apply the registers our
/// answers set, so this comes after the unpause: no new request can come, every source is off),
/// unmap the ring and close the channel. A vCPU not answered before the monitor goes away would
/// stay paused for good.
///
/// Every source is registered synchronous in Xen, even for vmi-watch's default asynchronous
/// mode (there we answer before writing the record): a vCPU then has at most one request in
/// the ring, the ring never fills, and after a kill -9 the ring can always be reclaimed
/// (`--force`). An asynchronous source lets a vCPU fill the ring and then sleep waiting for a
/// slot, and Xen refuses to disable a ring with a sleeper (EBUSY) for as long as the domain lives.
final class MonitorSession {
    let target: XenDomainTarget
    let ring: MonitorRing
    let breakpoints: SoftwareBreakpoints
    /// Our changes to the guest, recorded for a `--force` run after a SIGKILL.
    let ledger: GuestChangeLedger
    /// What `--force` undid of a killed listener's changes, one line each.
    private(set) var reclaimed: [String] = []
    private(set) var sources: [MonitorEvent] = []
    private var deviceModel: OpaquePointer?
    private var dmLogger: UnsafeMutablePointer<xentoollog_logger>?
    private var closed = false

    var control: XenControl { target.control }
    var domid: UInt32 { target.domid }

    init(target: XenDomainTarget, force: Bool) throws {
        self.target = target
        ring = try target.xen("enable the vm_event monitor") {
            // "domain web01", "domain 7": a possessive reads badly after the quoted form of `label`.
            try MonitorRing(control: target.control, domid: target.domid, label: "domain \(target.address.xenLabel)",
                force: force)
        }
        ledger = GuestChangeLedger(domid: target.domid)
        do {
            breakpoints = try SoftwareBreakpoints(control: target.control, domid: target.domid, ledger: ledger)
        } catch {
            ring.close()
            throw error
        }
        if force {
            // The killed listener's bytes, debug registers and trap flag go back first, domain
            // paused, then its vCPUs still waiting on unanswered requests are let go.
            let paused = (try? control.pause(domid)) != nil
            let wasPaused = ring.reclaimed ? ledger.pausedAtStart() : nil
            if ring.reclaimed { reclaimed = ledger.reclaim(target, breakpoints: breakpoints) }
            try? releaseStaleVCPUs()
            if paused { try? control.unpause(domid) }
            if wasPaused == false { releaseStalePauses() }
        }
        ledger.recordStart(domainPaused: domainPaused)
    }

    private var domainPaused: Bool {
        guard let info = try? control.domainInfo(domid) else { return false }
        return info.flags & UInt32(XEN_DOMINF_paused) != 0
    }

    /// After `--force`, for a domain that was running when the killed listener began: the
    /// pauses it held when it died (a register write, a catch-up stop) go. Bounded: Xen counts
    /// pauses, and a killed listener holds at most a few.
    private func releaseStalePauses() {
        var released = 0
        while domainPaused, released < 4, (try? control.unpause(domid)) != nil { released += 1 }
        if released > 0 { reclaimed.append("\(released) pause\(released == 1 ? "" : "s") of the domain released") }
    }

    deinit { teardown { VMEventResponse.resume($0) } }

    /// After `--force`: a listener that was killed may have left vCPUs paused on sync events it
    /// never answered. An answer carrying VCPU_PAUSED resumes such a vCPU and is ignored for any
    /// other (Xen checks `vm_event_pause_count` first).
    private func releaseStaleVCPUs() throws {
        for v in try target.vcpus() { ring.put(VMEventResponse.release(vcpu: UInt32(v))) }
        try ring.notify()
    }

    /// Switches a source on and remembers it for teardown; sharing is fine (no-op the 2nd time).
    func enable(_ source: MonitorEvent) throws {
        if sources.contains(source) { return }
        try target.xen("enable \(source) events") { try source.set(true, control: control, domid: domid) }
        sources.append(source)
    }

    /// Delivers an exception to the guest as if we had not intercepted it
    /// (`xendevicemodel_inject_event`): the guest's own int3 (vector 3, software exception,
    /// with its length) or a debug exception we did not cause (vector 1, hardware exception).
    func reinject(vcpu: UInt32, vector: UInt8, type: UInt8, insnLength: UInt8, extra: UInt64 = 0) throws {
        if deviceModel == nil {
            let logger = cxen_quiet_logger()!
            dmLogger = logger
            deviceModel = try XenCall.pointer("xendevicemodel_open") { xendevicemodel_open(logger, 0) }
        }
        let dm = deviceModel!
        try XenCall.check("xendevicemodel_inject_event") {
            xendevicemodel_inject_event(dm, domid_t(truncatingIfNeeded: domid), Int32(vcpu), vector, type, 0xffff_ffff,
                insnLength, extra)
        }
    }

    /// X86_EVENTTYPE_* (xen/include/public/hvm/dm_op.h: "matches hvm.h").
    static let hardwareException: UInt8 = 3
    static let softwareException: UInt8 = 6

    /// Undoes everything; `answerLeft` answers each request still in the ring. Idempotent;
    /// every step runs even when an earlier one fails (the domain may be gone).
    func teardown(answerLeft: (vm_event_request_t) -> vm_event_response_t, whilePaused: () -> Void = {}) {
        if closed { return }
        closed = true
        let paused = (try? control.pause(domid)) != nil
        for source in sources.reversed() { try? source.set(false, control: control, domid: domid) }
        sources.removeAll()
        breakpoints.removeAll()
        drain(answerLeft)
        whilePaused()
        drain(answerLeft)
        if paused { try? control.unpause(domid) }
        drain(answerLeft)
        ledger.forgetStart()
        ring.close()
        if let dm = deviceModel { xendevicemodel_close(dm) }
        if let l = dmLogger { cxen_logger_destroy(l) }
        deviceModel = nil
        dmLogger = nil
    }

    private func drain(_ answer: (vm_event_request_t) -> vm_event_response_t) {
        var answered = 0
        while let req = ring.take() {
            ring.put(answer(req))
            answered += 1
        }
        if answered > 0 { try? ring.notify() }
    }
}

extension MonitorEvent: CustomStringConvertible {
    var description: String {
        switch self {
        case .controlRegister(let i, _): return ["cr0", "cr3", "cr4", "xcr0"][Int(i) & 3]
        case .msr(let m): return "msr \(hex(UInt64(m)))"
        case .softwareBreakpoint: return "int3"
        case .debugExceptions: return "debug"
        case .cpuid: return "cpuid"
        case .descriptorAccess: return "desc"
        case .guestRequest: return "guest-request"
        case .vmexit: return "vmexit"
        case .singlestep: return "singlestep"
        case .memAccess(let f, let n, _): return "mem_access on \(n) frames from \(hex(f))"
        }
    }
}
#endif
