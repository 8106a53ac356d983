/// Single-stepping one vCPU of a gdb target: `vCont;s:THREAD` (or `s`) with QEMU's step flags
/// set so interrupts and timers do not run inside a step.
extension GDBTarget: SingleStepper {
    public func beginStepping(vcpu: Int, options: ListenOptions) throws -> StepSession {
        try GDBStepSession(target: self, vcpu: vcpu, options: options)
    }
}

final class GDBStepSession: StepSession {
    let target: GDBTarget
    let vcpu: Int
    let options: ListenOptions
    private let thread: RSPThreadID
    private var current: RegisterSet
    private var ours: [GDBTarget.Point] = []
    private var ended = false

    init(target: GDBTarget, vcpu: Int, options: ListenOptions) throws {
        self.target = target
        self.vcpu = vcpu
        self.options = options
        thread = try target.thread(ofVCPU: vcpu)
        try target.ensureStopped()
        try target.enableStepFlags()
        current = try target.coreRegisters(vcpu: vcpu)
    }

    deinit { end() }

    func registers() throws -> RegisterSet { current }

    func step() throws -> RegisterSet {
        let pc = current.pc ?? 0
        if try target.stepOverBreakpoints(vcpu: vcpu, pc: pc) == nil {
            _ = try target.client.step(thread)
        }
        current = try target.coreRegisters(vcpu: vcpu)
        return current
    }

    func resume(until address: UInt64?) throws -> RegisterSet {
        var temporary: GDBTarget.Point?
        if let a = address, target.breakpoints(at: a).isEmpty {
            let p = GDBTarget.Point(kind: .hardware, address: a, length: target.breakpointKind)
            try target.insert(p)
            temporary = p
        }
        defer { if let p = temporary { try? target.remove(p) } }
        var pc = current.pc ?? 0
        var stopVCPU = vcpu
        while true {
            _ = try target.stepOverBreakpoints(vcpu: stopVCPU, pc: pc)
            try target.client.resume()
            target.running = true
            guard let stop = try target.client.waitStop(.until(deadline: options.deadline, stopFD: options.stopFD))
            else {
                try target.ensureStopped()
                break
            }
            target.running = false
            stopVCPU = target.vcpu(of: stop)
            pc = try target.coreRegisters(vcpu: stopVCPU).pc ?? 0
            // Ours when it is one of our breakpoints on the stepped vCPU.
            if stopVCPU == vcpu && !target.breakpoints(at: pc).isEmpty { break }
        }
        if let p = temporary {
            try target.remove(p)
            temporary = nil
        }
        current = try target.coreRegisters(vcpu: vcpu)
        return current
    }

    func readVirtual(_ address: UInt64, count: Int) throws -> [UInt8] {
        try target.readVirtual(address, count: count, vcpu: vcpu)
    }

    func insertBreakpoint(_ address: UInt64) throws {
        let p = GDBTarget.Point(kind: .software, address: address, length: target.breakpointKind)
        guard !ours.contains(p) else { return }
        try target.insert(p)
        ours.append(p)
    }

    func removeBreakpoint(_ address: UInt64) throws {
        guard let i = ours.firstIndex(where: { $0.address == address }) else { return }
        try target.remove(ours[i])
        ours.remove(at: i)
    }

    var breakpoints: [UInt64] { ours.map(\.address) }

    /// Removes our breakpoints and lets the guest run (the target's close detaches later).
    func end() {
        guard !ended else { return }
        ended = true
        for p in ours.reversed() { try? target.remove(p) }
        ours = []
        if !target.running && target.client.connection.dead == nil {
            if (try? target.client.resume()) != nil { target.running = true }
        }
    }
}
