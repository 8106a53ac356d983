import Foundation
import TestSupport
import Testing

@testable import VMICore

/// The `e` debug-key parser: on real console text from the Xen lab (both ABIs), and on broken
/// input, which must end in an error naming the line, never a crash.
@Suite struct DebugKeyEDumpTests {
    static let fixture = "xen-x86/evtchn/debug-keys-e.txt"

    @Test(
        .enabled(if: Fixtures.path(DebugKeyEDumpTests.fixture) != nil, "fixture \(DebugKeyEDumpTests.fixture) absent"))
    func realConsoleText() throws {
        let text = try String(contentsOfFile: try Fixtures.require(Self.fixture), encoding: .utf8)
        let dump = try DebugKeyEDump.parse(Substring(text))
        let info = try Fixtures.require("xen-x86/evtchn/domains.txt")
        // domains.txt: "<domid> <name>" of the lab's guests at the time of the dump.
        let domains = try String(contentsOfFile: info, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ")
        }
        let pv = Int(domains.first { $0[1] == "pvguest" }![0])!
        let pvh = Int(domains.first { $0[1] == "pvhguest" }![0])!
        #expect(dump.domain(0) != nil)
        let two = try #require(dump.domain(pv))
        let fifo = try #require(dump.domain(pvh))
        #expect(two.abi == .twoLevel)
        #expect(fifo.abi == .fifo)
        #expect(two.ports.count >= 4 && fifo.ports.count >= 4)
        for d in [two, fifo] {
            #expect(d.ports.map(\.port) == d.ports.map(\.port).sorted())
            #expect(d.ports.allSatisfy { $0.state != nil })
            // Every interdomain port of a guest goes to dom0 here (xenstore, console).
            #expect(
                d.ports.filter { $0.state == .interdomain }.allSatisfy { $0.remoteDomid == 0 && $0.remotePort != nil })
            #expect(d.ports.contains { $0.state == .virq && $0.virq != nil })
        }
    }

    /// The lab's real text with each of Xen's `console_timestamps` formats put after "(XEN) "
    /// (date, datems, boot, raw: xen/drivers/char/console.c) parses as it does without.
    @Test(
        .enabled(if: Fixtures.path(DebugKeyEDumpTests.fixture) != nil, "fixture \(DebugKeyEDumpTests.fixture) absent"),
        arguments: ["[2026-11-28 18:04:05] ", "[2026-11-28 18:04:05.123] ", "[   127.929105] ", "[0000001dc9e4a7b1] "])
    func everyTimestampFormat(stamp: String) throws {
        let text = try String(contentsOfFile: try Fixtures.require(Self.fixture), encoding: .utf8)
        let plain = try DebugKeyEDump.parse(Substring(text))
        #expect(!plain.domains.isEmpty)
        let stamped = text.replacingOccurrences(of: "(XEN) ", with: "(XEN) " + stamp)
        #expect(try DebugKeyEDump.parse(Substring(stamped)) == plain)
    }

    @Test func lastDumpOfADomainWins() throws {
        let text = """
            (XEN) [   10.000000] 'e' pressed -> dumping event-channel info
            (XEN) [   10.000001] Event channel information for domain 1:
            (XEN) [   10.000002] Polling vCPUs: {}
            (XEN) [   10.000003]     port [p/m/s]
            (XEN) [   10.000004]        1 [0/1/1]: s=3 n=0 x=0 d=0 p=20
            (XEN) [   20.000000] 'e' pressed -> dumping event-channel info
            (XEN) [   20.000001] Event channel information for domain 1:
            (XEN) [   20.000002] Polling vCPUs: {}
            (XEN) [   20.000003]     port [p/m/s]
            (XEN) [   20.000004]        1 [1/0/0]: s=3 n=0 x=0 d=0 p=20
            (XEN) [   20.000005]        2 [0/0/0]: s=5 n=0 x=0 v=0
            (XEN) [   20.000006]        3 [0/0/0]: s=2 n=0 x=0 d=0
            (XEN) [   20.000007]        4 [0/0/0]: s=6 n=1 x=0
            (XEN) [   20.000008]        5 [0/0/0]: s=4 n=0 x=0 p=9 i=30
            (XEN) [   20.000009]        6 [0/0/0]: s=3 n=0 x=1 d=0 p=21
            (XEN) [   20.000010] Event channel information for domain 2:
            (XEN) [   20.000011]        1 [1/0/B 12  ]: s=3 n=0 x=0 d=0 p=4 Z=system_u:object_r:x
            (XEN) [   20.000012]        2 [0/1/  -   ]: s=5 n=0 x=0 v=1
            (XEN) [   20.000013]        3 [0/1/?     ]: s=6 n=0 x=0
            """
        let dump = try DebugKeyEDump.parse(Substring(text))
        #expect(dump.domains.map(\.domid) == [1, 2])
        let d1 = try #require(dump.domain(1))
        #expect(d1.abi == .twoLevel)
        #expect(d1.ports.map(\.port) == [1, 2, 3, 4, 5, 6])
        #expect(
            d1.port(1)?.pending == true && d1.port(1)?.masked == false
                && d1.port(1)?.column == .twoLevel(selector: false))
        #expect(d1.port(2)?.virq == 0 && d1.port(3)?.remoteDomid == 0 && d1.port(4)?.notifyVCPU == 1)
        #expect(d1.port(5)?.pirq == 9 && d1.port(5)?.irq == 30)
        let d2 = try #require(dump.domain(2))
        #expect(d2.abi == .fifo)
        #expect(d2.port(1)?.column == .fifo(busy: true, link: 12))
        #expect(d2.port(1)?.remotePort == 4)
        #expect(d2.port(2)?.column == .fifo(busy: false, link: nil))
        #expect(d2.port(3)?.column == .fifoNoWord)

        // The same text as a serial console captures it (CRLF line ends).
        #expect(try DebugKeyEDump.parse(Substring(text.replacingOccurrences(of: "\n", with: "\r\n"))) == dump)

        // Records: the Xen-consumed port 6 is not the guest's.
        let records = try ConsoleTarget(address: .console(path: "-"), text: text).eventChannels(domain: 1)
        #expect(records.map(\.port) == [1, 2, 3, 4, 5])
        #expect(
            String(decoding: records[0].record().bytes, as: UTF8.self)
                == #"{"type":"evtchn","domid":1,"port":1,"state":"interdomain","vcpu":0,"remote_domid":0,"remote_port":20,"pending":true,"masked":false,"abi":"2-level"}"#
                + "\n")
        #expect(records[0].textLine() == "   1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 20 pending\n")
    }

    @Test func brokenInputIsAnError() {
        let header = "(XEN) Event channel information for domain 3:\n"
        #expect(throws: VMIError("line 2: bad [p/m/s] column: '1 [x/0/0]: s=3 n=0 x=0'")) {
            try DebugKeyEDump.parse(Substring(header + "(XEN)        1 [x/0/0]: s=3 n=0 x=0"))
        }
        #expect(throws: VMIError("line 2: bad print_state column '0 0': '1 [0/0/0 0]: s=3 n=0 x=0'")) {
            try DebugKeyEDump.parse(Substring(header + "(XEN)        1 [0/0/0 0]: s=3 n=0 x=0"))
        }
        #expect(throws: VMIError("line 2: missing s=, n= or x=: '1 [0/0/0]: s=3'")) {
            try DebugKeyEDump.parse(Substring(header + "(XEN)        1 [0/0/0]: s=3"))
        }
        #expect(
            throws: VMIError(
                "line 2: bad value in 's=99999999999999999999999': '1 [0/0/0]: s=99999999999999999999999 n=0 x=0'")
        ) {
            try DebugKeyEDump.parse(Substring(header + "(XEN)        1 [0/0/0]: s=99999999999999999999999 n=0 x=0"))
        }
        #expect(throws: VMIError("line 1: bad domain header 'Event channel information for domain x:'")) {
            try DebugKeyEDump.parse("Event channel information for domain x:")
        }
        #expect(throws: VMIError("console:-: no 'e' debug-key output (event channel information) in it")) {
            try ConsoleTarget(address: .console(path: "-"), text: "(XEN) nothing here\n").eventChannels(domain: nil)
        }
        #expect(throws: VMIError("console:-: no event channel information for domain 9 (domains: 3)")) {
            try ConsoleTarget(address: .console(path: "-"), text: header).eventChannels(domain: 9)
        }
    }
}
