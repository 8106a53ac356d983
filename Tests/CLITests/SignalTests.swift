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
    func watching(ignoring ignored: String, stdout: Any = FileHandle.nullDevice, hits: Int = 0) throws -> (
        Process, FakeGDBStub
    ) {
        let q = try QEMULikeStub(fixtureDir: Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path)
        q.registers[16] = 0xffff_ffff_8100_0000  // rip: on the breakpoint, so every stop is an event
        q.stops = Array(repeating: "T05thread:p01.01;", count: hits)
        // A Unix socket: no Nagle delay per small packet, so events come thousands a second.
        let path = NSTemporaryDirectory() + "vmi-signal-test-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        let stub = try FakeGDBStub(unixPath: path) { c in q.serve(c) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let tool = Tools.binDir.appendingPathComponent("vmi-watch").path
        let exec = #"exec "$0" "$@""#
        p.arguments = [
            "-c", ignored.isEmpty ? exec : "trap '' \(ignored); " + exec, tool, stub.target, "--event",
            "hbreak@0xffffffff81000000",
        ]
        p.standardOutput = stdout
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

    /// stdout a pipe nobody reads while events keep coming: the tool neither blocks the guest
    /// nor ignores the signal (before, write(2) blocked with the target stopped, and SIGTERM
    /// was only recorded).
    @Test func stalledReaderDoesNotHoldTheTool() throws {
        let unread = Pipe()
        let (p, stub) = try watching(ignoring: "", stdout: unread, hits: 2000)
        // 2000 events of ~150 bytes: far more than the 64 KiB pipe holds (~440). The broken tool
        // stopped for good at ~320; a slow one (ASan build, loaded machine: 411 in 20 s once) only
        // takes longer, so the wait is long and ends as soon as the count is reached.
        let deadline = Date().addingTimeInterval(90)
        while stub.packets.filter({ $0 == "vCont;c" }).count < 800 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(stub.packets.filter { $0 == "vCont;c" }.count >= 800, "the guest stopped being resumed")
        try end(p, stub, by: SIGTERM)
        try unread.fileHandleForReading.close()
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGHUP]) func signalEndsTheWatchCleanly(signal: Int32) throws {
        let (p, stub) = try watching(ignoring: "")
        try end(p, stub, by: signal)
    }
}
