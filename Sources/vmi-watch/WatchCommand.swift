import ArgumentParser
import VMICLI
import VMICore

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-watch",
        abstract: "Register VM events and stream them as JSON lines as they happen.",
        discussion: """
            Event specs: cr0, cr3, cr4, xcr0, msr[:INDEX], int3, breakpoint@ADDR, hbreak@ADDR, \
            cpuid, debug, interrupt, desc, guest-request, vmexit, io, singlestep, privcall, \
            mem:ACCESS@GFN[-GFN], mem:ACCESS@va:ADDR[+LEN] (ACCESS: r, w, x).

            The guest is left running and clean on every exit: --count, --timeout, SIGINT, SIGTERM, \
            SIGHUP, a closed pipe, and errors.

            The guest never waits for a slow reader: up to 1 MiB of records is held for it, and \
            records beyond that are dropped and counted in a 'lost' record once there is room \
            again (with --sync the tool waits for the reader instead).

            Examples:
              vmi-watch web01 --event cr3 --count 20
              vmi-watch web01 --event cpuid --timeout 10s | jq -r .leaf | sort | uniq -c
              vmi-watch gdb:127.0.0.1:1234 --event hbreak@0xffffffff81000000 --count 1
            """,
        version: VMIVersion.string)

    @OptionGroup var target: TargetOptions
    @OptionGroup var stream: StreamOptions

    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("An event to watch (repeatable).", valueName: "spec"))
    var event: [String] = []

    @Flag(help: "Keep the vCPU paused until its event is written (default: observe and resume at once).")
    var sync = false

    func validate() throws {
        if event.isEmpty { throw ValidationError("at least one --event is needed") }
        for e in event {
            do { _ = try EventSpec(parsing: e) } catch let err as VMIError { throw ValidationError(err.description) }
        }
    }

    func run() throws {
        let specs = try event.map(EventSpec.init(parsing:))
        // Records still held for a slow reader go out after the target is closed: waiting for
        // the reader then holds nothing of the guest (and a signal ends the wait).
        var out: OutputWriter?
        defer { try? out?.finish() }
        try target.withTarget(force: stream.force) { driver in
            let monitor = try driver.require(EventMonitor.self, to: "watch events")
            try monitor.check(specs)
            let writer = OutputWriter(
                mode: .perBatch,
                backpressure: sync
                    ? .wait(stopFD: Signals.wakeFD)
                    : .drop(limit: 1 << 20, identity: monitor.recordIdentity, stopFD: Signals.wakeFD))
            out = writer
            var written = 0
            try Signals.guarded {
                try monitor.listen(specs, options: stream.listenOptions(sync: sync), caughtUp: writer.endBatch) { event in
                    try writer.record(type: "event") { event.write(identity: monitor.recordIdentity, to: &$0) }
                    written += 1
                    return written == stream.count ? .stop : .next
                }
            }
            try Signals.check()
        }
    }
}
