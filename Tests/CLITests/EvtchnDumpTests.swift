import Foundation
import Testing
import TestSupport
import VMICore

/// `vmi-evtchn core:` on the lab's PV dump (2-level ABI) against Xen's own `e` dump taken at the
/// same paused moment (Tests/Fixtures/xen-x86/README.md): same ports, same pending and mask bits.
@Suite struct EvtchnDumpTests {
    func records(_ args: [String]) throws -> [(port: Int, pending: Bool, masked: Bool)] {
        let r = try Tools.run("vmi-evtchn", args)
        #expect(r.status == 0, "\(r.stderr)")
        return try r.lines.map { line in
            let v = try JSONValue.parse(Array(line.utf8))
            guard case .number(let p)? = v["port"], let port = Int(p) else { throw VMIError("no port in \(line)") }
            return (port, v["pending"] == .bool(true), v["masked"] == .bool(true))
        }
    }

    @Test func dumpBitmapsMatchTheHypervisorsView() throws {
        guard let dump = Fixtures.path("xen-x86/pvguest.core"),
            let e = Fixtures.path("xen-x86/pvguest.debug-keys-e.txt")
        else { return }  // lab fixtures absent: skipped
        let fromDump = try records(["core:\(dump)"])
        let fromXen = try records(["console:\(e)", "--domain", "1"])
        #expect(!fromDump.isEmpty)
        #expect(fromDump.map(\.port) == fromXen.map(\.port))
        #expect(fromDump.map(\.pending) == fromXen.map(\.pending))
        #expect(fromDump.map(\.masked) == fromXen.map(\.masked))
        #expect(fromDump.contains { $0.pending }, "the timer VIRQ was pending when the guest was paused")
    }
}
