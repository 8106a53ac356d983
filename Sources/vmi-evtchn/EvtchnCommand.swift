import ArgumentParser
import VMICLI
import VMICore

struct EvtchnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmi-evtchn",
        abstract: "List a Xen domain's event channels: port state plus pending and masked bits.",
        discussion: """
            Prints one 'evtchn' JSON record per open port. Live domains give every field; \
            console text (xl debug-keys e; xl dmesg) gives what the hypervisor printed; \
            dumps give the 2-level pending/mask bits only. Fields a source cannot know are left out.

            Examples:
              vmi-evtchn web01
              vmi-evtchn web01 --pending --text
              xl debug-keys e; xl dmesg | vmi-evtchn console:- --domain 5
              vmi-evtchn core:web01.core | jq 'select(.pending)'
            """,
        version: VMIVersion.string)

    @OptionGroup var target: TargetOptions
    @OptionGroup var output: OutputOptions

    @Flag(help: "Only ports with an event pending.")
    var pending = false

    @Option(help: "Only this port.")
    var port: Int?

    @Option(help: "Console text holding several domains: only this domain id.")
    var domain: Int?

    func validate() throws {
        if let p = port, p < 0 { throw ValidationError("--port must be >= 0") }
        if let d = domain, d < 0 { throw ValidationError("--domain must be >= 0") }
    }

    func run() throws {
        try target.withTarget { driver in
            let channels = try listEventChannels(driver, domain: domain).filter { c in
                (port == nil || c.port == port) && (!pending || c.pending == true)
            }
            let out = OutputWriter(mode: .buffered)
            var shown: RecordIdentity?
            for c in channels {
                if output.text {
                    if c.source != shown {
                        try out.write(text: c.textHeader())
                        shown = c.source
                    }
                    try out.write(text: c.textLine())
                } else {
                    try out.write(c.record())
                }
            }
            try out.flush()
        }
    }
}
