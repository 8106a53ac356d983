import ArgumentParser
import VMICLI
import VMICore

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-step",
        abstract: "Single-step a vCPU, as a JSON stream or interactively.",
        discussion: """
            Streams one 'step' record per instruction: rip (pc), the instruction bytes, and the \
            registers that changed since the previous step (--regs all: every register).

            Examples:
              vmi-step web01 --vcpu 0 --count 200
              vmi-step web01 --until 0xffffffff81000000 --count 10
              vmi-step gdb:127.0.0.1:1234 --count 5 --regs all | jq .regs.rax
            """,
        version: VMIVersion.string)

    enum RegsMode: String, ExpressibleByArgument, CaseIterable {
        case changed, all
    }

    @OptionGroup var target: TargetOptions
    @OptionGroup var stream: StreamOptions

    @Option(help: ArgumentHelp("Run to this address first, then step.", valueName: "address"))
    var until: String?

    @Option(help: "Registers in each record: changed (since the previous step) or all.")
    var regs: RegsMode = .changed

    func validate() throws {
        if let u = until, parseUInt64(u) == nil { throw ValidationError("--until expects an address, got '\(u)'") }
    }

    func run() throws {
        try target.withTarget(force: stream.force) { driver in
            let stepper = try driver.require(SingleStepper.self, to: "single-step")
            let out = OutputWriter(mode: .perRecord)
            try Signals.guarded {
                let session = try stepper.beginStepping(vcpu: stream.vcpu ?? 0, options: stream.listenOptions())
                defer { session.end() }
                try StepStream(session: session, identity: stepper.recordIdentity, out: out, allRegisters: regs == .all)
                    .run(until: until.flatMap(parseUInt64), count: stream.count, deadline: stream.listenOptions().deadline)
            }
            try Signals.check()
        }
    }
}
