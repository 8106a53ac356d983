/// The interactive stepping console of `vmi-step -i`: commands in, records (JSON lines when
/// stdout is not a terminal) or a text layout out. Generic over `StepSession`, so a Xen domain
/// and a gdb stub behave alike; line editing (readline) is the tool's, not this type's.
///
/// ```
/// step [N]         s    execute N instructions (default 1)
/// continue         c    run until one of our breakpoints is hit
/// until ADDR       u    run until ADDR
/// regs             r    registers at the stop
/// mem ADDR [LEN]   x    guest-virtual memory (LEN default 64, at most 4096)
/// break [ADDR]     b    set a breakpoint; without ADDR, list them
/// delete [ADDR]    d    remove a breakpoint, or all
/// help             h    this list
/// quit             q    end stepping (the guest runs on, clean)
/// ```
public final class StepConsole {
    public enum Command: Equatable, Sendable {
        case step(Int)
        case continue_
        case until(UInt64)
        case regs
        case mem(UInt64, Int)
        case breakAt(UInt64)
        case listBreakpoints
        case delete(UInt64?)
        case help
        case quit
        case nothing
    }

    /// Command names, for tab completion.
    public static let commandNames = ["step", "continue", "until", "regs", "mem", "break", "delete", "help", "quit"]

    public static let helpText = """
        step [N]        execute N instructions (default 1)        (s)
        continue        run until a breakpoint is hit             (c)
        until ADDR      run until ADDR                            (u)
        regs            registers at the stop                     (r)
        mem ADDR [LEN]  guest-virtual memory, LEN <= 4096         (x)
        break [ADDR]    set a breakpoint / list breakpoints       (b)
        delete [ADDR]   remove a breakpoint / all of them         (d)
        quit            end stepping; the guest runs on            (q)

        """

    /// Parses one line. Unknown commands and bad numbers are errors with a usable message.
    public static func parse(_ line: String) throws -> Command {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first?.lowercased() else { return .nothing }
        let args = Array(words.dropFirst())
        func number(_ s: String, _ what: String) throws -> UInt64 {
            guard let v = parseUInt64(s) else { throw VMIError("\(what) '\(s)' is not a number") }
            return v
        }
        func arity(_ range: ClosedRange<Int>, _ usage: String) throws {
            if !range.contains(args.count) { throw VMIError("usage: \(usage)") }
        }
        switch first {
        case "s", "step", "si", "stepi":
            try arity(0...1, "step [N]")
            let n = try args.first.map { try number($0, "count") } ?? 1
            guard n >= 1, n <= 1_000_000 else { throw VMIError("step count must be 1 to 1000000") }
            return .step(Int(n))
        case "c", "continue", "cont":
            try arity(0...0, "continue")
            return .continue_
        case "u", "until":
            try arity(1...1, "until ADDR")
            return .until(try number(args[0], "address"))
        case "r", "regs", "registers":
            try arity(0...0, "regs")
            return .regs
        case "x", "mem", "memory":
            try arity(1...2, "mem ADDR [LEN]")
            let len = try args.count == 2 ? number(args[1], "length") : 64
            guard len >= 1, len <= 4096 else { throw VMIError("length must be 1 to 4096") }
            return .mem(try number(args[0], "address"), Int(len))
        case "b", "break", "breakpoint":
            try arity(0...1, "break [ADDR]")
            return try args.first.map { .breakAt(try number($0, "address")) } ?? .listBreakpoints
        case "d", "delete":
            try arity(0...1, "delete [ADDR]")
            return .delete(try args.first.map { try number($0, "address") })
        case "h", "help", "?":
            return .help
        case "q", "quit", "exit":
            return .quit
        default:
            throw VMIError("unknown command '\(first)' (try 'help')")
        }
    }

    public let session: StepSession
    public let identity: RecordIdentity
    public let out: OutputWriter
    /// JSON records (stdout is not a terminal) or the text layout.
    public let json: Bool
    private var previous: RegisterSet?
    private var stepIndex = 0

    public init(session: StepSession, identity: RecordIdentity, out: OutputWriter, json: Bool) {
        self.session = session
        self.identity = identity
        self.out = out
        self.json = json
    }

    /// Runs one command; returns false after `quit`. Errors of the command are thrown (the
    /// caller prints them and reads the next line); `StopRequested` ends a long run early.
    public func execute(_ command: Command) throws -> Bool {
        switch command {
        case .nothing:
            break
        case .quit:
            return false
        case .help:
            try out.write(text: json ? "" : StepConsole.helpText)
        case .step(let n):
            var regs = try current()
            for _ in 0..<n {
                stepIndex += 1
                let (next, record) = try session.stepRecord(index: stepIndex, from: regs, allRegisters: false)
                try writeStep(record, arch: next.arch)
                regs = next
                previous = next
            }
        case .continue_, .until:
            let address: UInt64? = if case .until(let a) = command { a } else { nil }
            let regs = try session.resume(until: address)
            previous = regs
            try writeStop(regs, reason: address == nil ? "breakpoint" : "until")
        case .regs:
            let regs = try session.registers()
            previous = regs
            if json { try out.write(regs.record(identity: identity)) } else {
                try out.write(text: regs.textLayout(identity: identity))
            }
        case .mem(let address, let length):
            let bytes = try session.readVirtual(address, count: length)
            if json {
                try out.record(type: "mem") {
                    identity.write(to: &$0)
                    $0.field("vcpu", session.vcpu)
                    $0.field("address", hex: address)
                    $0.field("bytes", hexBytes: bytes)
                }
            } else {
                try out.write(text: StepConsole.hexDump(bytes, at: address))
            }
        case .breakAt(let address):
            try session.insertBreakpoint(address)
            try writeBreakpoints()
        case .listBreakpoints:
            try writeBreakpoints()
        case .delete(let address):
            for a in address.map({ [$0] }) ?? session.breakpoints { try session.removeBreakpoint(a) }
            try writeBreakpoints()
        }
        return true
    }

    private func current() throws -> RegisterSet {
        if let p = previous { return p }
        let r = try session.registers()
        previous = r
        return r
    }

    private func writeStep(_ record: StepRecord, arch: Architecture) throws {
        if json {
            try out.record(type: "step") { record.write(identity: identity, vcpu: session.vcpu, arch: arch, to: &$0) }
            return
        }
        let bytes = record.instruction.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined(separator: " ")
        let changed = record.registers.filter { $0.name != "rip" && $0.name != "pc" }
            .map { "\($0.name)=\(hex($0.value))" }.joined(separator: " ")
        try out.write(text: "\(record.index)\t\(hex(record.pc))\t\(bytes)\t\(changed)\n")
    }

    private func writeStop(_ regs: RegisterSet, reason: String) throws {
        if json {
            try out.record(type: "stop") {
                $0.timestamp()
                identity.write(to: &$0)
                $0.field("vcpu", session.vcpu)
                $0.field("reason", reason)
                $0.field(regs.arch == .x86_64 ? "rip" : "pc", hex: regs.pc ?? 0)
            }
        } else {
            try out.write(text: "stopped at \(hex(regs.pc ?? 0)) (\(reason))\n")
        }
    }

    private func writeBreakpoints() throws {
        let list = session.breakpoints
        if json {
            try out.record(type: "breakpoints") {
                identity.write(to: &$0)
                $0.field("vcpu", session.vcpu)
                $0.field("addresses", hexArray: list)
            }
        } else {
            try out.write(text: list.isEmpty ? "no breakpoints\n" : list.map { "breakpoint at \(hex($0))\n" }.joined())
        }
    }

    /// `ADDRESS: 16 bytes in hex  |ascii|` lines.
    public static func hexDump(_ bytes: [UInt8], at address: UInt64) -> String {
        var out = ""
        for start in stride(from: 0, to: bytes.count, by: 16) {
            let row = bytes[start..<min(start + 16, bytes.count)]
            let hexes = row.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            let text = String(row.map { (0x20..<0x7f).contains($0) ? Character(UnicodeScalar($0)) : "." })
            let pad = String(repeating: " ", count: (16 - row.count) * 3)
            out += "\(hex(address &+ UInt64(start))): \(hexes)\(pad)  |\(text)|\n"
        }
        return out
    }
}
