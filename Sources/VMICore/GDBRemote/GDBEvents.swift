#if canImport(Glibc)
    import Glibc
#endif

/// Events from a gdb stub: our breakpoints (`Z0`/`Z1`), watchpoints (`Z2`/`Z3`/`Z4`) and
/// single steps. Records have the shape of Xen's: `event`, `vcpu`, `rip`/`pc`, `address`, `access`.
extension GDBTarget: EventMonitor {
    public func check(_ specs: [EventSpec]) throws {
        for s in specs {
            if let why = Self.unsupportedReason(s) {
                throw VMIError.unsupported(address, "watch \(s.kind.rawValue)", because: why)
            }
        }
    }

    static func unsupportedReason(_ spec: EventSpec) -> String? {
        switch spec.kind {
        case .breakpoint, .hbreak, .singlestep:
            return nil
        case .mem:
            guard case .virtual = spec.range else {
                return "the gdb remote protocol watches virtual addresses (use mem:ACCESS@va:ADDR[+LEN])"
            }
            if spec.access.contains(.execute) { return "execution is watched with hbreak@ADDR" }
            return nil
        case .cr0, .cr3, .cr4, .xcr0:
            return "the gdb remote protocol has no control-register events"
        case .msr:
            return "the gdb remote protocol has no MSR events"
        case .int3:
            return "the stub does not report the guest's own breakpoints (use breakpoint@ADDR)"
        default:
            return "the gdb remote protocol has no \(spec.kind.rawValue) events"
        }
    }

    static func point(for spec: EventSpec, breakpointKind: UInt64) -> Point? {
        switch spec.kind {
        case .breakpoint: return Point(kind: .software, address: spec.address ?? 0, length: breakpointKind)
        case .hbreak: return Point(kind: .hardware, address: spec.address ?? 0, length: breakpointKind)
        case .mem:
            guard case .virtual(let a, let len)? = spec.range else { return nil }
            let kind: GDBClient.PointKind = spec.access == .write ? .write : spec.access == .read ? .read : .access
            return Point(kind: kind, address: a, length: len)
        default: return nil
        }
    }

    public func listen(
        _ specs: [EventSpec], options: ListenOptions, caughtUp: () throws -> Void,
        handler: (VMEvent) throws -> ListenDecision
    ) throws {
        try check(specs)
        try ensureStopped()
        var mine: [Point] = []
        do {
            for spec in specs {
                guard let p = Self.point(for: spec, breakpointKind: breakpointKind) else { continue }
                try insert(p)
                mine.append(p)
            }
            // One stop, one event: each is all there is until the next stop.
            try listenLoop(stepping: specs.contains { $0.kind == .singlestep }, options: options) { event in
                let decision = try handler(event)
                try caughtUp()
                return decision
            }
        } catch {
            try? undo(mine)
            throw error
        }
        try undo(mine)
    }

    /// Stops the target, removes `points`, and lets it run again.
    private func undo(_ points: [Point]) throws {
        try ensureStopped()
        for p in points.reversed() { try remove(p) }
        try client.resume()
        running = true
    }

    private func listenLoop(stepping: Bool, options: ListenOptions, handler: (VMEvent) throws -> ListenDecision) throws
    {
        if stepping { try enableStepFlags() }
        let stepVCPU = options.vcpu ?? 0
        var pc = try coreRegisters(vcpu: stepVCPU).pc ?? 0
        var lastVCPU = stepVCPU
        while true {
            if let d = options.deadline, monotonicSeconds() >= d { return }
            if isReadable(options.stopFD) { return }
            let stop: StopReply.Stop
            if stepping {
                stop = try stepOverBreakpoints(vcpu: stepVCPU, pc: pc) ?? client.step(try thread(ofVCPU: stepVCPU))
            } else {
                // Past a breakpoint we sit on first, or `c` reports it again.
                _ = try stepOverBreakpoints(vcpu: lastVCPU, pc: pc)
                try client.resume()
                running = true
                guard let s = try client.waitStop(.until(deadline: options.deadline, stopFD: options.stopFD)) else {
                    return
                }
                running = false
                stop = s
            }
            let vcpu = stepping ? stepVCPU : self.vcpu(of: stop)
            pc = try coreRegisters(vcpu: vcpu).pc ?? 0
            lastVCPU = vcpu
            guard let event = classify(stop, vcpu: vcpu, pc: pc, stepping: stepping) else { continue }
            if let only = options.vcpu, only != vcpu { continue }
            if try handler(event) == .stop { return }
        }
    }

    /// The event a stop stands for; nil for stops that are not ours (an interrupt, a stray trap).
    func classify(_ stop: StopReply.Stop, vcpu: Int, pc: UInt64, stepping: Bool) -> VMEvent? {
        let pcKey: StaticString = arch == .x86_64 ? "rip" : "pc"
        if let w = stop.watch {
            return VMEvent(
                kind: "mem", vcpu: vcpu,
                fields: [(pcKey, .hex(pc)), ("address", .hex(w.address)), ("access", .string(w.access.description))])
        }
        if let p = breakpoints(at: pc).first {
            return VMEvent(
                kind: p.kind == .hardware ? "hbreak" : "breakpoint", vcpu: vcpu,
                fields: [(pcKey, .hex(pc)), ("address", .hex(pc))])
        }
        if stepping { return VMEvent(kind: "singlestep", vcpu: vcpu, fields: [(pcKey, .hex(pc))]) }
        return nil
    }
}

/// Whether `fd` is readable now (a stop request); false for -1.
func isReadable(_ fd: Int32) -> Bool {
    guard fd >= 0 else { return false }
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 0) > 0 && p.revents & Int16(POLLIN) != 0
}
