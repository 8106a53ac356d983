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
    /// Notices of the session (a livelock seen) go to stderr as warnings.
    public func run(until address: UInt64?, count: Int?, deadline: Double?) throws {
        defer { for notice in session.takeNotices() { Diagnostics.warning(notice) } }
        do {
            var previous = try address.map { try session.resume(until: $0) } ?? session.registers()
            var n = 0
            while count.map({ n < $0 }) ?? true {
                if Signals.requested != nil { return }
                if let d = deadline, monotonicSeconds() >= d { return }
                n += 1
                let (next, record) = try session.stepRecord(index: n, from: previous, allRegisters: allRegisters)
                try out.record(type: "step") { record.write(identity: identity, vcpu: session.vcpu, arch: next.arch, to: &$0) }
                for notice in session.takeNotices() { Diagnostics.warning(notice) }
                previous = next
            }
        } catch is StopRequested {
            return  // the signal or deadline that woke the wait; the caller checks Signals
        }
    }
}
