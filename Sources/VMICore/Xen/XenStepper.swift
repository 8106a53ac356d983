#if canImport(CXen)
import CXen

/// Single-stepping an HVM/PVH vCPU: Intel's monitor trap flag where Xen offers it
/// (`xc_monitor_singlestep`), otherwise RFLAGS.TF with debug-exception monitor events that are
/// answered and never re-delivered (AMD: notes/amd-single-step.md).
extension XenDomainTarget: SingleStepper {
    public func beginStepping(vcpu: Int, options: ListenOptions) throws -> StepSession {
        let caps = try MonitorCapabilities.read(self)
        guard caps.isHVM else {
            throw VMIError.unsupported(address, "single-step", because: "PV guests have no vm_event monitor (HVM and PVH guests do)")
        }
        guard caps.hasVMX || caps.has(XEN_DOMCTL_MONITOR_EVENT_DEBUG_EXCEPTION) else {
            throw VMIError.unsupported(address, "single-step", because: "Xen offers neither MTF nor debug-exception events here")
        }
        guard try vcpus().contains(vcpu) else { throw VMIError("\(label) has no vcpu \(vcpu)") }
        return try XenStepSession(target: self, vcpu: vcpu, options: options, mtf: caps.hasVMX)
    }
}

/// One stepped vCPU. It is "stopped" while we hold an unanswered sync request of it (a debug
/// exception after a TF step or at one of our breakpoints, a CPUID we complete, an MTF event):
/// its registers are the request's. Other vCPUs run on; their events are answered at once.
///
/// Breakpoints (the user's, `until`, and the stop after an instruction Xen completes) live in
/// this vCPU's debug registers, never in guest memory: see DebugRegisterBreakpoints. When the
/// breakpoint after an instruction Xen completed does not fire (a CPU that does not arm a
/// guest's DR7 on VMRUN: QEMU's TCG), the stepper catches up: it pauses the domain and stops the
/// vCPU where it is, exactly after the instruction when it got no further (HLT), else with a gap.
final class XenStepSession: StepSession {
    let target: XenDomainTarget
    let vcpu: Int
    let options: ListenOptions
    let mtf: Bool
    let session: MonitorSession
    /// Where our vCPU is stopped: on an unanswered sync request, or with the whole domain paused
    /// by us (a catch-up, below), holding the registers read then.
    private enum Stop {
        case request(vm_event_request_t)
        case domainPaused(RegisterSet)
    }
    private var current: Stop?
    /// The last stop came after instructions we did not see (a catch-up past the step-over).
    private(set) var lastStepHadGap = false
    private var gapNoticed = false
    /// The guest's own RFLAGS.TF when we took over, given back at the end.
    private var guestTrapFlag = false
    /// Our breakpoint at the stop's rip, put back once the vCPU has stepped off it.
    private var rearmAfterStep: UInt64?
    /// Every breakpoint of this stepper, in the vCPU's debug registers.
    private let hardware: DebugRegisterBreakpoints
    /// Those of our own making (after an instruction Xen completes, `until`), removed once reached.
    private var temporary: Set<UInt64> = []
    private var mtfActive = false
    private var loopWatch = LoopWatch()
    private var notices: [String] = []
    private var ended = false
    /// How long a step may take before we look at the vCPU, and before we give up.
    static let stallCheck = 2.0
    static let stallLimit = 10.0
    /// How long the breakpoint after an instruction Xen completes gets before we catch up: a
    /// CPU that arms it hits it within microseconds of the instruction (HLT: of the interrupt).
    static let stepOverWait = 0.1

    init(target: XenDomainTarget, vcpu: Int, options: ListenOptions, mtf: Bool) throws {
        self.target = target
        self.vcpu = vcpu
        self.options = options
        self.mtf = mtf
        session = try MonitorSession(target: target, force: options.force)
        hardware = DebugRegisterBreakpoints(target: target, vcpu: vcpu, ledger: session.ledger)
        notices += session.reclaimed.map { "reclaimed: \($0)" }
        do {
            // No CPUID monitor: CPUID is stepped like the other instructions Xen completes, with
            // TF clear and a breakpoint after it. (A sync CPUID monitor would let us complete it
            // ourselves, but in the lab every guest-wide CPUID monitor, xen-access's too, ended
            // in a guest kernel crash within seconds; see the closing note.)
            if mtf {
                mtfActive = true
                try session.enable(.singlestep(vcpus: [UInt32(vcpu)]))
            } else {
                try session.enable(.debugExceptions(sync: true))
                try armTrapFlag()
            }
            current = try waitForStop { [mtf] req in
                mtf ? Int32(req.reason) == VM_EVENT_REASON_SINGLESTEP : Self.isTrap(req)
            }
        } catch {
            end()
            throw error
        }
    }

    deinit { end() }

    /// Sets TF through a minimal HVM context load (HEADER + CPU + END), domain paused so the
    /// rflags we edit are the ones we write; the trap comes after the vCPU's next instruction.
    private func armTrapFlag() throws {
        try target.updateRegisters(vcpu: vcpu) { regs in
            let rflags = regs["rflags"] ?? 0
            // After a reclaimed ring the TF we see may be a killed stepper's, not the guest's:
            // guests practically never set TF themselves, so give it back clear.
            guestTrapFlag = rflags & X86Flags.trap != 0 && !session.ring.reclaimed
            session.ledger.recordTrapFlag(vcpu: vcpu, guestOwn: guestTrapFlag)
            return [("rflags", rflags | X86Flags.trap)]
        }
    }

    static func isTrap(_ req: vm_event_request_t) -> Bool {
        let reason = Int32(req.reason)
        return reason == VM_EVENT_REASON_DEBUG_EXCEPTION || reason == VM_EVENT_REASON_CPUID
    }

    // MARK: StepSession

    var breakpoints: [UInt64] { hardware.addresses.filter { !temporary.contains($0) } }

    func registers() throws -> RegisterSet {
        switch current {
        case .request(let req)?: return Self.stopRegisters(req, vcpu: vcpu)
        case .domainPaused(let regs)?: return regs
        case nil: throw VMIError("vcpu \(vcpu) is not stopped")
        }
    }

    /// The registers at a stop. A CPUID stop is reported as after the instruction (the results
    /// are in rax..rdx already; rip moves on when we answer).
    static func stopRegisters(_ req: vm_event_request_t, vcpu: Int) -> RegisterSet {
        var set = VMEventRegisters.registerSet(req.data.regs.x86, vcpu: vcpu)
        if Int32(req.reason) == VM_EVENT_REASON_CPUID {
            set["rip"] = req.data.regs.x86.rip &+ UInt64(req.u.cpuid.insn_length)
        }
        return set
    }

    func step() throws -> RegisterSet {
        guard let cur = current else { throw VMIError("vcpu \(vcpu) is not stopped") }
        lastStepHadGap = false
        let rip = try registers().pc ?? 0
        if hardware.contains(rip) {
            // An instruction breakpoint is a fault: lift it for this step or it fires again.
            try target.xen("lift the breakpoint at \(hex(rip))") { try hardware.remove(rip) }
            rearmAfterStep = rip
        }
        let stop: Stop
        if !mtf, let insn = try? readVirtual(rip, count: 15), let length = TrapFlagHazard.length(insn) {
            // Run it with TF clear and stop right after it on a debug-register breakpoint.
            let after = rip &+ UInt64(length)
            try plantTemporary(after)
            try answer(cur, trap: false)
            // Any of our breakpoints may come first (an interrupt handler runs in between).
            let hardware = self.hardware
            stop = try waitForStop(.stepOver(from: rip, to: after)) { req in
                Int32(req.reason) == VM_EVENT_REASON_DEBUG_EXCEPTION && hardware.contains(req.data.regs.x86.rip)
            }
        } else {
            try answer(cur, trap: true)
            let mtf = self.mtf
            stop = try waitForStop { req in
                mtf ? Int32(req.reason) == VM_EVENT_REASON_SINGLESTEP || Int32(req.reason) == VM_EVENT_REASON_CPUID
                    : Self.isTrap(req)
            }
        }
        try afterStop(stop)
        let regs = try registers()
        if let notice = loopWatch.observe(regs.pc ?? 0, vcpu: vcpu) { notices.append(notice) }
        return regs
    }

    func resume(until address: UInt64?) throws -> RegisterSet {
        guard current != nil else { throw VMIError("vcpu \(vcpu) is not stopped") }
        // Stopped on a breakpoint of ours: step off it first (the step puts it back).
        if hardware.contains(try registers().pc ?? 0) { _ = try step() }
        guard let cur = current else { throw VMIError("vcpu \(vcpu) is not stopped") }
        if let a = address { try plantTemporary(a) }
        try answer(cur, trap: mtf ? false : guestTrapFlag)
        let hardware = self.hardware
        let stop = try waitForStop(.unbounded) { req in
            Int32(req.reason) == VM_EVENT_REASON_DEBUG_EXCEPTION && hardware.contains(req.data.regs.x86.rip)
        }
        try afterStop(stop)
        return try registers()
    }

    /// Guest frames of virtual pages under one cr3: each step reads the bytes at rip, and a
    /// page-table walk (`xc_translate_foreign_address`) costs several hypercalls.
    private var frames: [UInt64: UInt64] = [:]
    private var framesCR3: UInt64 = 0

    private func frame(of va: UInt64) throws -> UInt64 {
        let page = va & ~(UInt64(cxen_page_size) - 1)
        let cr3: UInt64
        switch current {
        case .request(let req)?: cr3 = req.data.regs.x86.cr3
        case .domainPaused(let regs)?: cr3 = regs["cr3"] ?? 0
        case nil: cr3 = 0
        }
        if cr3 != framesCR3 || frames.count > 512 {
            frames.removeAll(keepingCapacity: true)
            framesCR3 = cr3
        }
        if cr3 != 0, let f = frames[page] { return f }
        let f = try session.breakpoints.frame(of: page, vcpu: vcpu)
        if cr3 != 0 { frames[page] = f }
        return f
    }

    func readVirtual(_ address: UInt64, count: Int) throws -> [UInt8] {
        let page = UInt64(cxen_page_size)
        var out: [UInt8] = []
        var va = address
        while out.count < count {
            let frame = try frame(of: va)
            let offset = va & (page - 1)
            let n = min(UInt64(count - out.count), page - offset)
            out += try target.readPhysical(frame * page + offset, count: Int(n))
            va &+= n
        }
        return out
    }

    func insertBreakpoint(_ address: UInt64) throws {
        temporary.remove(address)
        if rearmAfterStep == address { return }  // lifted for the current step; it comes back
        try target.xen("insert a breakpoint at \(hex(address))") { try hardware.insert(address) }
    }

    func removeBreakpoint(_ address: UInt64) throws {
        if rearmAfterStep == address {
            rearmAfterStep = nil
            return
        }
        guard hardware.contains(address), !temporary.contains(address) else {
            throw VMIError("no breakpoint at \(hex(address))")
        }
        try target.xen("remove the breakpoint at \(hex(address))") { try hardware.remove(address) }
    }

    func takeNotices() -> [String] {
        defer { notices.removeAll() }
        return notices
    }

    // MARK: stops and answers

    private func plantTemporary(_ address: UInt64) throws {
        if hardware.contains(address) || rearmAfterStep == address { return }
        try target.xen("set a breakpoint at \(hex(address))") { try hardware.insert(address) }
        temporary.insert(address)
    }

    /// Our vCPU stopped on `stop`: breakpoints we lifted go back, temporary ones reached go away
    /// (all of them after a catch-up: none of them fired).
    private func afterStop(_ stop: Stop) throws {
        current = stop
        if let a = rearmAfterStep {
            rearmAfterStep = nil
            try target.xen("put the breakpoint at \(hex(a)) back") { try hardware.insert(a) }
        }
        let reached: Set<UInt64>
        switch stop {
        case .request(let req):
            let rip = req.data.regs.x86.rip
            reached = Int32(req.reason) == VM_EVENT_REASON_DEBUG_EXCEPTION && temporary.contains(rip) ? [rip] : []
        case .domainPaused:
            reached = temporary
        }
        for a in reached {
            temporary.remove(a)
            try target.xen("remove the breakpoint at \(hex(a))") { try hardware.remove(a) }
        }
    }

    /// Lets our vCPU go: with TF set (`trap`) for one instruction, or without.
    private func answer(_ stop: Stop, trap: Bool) throws {
        current = nil
        switch stop {
        case .request(let req): try answer(req, trap: trap)
        case .domainPaused(let regs):
            // A catch-up stop (TF-stepping only): TF through the registers, then our pause ends,
            // even when TF could not be set (that error is still reported).
            let rflags = regs["rflags"] ?? 0
            let setTrap = Result {
                if (rflags & X86Flags.trap != 0) != trap {
                    try target.setRegisters(vcpu: vcpu, [("rflags", X86Flags.withTrap(rflags, trap))])
                }
            }
            try releasePause()
            try setTrap.get()
        }
    }

    /// A catch-up stop holds a pause of the whole domain (after a SIGKILL, `--force` releases it).
    private func holdPause() throws {
        try target.xen("pause the domain") { try target.control.pause(target.domid) }
    }

    private func releasePause() throws {
        try target.xen("unpause the domain") { try target.control.unpause(target.domid) }
    }

    private func answer(_ req: vm_event_request_t, trap: Bool) throws {
        var rsp: vm_event_response_t
        if mtf {
            rsp = Int32(req.reason) == VM_EVENT_REASON_CPUID ? VMEventResponse.completeCPUID(req) : VMEventResponse.resume(req)
            if trap != mtfActive {
                rsp.flags |= UInt32(VM_EVENT_FLAG_TOGGLE_SINGLESTEP)
                mtfActive = trap
            }
        } else if Int32(req.reason) == VM_EVENT_REASON_CPUID {
            rsp = VMEventResponse.completeCPUID(req, trapFlag: trap)
        } else {
            rsp = VMEventResponse.trapFlag(req, trap)
        }
        current = nil
        session.ring.put(rsp)
        try session.ring.notify()
    }

    /// The answer to every request that is not the stop we wait for.
    private func answerOther(_ req: vm_event_request_t) throws -> vm_event_response_t {
        switch Int32(req.reason) {
        case VM_EVENT_REASON_CPUID:
            return VMEventResponse.completeCPUID(req)
        case VM_EVENT_REASON_DEBUG_EXCEPTION:
            if req.vcpu_id == UInt32(vcpu) {
                // A late trap of ours (we answered without TF since): not the guest's.
                return VMEventResponse.trapFlag(req, guestTrapFlag)
            }
            try session.reinject(vcpu: req.vcpu_id, vector: 1, type: MonitorSession.hardwareException,
                insnLength: UInt8(truncatingIfNeeded: req.u.debug_exception.insn_length),
                extra: req.u.debug_exception.pending_dbg)
            return VMEventResponse.resume(req)
        default:
            return VMEventResponse.resume(req)
        }
    }

    /// Answers everything else until our vCPU raises a request `accept` takes (or, stepping
    /// over an instruction Xen completes, until we catch up with it). Throws `StopRequested`
    /// when the stop fd fires or the deadline passes; reports a vCPU that never comes back
    /// rather than waiting forever.
    private func waitForStop(_ patience: Patience = .trap, _ accept: (vm_event_request_t) -> Bool) throws -> Stop {
        let started = monotonicSeconds()
        var rearmed = false
        let slice = if case .stepOver = patience { Self.stepOverWait } else { Self.stallCheck }
        while true {
            if let d = options.deadline, monotonicSeconds() >= d { throw StopRequested() }
            switch try session.ring.wait(deadline: options.deadline, stopFD: options.stopFD, slice: slice) {
            case .stop:
                throw StopRequested()
            case .timeout:
                if case .stepOver(let from, let after) = patience, let stop = try catchUp(from: from, to: after, accept) {
                    return stop
                }
                try stalled(patience, since: started, rearmed: &rearmed)
                continue
            case .requests:
                break
            }
            if let found = try takeRequests(accept) { return .request(found) }
        }
    }

    /// Takes every request in the ring: returns our vCPU's that `accept` takes, answers the rest.
    private func takeRequests(_ accept: (vm_event_request_t) -> Bool) throws -> vm_event_request_t? {
        var found: vm_event_request_t?
        var answered = false
        while let req = session.ring.take() {
            if found == nil, req.vcpu_id == UInt32(vcpu), accept(req) {
                found = req
                continue
            }
            session.ring.put(try answerOther(req))
            answered = true
        }
        if answered { try session.ring.notify() }
        return found
    }

    /// The breakpoint after an instruction Xen completes has not fired: pause the domain and stop
    /// our vCPU where it is, the domain staying paused until we answer. Exact when the vCPU got
    /// no further than `after` (blocked in HLT); past it, the stop says there was a gap. Nil
    /// while the vCPU has not run the instruction at `from` yet.
    private func catchUp(from: UInt64, to after: UInt64, _ accept: (vm_event_request_t) -> Bool) throws -> Stop? {
        try holdPause()
        var keepPaused = false
        defer { if !keepPaused { try? releasePause() } }
        // It may have fired while we paused: then its request is in the ring.
        if let found = try takeRequests(accept) { return .request(found) }
        let regs = try target.registers(vcpu: vcpu)
        guard let rip = regs.pc, rip != from else { return nil }
        keepPaused = true
        if rip != after {
            lastStepHadGap = true
            if !gapNoticed {
                gapNoticed = true
                notices.append(
                    "vcpu \(vcpu): the debug-register breakpoint after the instruction at \(hex(from)) did not fire "
                        + "(this CPU does not arm a guest's debug registers?); stepping went on from \(hex(rip)), "
                        + "and such steps are marked \"gap\":true")
            }
        }
        return .domainPaused(regs)
    }

    /// What a wait may expect: a TF step returns at once (after a PUSHF/POPF the guest may have
    /// cleared TF: set it once more); a step over an instruction Xen completes, at once or (HLT)
    /// at the next interrupt, else we catch up; a resume waits for a breakpoint as long as it takes.
    enum Patience {
        case trap
        case stepOver(from: UInt64, to: UInt64)
        case unbounded
    }

    /// No stop for a slice: the domain must still exist, and a vCPU that does not trap is looked at.
    private func stalled(_ patience: Patience, since started: Double, rearmed: inout Bool) throws {
        try target.requireAlive()
        if case .unbounded = patience { return }
        // Registers only when needed: a step over reads them in catchUp every slice already.
        if case .trap = patience, !mtf, !rearmed, let rflags = try? target.registers(vcpu: vcpu)["rflags"],
            rflags & X86Flags.trap == 0
        {
            rearmed = true
            notices.append("vcpu \(vcpu) ran on without trapping (TF cleared by the guest?); trap flag set again")
            try armTrapFlagKeepingGuestFlag()
        }
        if monotonicSeconds() - started >= Self.stallLimit {
            let regs = try? target.registers(vcpu: vcpu)
            throw VMIError(
                "vcpu \(vcpu) did not stop within \(Int(Self.stallLimit)) s of a step (rip \(hex(regs?["rip"] ?? 0))): "
                    + "stepping ended")
        }
    }

    private func armTrapFlagKeepingGuestFlag() throws {
        let saved = guestTrapFlag
        try armTrapFlag()
        guestTrapFlag = saved
        session.ledger.recordTrapFlag(vcpu: vcpu, guestOwn: saved)
    }

    // MARK: end

    func end() {
        if ended { return }
        ended = true
        let me = UInt32(vcpu)
        let own = guestTrapFlag
        session.teardown(
            answerLeft: { req in
                switch Int32(req.reason) {
                case VM_EVENT_REASON_CPUID:
                    return VMEventResponse.completeCPUID(req, trapFlag: req.vcpu_id == me && !self.mtf ? own : nil)
                case VM_EVENT_REASON_DEBUG_EXCEPTION:
                    return req.vcpu_id == me ? VMEventResponse.trapFlag(req, own) : VMEventResponse.resume(req)
                default:
                    return VMEventResponse.resume(req)
                }
            },
            whilePaused: {
                hardware.removeAll()
                if let stop = current {
                    // Our vCPU stopped: answered with the guest's own TF (MTF off); Xen loads
                    // these registers as it resumes.
                    try? answer(stop, trap: mtf ? false : own)
                } else if !mtf, let rflags = try? target.registers(vcpu: vcpu)["rflags"],
                    (rflags & X86Flags.trap != 0) != own
                {
                    try? target.setRegisters(vcpu: vcpu, [("rflags", X86Flags.withTrap(rflags, own))])
                }
            })
        session.ledger.forgetTrapFlag(vcpu: vcpu)
    }
}
#endif
