import Foundation
import TestSupport
import Testing

/// A stub that goes away in the middle of a stream (QEMU killed, the host's socket reset): the
/// tool ends with one `prog: TARGET: ...` line and exit 1, and every record it wrote before is
/// whole on stdout.
@Suite struct GDBDisconnectTests {
    static let x86 = Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path

    /// Answers like QEMU until the `closeAt`-th packet starting with `prefix`, then closes.
    func stub(closingAt closeAt: Int, of prefix: String, stops: [String] = []) throws -> FakeGDBStub {
        let q = try QEMULikeStub(fixtureDir: Self.x86)
        q.stops = stops
        var seen = 0
        return try FakeGDBStub { c in
            q.serve(c) { p in
                guard p.hasPrefix(prefix) else { return nil }
                seen += 1
                if seen == closeAt { c.close() }
                return nil
            }
        }
    }

    func expectOneLine(_ r: ToolResult, _ tool: String, _ stub: FakeGDBStub) throws {
        #expect(r.status == 1)
        #expect(r.stderr == "\(tool): \(stub.target): stub closed the connection\n", "\(r.stderr)")
        for line in r.stdout.isEmpty ? [] : r.lines {
            #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any], "\(line)")
        }
    }

    @Test func vmiStepEndsWithOneLineAndKeepsItsRecords() throws {
        let s = try stub(closingAt: 6, of: "vCont;s")
        let r = try Tools.run("vmi-step", [s.target, "--count", "100"], timeout: 30)
        s.finish()
        try expectOneLine(r, "vmi-step", s)
        #expect(r.lines.count == 5)
        #expect(r.lines.last?.contains("\"n\":5") == true)
    }

    @Test func vmiWatchEndsWithOneLineAndKeepsItsRecords() throws {
        // Two breakpoint hits come back, then the stub closes on the third continue.
        let hit = "T05thread:p01.01;"
        let s = try stub(closingAt: 3, of: "vCont;c", stops: [hit, hit])
        let r = try Tools.run(
            "vmi-watch", [s.target, "--event", "breakpoint@0xffffffff81001000", "--count", "10"], timeout: 30)
        s.finish()
        try expectOneLine(r, "vmi-watch", s)
        #expect(r.lines.count == 2)
    }

    @Test func vmiStepUntilEndsWithOneLine() throws {
        // The stub goes away while the guest runs to the --until address.
        let s = try stub(closingAt: 1, of: "vCont;c")
        let r = try Tools.run("vmi-step", [s.target, "--until", "0xffffffff81002000", "--count", "3"], timeout: 30)
        s.finish()
        try expectOneLine(r, "vmi-step", s)
        #expect(r.stdout.isEmpty)
    }
}
