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
}

/// `{"type":"step","ts":...,"domid":5,"vcpu":0,"n":1,"rip":"0x...","insn":"0f1f00","regs":{...}}`
public struct StepRecord {
    public var index: Int
    public var pc: UInt64
    public var instruction: [UInt8]
    public var registers: [(name: String, value: UInt64)]
    public var timestamp: Timestamp

    public init(index: Int, pc: UInt64, instruction: [UInt8], registers: [(name: String, value: UInt64)],
        timestamp: Timestamp = .now())
    {
        self.index = index
        self.pc = pc
        self.instruction = instruction
        self.registers = registers
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
    }
}
