#if canImport(CXen)
import CXen

/// vm_event monitoring of an HVM/PVH domain: `vmi-watch` on Xen.
extension XenDomainTarget: EventMonitor {
    public func check(_ specs: [EventSpec]) throws {
        try MonitorCapabilities.read(self).check(specs, target: self)
    }

    public func listen(
        _ specs: [EventSpec], options: ListenOptions, caughtUp: () throws -> Void,
        handler: (VMEvent) throws -> ListenDecision
    ) throws {
        let watcher = try EventWatcher(target: self, specs: specs, options: options)
        try watcher.run(caughtUp: caughtUp, handler)
    }
}

/// What Xen offers this domain (`xc_monitor_get_capabilities`), and the one clear error for a
/// kind it cannot deliver.
struct MonitorCapabilities {
    var bits: UInt32
    var isHVM: Bool

    static func read(_ target: XenDomainTarget) throws -> MonitorCapabilities {
        if target.domid == 0 {
            throw VMIError.unsupported(target.address, "watch events", because: "dom0 is the domain running this tool")
        }
        guard target.isHVM else { return MonitorCapabilities(bits: 0, isHVM: false) }
        var caps: UInt32 = 0
        try target.xen("read monitor capabilities") {
            try XenCall.check("xc_monitor_get_capabilities") {
                xc_monitor_get_capabilities(target.control.handle, target.domid, &caps)
            }
        }
        return MonitorCapabilities(bits: caps, isHVM: true)
    }

    func has(_ bit: Int32) -> Bool { bits & (1 << UInt32(bit)) != 0 }

    /// Xen reports the monitor-trap-flag single-step only on VMX hosts: the one sign of Intel
    /// VT-x (and so EPT) a domain's capabilities give.
    var hasVMX: Bool { has(XEN_DOMCTL_MONITOR_EVENT_SINGLESTEP) }

    /// nil when `kind` can be watched here, else why not.
    func reason(_ kind: EventSpec.Kind) -> String? {
        if !isHVM { return "PV guests have no vm_event monitor (HVM and PVH guests do)" }
        switch kind {
        case .io: return "this Xen's vm_event interface (version 7) has no I/O-instruction event"
        case .hbreak where !has(XEN_DOMCTL_MONITOR_EVENT_DEBUG_EXCEPTION):
            return "hardware breakpoints need debug-exception events, which Xen does not offer here"
        case .privcall: return "privileged-call (SMC) events exist on Arm only"
        case .mem where !hasVMX: return "mem_access needs Intel EPT; this host has none (AMD SVM)"
        case .vmexit where !hasVMX: return "vmexit events come from Intel VMX only; this host is AMD SVM"
        case .singlestep where !hasVMX:
            return "single-step events need the VMX monitor trap flag (Intel); on AMD use vmi-step (RFLAGS.TF)"
        default: break
        }
        if let bit = MonitorEvent.capabilityBit(kind), !has(bit) {
            return "Xen does not offer \(kind.rawValue) events for this domain (capabilities \(hex(UInt64(bits))))"
        }
        return nil
    }

    func check(_ specs: [EventSpec], target: XenDomainTarget) throws {
        for spec in specs {
            if let why = reason(spec.kind) {
                throw VMIError.unsupported(target.address, "watch \(spec.kind.rawValue)", because: why)
            }
        }
    }
}

/// The listen loop over one monitor session: registers the specs, answers every request,
/// hands reported events to the handler, and tears down on every exit.
final class EventWatcher {
    let target: XenDomainTarget
    let specs: [EventSpec]
    let options: ListenOptions
    let session: MonitorSession
    /// Kinds the user asked for (others arrive as carriers or side effects and are not reported).
    private var wanted: Set<EventSpec.Kind> = []
    /// Interrupt events are asked for one at a time (VM_EVENT_FLAG_GET_NEXT_INTERRUPT in the
    /// answer to a sync event): CR3 writes carry the first request of each vCPU.
    private var wantsInterrupts = false
    /// MSR indices asked for (empty with `msr` = all of `MonitorEvent.systemMSRs`).
    private var msrs: Set<UInt64> = []
    private let stepOvers: BreakpointStepOvers
    /// hbreak@ADDR: execution breakpoints in the debug registers of each watched vCPU.
    private var hardware: [UInt32: DebugRegisterBreakpoints] = [:]
    private var hardwareStepOvers: BreakpointStepOvers!

    init(target: XenDomainTarget, specs: [EventSpec], options: ListenOptions) throws {
        self.target = target
        self.specs = specs
        self.options = options
        session = try MonitorSession(target: target, force: options.force)
        stepOvers = BreakpointStepOvers(session.breakpoints)
        hardwareStepOvers = BreakpointStepOvers(
            lift: { [unowned self] a, v in try hardware[v]?.remove(a) },
            arm: { [unowned self] a, v in try hardware[v]?.insert(a) })
    }

    deinit { teardown() }

    private func teardown() {
        session.teardown(answerLeft: answerOnTeardown) {
            stepOvers.abandon(target)
            hardwareStepOvers.abandon(target)
            for bps in hardware.values { bps.removeAll() }
        }
    }

    private func register() throws {
        var needStepOver = false
        var needHardware = false
        for spec in specs {
            wanted.insert(spec.kind)
            switch spec.kind {
            case .cr0, .cr3, .cr4, .xcr0:
                let index = MonitorEvent.controlRegisterIndex(spec.kind)
                try session.enable(.controlRegister(index: index, sync: true))
            case .msr:
                let indices = spec.msrIndex.map { [$0] } ?? MonitorEvent.systemMSRs
                for m in indices {
                    msrs.insert(UInt64(m))
                    try session.enable(.msr(m))
                }
            case .int3:
                try session.enable(.softwareBreakpoint)
            case .breakpoint:
                try session.enable(.softwareBreakpoint)
                needStepOver = true
            case .cpuid:
                try session.enable(.cpuid)
            case .debug:
                break  // below: sync when we also step over breakpoints
            case .interrupt:
                wantsInterrupts = true
                try session.enable(.controlRegister(index: VM_EVENT_X86_CR3, sync: true))
            case .desc:
                try session.enable(.descriptorAccess)
            case .guestRequest:
                try session.enable(.guestRequest(sync: true))
            case .vmexit:
                try session.enable(.vmexit(sync: true))
            case .singlestep:
                let vcpus = try options.vcpu.map { [$0] } ?? target.vcpus()
                try session.enable(.singlestep(vcpus: vcpus.map(UInt32.init)))
            case .mem:
                try enableMemAccess(spec)
            case .hbreak:
                needHardware = true
            case .io, .privcall:
                break  // refused by check()
            }
        }
        // Sync (see MonitorSession): we re-deliver the debug exceptions that are not ours.
        if needStepOver || needHardware || wanted.contains(.debug) { try session.enable(.debugExceptions(sync: true)) }
        if needHardware {
            for v in try options.vcpu.map({ [$0] }) ?? target.vcpus() {
                let bps = DebugRegisterBreakpoints(target: target, vcpu: v, ledger: session.ledger)
                hardware[UInt32(v)] = bps
                for spec in specs where spec.kind == .hbreak {
                    try target.xen("set a debug-register breakpoint on vcpu \(v)") { try bps.insert(spec.address ?? 0) }
                }
            }
        }
        if needStepOver {
            try target.xen("insert breakpoints") {
                try target.control.pause(target.domid)
                defer { try? target.control.unpause(target.domid) }
                for spec in specs where spec.kind == .breakpoint {
                    try session.breakpoints.insert(spec.address ?? 0, vcpu: options.vcpu ?? 0)
                }
            }
        }
    }

    private func enableMemAccess(_ spec: EventSpec) throws {
        let allowed = UInt32(7) & ~UInt32(spec.access.rawValue)
        switch spec.range {
        case .frames(let r)?:
            try session.enable(.memAccess(first: r.lowerBound, count: UInt32(clamping: r.count), allowed: allowed))
        case .virtual(let address, let length)?:
            let page = UInt64(cxen_page_size)
            var va = address & ~(page - 1)
            while va < address &+ length {
                let frame = try session.breakpoints.frame(of: va, vcpu: options.vcpu ?? 0)
                try session.enable(.memAccess(first: frame, count: 1, allowed: allowed))
                va &+= page
            }
        case nil:
            break
        }
    }

    /// How long the ring may stay quiet before we check the domain still exists.
    static let idleCheck = 1.0

    func run(caughtUp: () throws -> Void, _ handler: (VMEvent) throws -> ListenDecision) throws {
        defer { teardown() }
        try register()
        var reported: [VMEvent] = []
        while true {
            switch try session.ring.wait(deadline: options.deadline, stopFD: options.stopFD, slice: Self.idleCheck) {
            case .stop:
                return
            case .timeout:
                if let d = options.deadline, monotonicSeconds() >= d { return }
                try target.requireAlive()
                continue
            case .requests:
                break
            }
            reported.removeAll(keepingCapacity: true)
            var answered = false
            while var req = session.ring.take() {
                let backlog = session.ring.backlog
                let (rsp, event) = try withUnsafePointer(to: &req) { try process($0, backlog: backlog) }
                guard let event else {
                    session.ring.put(rsp)
                    answered = true
                    continue
                }
                if options.sync {
                    // The vCPU waits until its record is written; answer it even if writing fails.
                    let decision: ListenDecision
                    do {
                        decision = try handler(event)
                        try caughtUp()
                    } catch {
                        session.ring.put(rsp)
                        try? session.ring.notify()
                        throw error
                    }
                    session.ring.put(rsp)
                    try session.ring.notify()
                    if decision == .stop { return }
                } else {
                    session.ring.put(rsp)
                    answered = true
                    reported.append(event)
                }
            }
            // Observe and resume at once: every vCPU runs again before a line is written.
            if answered { try session.ring.notify() }
            for event in reported where try handler(event) == .stop { return }
            try caughtUp()
        }
    }

    /// The answer to one request, and the record to report (nil: not asked for, or not ours).
    private func process(_ p: UnsafePointer<vm_event_request_t>, backlog: Int) throws -> (vm_event_response_t, VMEvent?)
    {
        let req = p.pointee
        let vcpu = req.vcpu_id
        let shown = options.vcpu.map { UInt32($0) == vcpu } ?? true
        let regs = req.data.regs.x86
        var rsp = VMEventResponse.resume(req)
        var report = true
        switch Int32(req.reason) {
        case VM_EVENT_REASON_CPUID:
            rsp = VMEventResponse.completeCPUID(req)
        case VM_EVENT_REASON_WRITE_CTRLREG:
            if wantsInterrupts && shown { rsp = VMEventResponse.nextInterrupt(rsp) }
        case VM_EVENT_REASON_INTERRUPT:
            if shown { rsp = VMEventResponse.nextInterrupt(rsp) }
        case VM_EVENT_REASON_MOV_TO_MSR:
            report = msrs.contains(req.u.mov_to_msr.msr)
        case VM_EVENT_REASON_SOFTWARE_BREAKPOINT:
            if session.breakpoints.contains(regs.rip) {
                rsp = try stepOvers.begin(req)
                let event = VMEventRequest.event(p, kind: .breakpoint, backlog: backlog)
                return (rsp, shown ? event : nil)
            }
            try session.reinject(vcpu: vcpu, vector: 3, type: MonitorSession.softwareException,
                insnLength: UInt8(truncatingIfNeeded: req.u.software_breakpoint.insn_length))
        case VM_EVENT_REASON_DEBUG_EXCEPTION:
            if let done = try stepOvers.finish(req) { return (done, nil) }
            if let done = try hardwareStepOvers.finish(req) { return (done, nil) }
            if hardware[vcpu]?.contains(regs.rip) == true {
                // A fault: the instruction has not run. Lift the slot for one TF step.
                rsp = try hardwareStepOvers.begin(req)
                return (rsp, VMEventRequest.event(p, kind: .hbreak, backlog: backlog))
            }
            if req.flags & UInt32(VM_EVENT_FLAG_VCPU_PAUSED) != 0 {
                try session.reinject(vcpu: vcpu, vector: 1, type: MonitorSession.hardwareException,
                    insnLength: UInt8(truncatingIfNeeded: req.u.debug_exception.insn_length),
                    extra: req.u.debug_exception.pending_dbg)
            }
        case VM_EVENT_REASON_MEM_ACCESS:
            rsp = VMEventResponse.emulate(req)
        default:
            break
        }
        guard report, shown, let kind = VMEventRequest.kind(of: p), wanted.contains(kind) else { return (rsp, nil) }
        return (rsp, VMEventRequest.event(p, kind: kind, backlog: backlog))
    }

    /// What a request left in the ring at teardown gets: CPUID completed (Xen already put the
    /// results in the registers), a vCPU stepping over a breakpoint gets its own TF back (the
    /// byte is already restored), the guest's own int3 re-executes once the monitor is off.
    private func answerOnTeardown(_ req: vm_event_request_t) -> vm_event_response_t {
        switch Int32(req.reason) {
        case VM_EVENT_REASON_CPUID:
            return VMEventResponse.completeCPUID(req)
        case VM_EVENT_REASON_DEBUG_EXCEPTION:
            return (try? stepOvers.finish(req, rearm: false)) ?? (try? hardwareStepOvers.finish(req, rearm: false))
                ?? VMEventResponse.resume(req)
        default:
            return VMEventResponse.resume(req)
        }
    }
}
#endif
