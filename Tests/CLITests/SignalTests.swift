import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Signals against a tool watching a (fake) gdb stub whose guest runs until interrupted.
@Suite struct SignalTests {
    /// Starts `vmi-watch` through `sh -c "trap '' SIGS; exec ..."`, so it inherits those
    /// signals ignored (as a shell's background job inherits SIGINT), and waits until the
    /// stub saw it resume the guest.
    func watching(ignoring ignored: String) throws -> (Process, FakeGDBStub) {
        let q = try QEMULikeStub(fixtureDir: Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path)
        let stub = try FakeGDBStub { c in q.serve(c) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let tool = Tools.binDir.appendingPathComponent("vmi-watch").path
        let exec = #"exec "$0" "$@""#
        p.arguments = [
            "-c", ignored.isEmpty ? exec : "trap '' \(ignored); " + exec, tool, stub.target, "--event",
            "hbreak@0xffffffff81000000",
        ]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while !stub.packets.contains("vCont;c") && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(stub.packets.contains("vCont;c"))
        return (p, stub)
    }

    func waitExit(_ p: Process, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !p.isRunning
    }

    /// A signal the tool was started with ignored stays ignored (the kernel would drop one that
    /// came before the tool set up its handling, so honouring later ones would be a race); the
    /// others still end it cleanly: the guest is interrupted, the breakpoint removed, detached.
    @Test func inheritedIgnoredSIGINTStaysIgnored() throws {
        let (p, stub) = try watching(ignoring: "INT")
        kill(p.processIdentifier, SIGINT)
        #expect(!waitExit(p, within: 1.0), "SIGINT ended a tool started with SIGINT ignored")
        try end(p, stub, by: SIGTERM)
        #expect(stub.packets.contains("\u{3}"))
    }

    /// Sends `signal` and expects exit 128+N after the teardown: breakpoint removed, detached.
    func end(_ p: Process, _ stub: FakeGDBStub, by signal: Int32) throws {
        kill(p.processIdentifier, signal)
        #expect(waitExit(p, within: 20))
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        stub.finish()
        #expect(p.terminationStatus == 128 + signal)
        #expect(stub.packets.contains("z1,ffffffff81000000,1") && stub.packets.last == "D;1")
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP]) func signalEndsTheWatchCleanly(signal: Int32) throws {
        let (p, stub) = try watching(ignoring: "")
        try end(p, stub, by: signal)
    }
}
