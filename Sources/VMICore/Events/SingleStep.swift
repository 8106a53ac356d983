/// A target that can single-step a vCPU (Xen: MTF on Intel, RFLAGS.TF + debug exceptions on AMD;
/// gdb: `s`/`vCont;s`).
public protocol SingleStepper: TargetDriver {
    /// Takes control of `vcpu`: the guest is stopped (paused) until the session ends.
    func beginStepping(vcpu: Int, options: ListenOptions) throws -> StepSession
}

/// Control of one vCPU for stepping. `end()` must leave the guest running and clean (TF clear,
/// breakpoints removed, monitor disabled); it is idempotent and also runs on deinit.
public protocol StepSession: AnyObject {
    var vcpu: Int { get }
    /// Registers at the current stop.
    func registers() throws -> RegisterSet
    /// Executes one instruction; returns the registers after it.
    func step() throws -> RegisterSet
    /// Runs until a breakpoint of ours (or `address`, when given) is hit, or the stop fd (from
    /// `ListenOptions`) becomes readable; returns the registers at the stop.
    func resume(until address: UInt64?) throws -> RegisterSet
    /// Guest-virtual memory at the current stop.
    func readVirtual(_ address: UInt64, count: Int) throws -> [UInt8]
    func insertBreakpoint(_ address: UInt64) throws
    func removeBreakpoint(_ address: UInt64) throws
    var breakpoints: [UInt64] { get }
    func end()
    /// Things the user should know that are not errors (a livelock while stepped, TF seen in
    /// guest memory): taken once each, printed as warnings by the tool. Optional.
    func takeNotices() -> [String]
    /// The last `step()` stopped after more than its one instruction: the vCPU ran on unseen
    /// (Xen on AMD completed the instruction and the breakpoint after it did not fire).
    var lastStepHadGap: Bool { get }
}

extension StepSession {
    public func takeNotices() -> [String] { [] }
    public var lastStepHadGap: Bool { false }
}

/// Thrown by `step()`/`resume(until:)` when the stop descriptor of `ListenOptions` became
/// readable while waiting: the caller unwinds and ends the session.
public struct StopRequested: Error, Equatable {
    public init() {}
}

/// `{"type":"step","ts":...,"domid":5,"vcpu":0,"n":1,"rip":"0x...","insn":"0f1f00","regs":{...}}`
public struct StepRecord {
    public var index: Int
    public var pc: UInt64
    public var instruction: [UInt8]
    public var registers: [(name: String, value: UInt64)]
    /// The registers are not right after this instruction: more ran, unseen (`"gap":true`).
    public var gap: Bool
    public var timestamp: Timestamp

    public init(index: Int, pc: UInt64, instruction: [UInt8], registers: [(name: String, value: UInt64)],
        gap: Bool = false, timestamp: Timestamp = .now())
    {
        self.index = index
        self.pc = pc
        self.instruction = instruction
        self.registers = registers
        self.gap = gap
        self.timestamp = timestamp
    }

    public func write(identity: RecordIdentity, vcpu: Int, arch: Architecture, to line: inout JSONLine) {
        line.timestamp(timestamp)
        identity.write(to: &line)
        line.field("vcpu", vcpu)
        line.field("n", index)
        if arch == .x86_64 { line.field("rip", hex: pc) } else { line.field("pc", hex: pc) }
        line.field("insn", hexBytes: instruction)
        line.object("regs") { obj in
            for (name, value) in registers { obj.field(dynamicKey: name, hex: value) }
        }
        if gap { line.field("gap", true) }
    }
}

extension StepSession {
    /// Executes one instruction and describes it: the bytes at the pc it ran from (cut to its
    /// length when execution fell through to the next instruction; after a jump the 15 bytes
    /// read stay, and the record says which by its size), and the registers it changed (or all).
    public func stepRecord(index: Int, from previous: RegisterSet, allRegisters: Bool) throws
        -> (registers: RegisterSet, record: StepRecord)
    {
        let pc = previous.pc ?? 0
        // Bytes at the instruction about to run; a page that is not mapped gives none.
        var insn = try? readVirtual(pc, count: previous.arch == .x86_64 ? 15 : 4)
        let next = try step()
        let gap = lastStepHadGap
        if previous.arch == .x86_64, !gap, let newPC = next.pc, newPC > pc, newPC - pc <= 15 {
            insn = insn.map { Array($0.prefix(Int(newPC - pc))) }
        }
        let regs = allRegisters ? Array(zip(next.names, next.values)) : next.changed(since: previous)
        return (next, StepRecord(index: index, pc: pc, instruction: insn ?? [], registers: regs, gap: gap))
    }
}
