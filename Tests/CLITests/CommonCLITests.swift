import Foundation
import TestSupport
import Testing

@Suite struct CommonCLITests {
    static let tools = ["vmi-regs", "vmi-watch", "vmi-step", "vmi-evtchn", "vmi-gic-dump"]

    @Test(arguments: tools) func versionGoesToStdout(tool: String) throws {
        let r = try Tools.run(tool, ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("JSON schema"))
        #expect(r.stderr.isEmpty)
    }

    @Test(arguments: tools) func helpGoesToStdout(tool: String) throws {
        let r = try Tools.run(tool, ["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: \(tool)"))
    }

    @Test(arguments: tools) func usageErrorsExitTwo(tool: String) throws {
        let r = try Tools.run(tool, [])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("\(tool): "))
        #expect(r.stderr.contains("Try '\(tool) --help'"))
        #expect(r.stdout.isEmpty)
    }

    @Test func malformedTargetIsAUsageError() throws {
        let r = try Tools.run("vmi-regs", ["gdb:nohost"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("vmi-regs: invalid target 'gdb:nohost': expected gdb:HOST:PORT or gdb:unix:PATH"))
    }
}
