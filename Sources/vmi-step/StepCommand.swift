import ArgumentParser
import VMICLI
import VMICore

#if canImport(Glibc)
import Glibc
#endif

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-step",
        abstract: "Single-step a vCPU, as a JSON stream or interactively.",
        discussion: """
            Streams one 'step' record per instruction: rip (pc), the instruction bytes, and the \
            registers that changed since the previous step (--regs all: every register).

            Interactive mode (-i; the default when stdin and stdout are a terminal and no --count, \
            --until or --timeout is given) reads commands: step [N], continue, until ADDR, regs, \
            mem ADDR [LEN], break [ADDR], delete [ADDR], help, quit. Records still go to stdout as \
            JSON lines when stdout is not a terminal. History: ~/.vmi_step_history.

            On AMD Xen hosts (no monitor trap flag) a step sets RFLAGS.TF and consumes the debug \
            exception; the guest's own TF is given back at the end. Interrupt handlers run \
            unstepped, and a run can spend its steps in a loop that cannot finish while stepped \
            (reported as a warning).

            Examples:
              vmi-step web01 --vcpu 0 --count 200
              vmi-step web01 --until 0xffffffff81000000 --count 10
              vmi-step gdb:127.0.0.1:1234 --count 5 --regs all | jq .regs.rax
              vmi-step web01 -i
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

    @Flag(name: [.customShort("i"), .long], help: "Read commands (step, continue, regs, mem, break, ...) from stdin.")
    var interactive = false

    func validate() throws {
        if let u = until, parseUInt64(u) == nil { throw ValidationError("--until expects an address, got '\(u)'") }
    }

    /// -i, or a terminal on both ends with nothing that asks for a stream.
    var isInteractive: Bool {
        interactive || (isatty(0) == 1 && isatty(1) == 1 && stream.count == nil && until == nil && stream.timeout == nil)
    }

    func run() throws {
        try target.withTarget(force: stream.force) { driver in
            let stepper = try driver.require(SingleStepper.self, to: "single-step")
            // A slow reader holds the stepped vCPU (stopped anyway), never a signal.
            let out = OutputWriter(mode: .perRecord, backpressure: .wait(stopFD: Signals.wakeFD))
            try Signals.guarded {
                let options = stream.listenOptions()
                do {
                    let session = try stepper.beginStepping(vcpu: stream.vcpu ?? 0, options: options)
                    defer { session.end() }
                    if isInteractive {
                        try console(session, identity: stepper.recordIdentity, out: out)
                    } else {
                        try StepStream(session: session, identity: stepper.recordIdentity, out: out,
                            allRegisters: regs == .all)
                            .run(until: until.flatMap(parseUInt64), count: stream.count, deadline: options.deadline)
                    }
                } catch is StopRequested {
                    // A signal or --timeout before the first stop: a normal end (Signals.check
                    // below turns a signal into its exit status).
                }
            }
            try Signals.check()
        }
    }

    /// The command loop: one line, one command; a failed command prints its error and the
    /// loop goes on. A signal, `quit` or end of input ends it (the session's teardown follows).
    func console(_ session: StepSession, identity: RecordIdentity, out: OutputWriter) throws {
        let console = StepConsole(session: session, identity: identity, out: out, json: isatty(1) == 0)
        let reader = LineReader(prompt: "(vmi-step) ")
        defer { reader.close() }
        while let line = reader.next() {
            do {
                let command = try StepConsole.parse(line)
                if try !console.execute(command) { break }
            } catch let e as VMIError {
                Diagnostics.error(e.description)
            } catch is StopRequested {
                break
            }
            for notice in session.takeNotices() { Diagnostics.warning(notice) }
        }
    }
}
