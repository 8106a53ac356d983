#if canImport(CXen)
/// What a listener has changed in a guest and not yet given back, written to xenstore under a
/// dom0-only path as it happens, so that a listener killed with SIGKILL leaves a record the
/// next `--force` run undoes: our 0xCC bytes (with the byte they replaced), our debug-register
/// slots, and the guest's own trap flag under a stepper.
///
///     /vmitools/<domid>/int3/<address>        <frame>:<original byte>
///     /vmitools/<domid>/dr/<vcpu>-<slot>      <address>
///     /vmitools/<domid>/tf/<vcpu>             0 | 1 (the guest's own TF)
///     /vmitools/<domid>/paused-at-start       0 | 1 (whether the domain was paused when it began)
///
/// Without xenstore (no xenstored) nothing is recorded and nothing can be reclaimed.
final class GuestChangeLedger {
    private let store: XenStore?
    let root: String

    init(domid: UInt32) {
        store = try? XenStore()
        root = "/vmitools/\(domid)"
    }

    func recordInt3(_ address: UInt64, frame: UInt64, original: UInt8) {
        try? store?.write("\(root)/int3/\(hex(address))", "\(hex(frame)):\(hex(UInt64(original)))")
    }

    func forgetInt3(_ address: UInt64) { store?.remove("\(root)/int3/\(hex(address))") }

    func recordDebugRegister(vcpu: Int, slot: Int, address: UInt64) {
        try? store?.write("\(root)/dr/\(vcpu)-\(slot)", hex(address))
    }

    func forgetDebugRegister(vcpu: Int, slot: Int) { store?.remove("\(root)/dr/\(vcpu)-\(slot)") }

    func recordTrapFlag(vcpu: Int, guestOwn: Bool) {
        try? store?.write("\(root)/tf/\(vcpu)", guestOwn ? "1" : "0")
    }

    func forgetTrapFlag(vcpu: Int) { store?.remove("\(root)/tf/\(vcpu)") }

    /// Every register write pauses the domain for a moment, and a stepper's catch-up for longer:
    /// a SIGKILL in between leaves pauses that no entry names. What the domain was at the start
    /// tells `--force` whether the pauses it finds are the killed listener's to release.
    func recordStart(domainPaused: Bool) { try? store?.write("\(root)/paused-at-start", domainPaused ? "1" : "0") }

    func forgetStart() { store?.remove("\(root)/paused-at-start") }

    /// Whether the domain was paused when the (killed) listener began; nil when not recorded.
    func pausedAtStart() -> Bool? {
        (try? store?.read("\(root)/paused-at-start")).flatMap { $0 }.map { $0 == "1" }
    }

    /// Undoes what a killed listener left, domain paused by the caller; returns what was done,
    /// one line each. Each change is undone only where the guest still shows ours (0xCC still
    /// there, the slot still enabled at our address), so a guest that moved on keeps its state.
    func reclaim(_ target: XenDomainTarget, breakpoints: SoftwareBreakpoints) -> [String] {
        guard let store else { return [] }
        var done: [String] = []
        /// Takes every entry under `dir` (gone afterwards whatever `undo` made of it).
        func each(_ dir: String, _ undo: (_ name: String, _ value: String) -> String?) {
            for name in store.children("\(root)/\(dir)") {
                let path = "\(root)/\(dir)/\(name)"
                if let value = (try? store.read(path)).flatMap({ $0 }), let line = undo(name, value) { done.append(line) }
                store.remove(path)
            }
        }
        each("int3") { name, value in
            guard let address = parseUInt64(name), let (frame, original) = Self.pair(value),
                (try? breakpoints.restoreStale(address: address, frame: frame, original: UInt8(truncatingIfNeeded: original))) == true
            else { return nil }
            return "int3 byte at \(hex(address)) restored"
        }
        each("dr") { name, value in
            let parts = name.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 2, X86DebugControl.slots.contains(parts[1]), let address = parseUInt64(value),
                let regs = try? target.registers(vcpu: parts[0]), let dr7 = regs["dr7"],
                regs["dr\(parts[1])"] == address, X86DebugControl.isEnabled(dr7, slot: parts[1]),
                (try? target.setRegisters(vcpu: parts[0], [("dr7", X86DebugControl.disabling(dr7, slot: parts[1]))])) != nil
            else { return nil }
            return "debug register \(parts[1]) of vcpu \(parts[0]) (\(hex(address))) cleared"
        }
        each("tf") { name, value in
            let own = value == "1"
            guard let vcpu = Int(name), let rflags = try? target.registers(vcpu: vcpu)["rflags"],
                (rflags & X86Flags.trap != 0) != own,
                (try? target.setRegisters(vcpu: vcpu, [("rflags", X86Flags.withTrap(rflags, own))])) != nil
            else { return nil }
            return "trap flag of vcpu \(vcpu) given back"
        }
        store.remove(root)
        return done
    }

    private static func pair(_ value: String) -> (UInt64, UInt64)? {
        let parts = value.split(separator: ":").compactMap { parseUInt64(String($0)) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }
}
#endif
