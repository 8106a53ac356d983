import VMICore

/// Drives a step session and writes one `step` record per instruction.
public struct StepStream {
    public let session: StepSession
    public let identity: RecordIdentity
    public let out: OutputWriter
    public let allRegisters: Bool

    public init(session: StepSession, identity: RecordIdentity, out: OutputWriter, allRegisters: Bool) {
        self.session = session
        self.identity = identity
        self.out = out
        self.allRegisters = allRegisters
    }

    /// Steps until `count` records were written, the deadline passed, or a stop was requested.
    public func run(until address: UInt64?, count: Int?, deadline: Double?) throws {
        var previous = try address.map { try session.resume(until: $0) } ?? session.registers()
        var n = 0
        while count.map({ n < $0 }) ?? true {
            if Signals.requested != nil { return }
            if let d = deadline, monotonicSeconds() >= d { return }
            let pc = previous.pc ?? 0
            // Bytes at the instruction about to run; a page that is not mapped gives none.
            var insn = try? session.readVirtual(pc, count: previous.arch == .x86_64 ? 15 : 4)
            let next = try session.step()
            n += 1
            // x86 lengths vary: when execution fell through to the next instruction, the distance
            // is the length; after a jump the 15 bytes read stay (the record says which by size).
            if previous.arch == .x86_64, let newPC = next.pc, newPC > pc, newPC - pc <= 15 {
                insn = insn.map { Array($0.prefix(Int(newPC - pc))) }
            }
            let regs = allRegisters ? Array(zip(next.names, next.values)) : next.changed(since: previous)
            let record = StepRecord(index: n, pc: pc, instruction: insn ?? [], registers: regs)
            try out.record(type: "step") { record.write(identity: identity, vcpu: session.vcpu, arch: next.arch, to: &$0) }
            previous = next
        }
    }
}
