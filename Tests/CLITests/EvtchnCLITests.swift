import Foundation
import TestSupport
import Testing
import VMICore

/// vmi-evtchn on console text recorded in the Xen lab (`xl debug-keys e; xl dmesg`), and its
/// errors. The fixture's README says how it was made.
@Suite struct EvtchnCLITests {
    static let dump = Fixtures.path("xen-x86/evtchn/debug-keys-e.txt")
    static var haveDump: Bool { dump != nil }

    static func domid(_ name: String) throws -> Int {
        let text = try String(contentsOfFile: try Fixtures.require("xen-x86/evtchn/domains.txt"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasSuffix(" \(name)") })
        return Int(line.split(separator: " ")[0])!
    }

    @Test(.enabled(if: EvtchnCLITests.haveDump, "fixture xen-x86/evtchn/debug-keys-e.txt absent"))
    func oneRecordPerPortAndDomain() throws {
        let r = try Tools.run("vmi-evtchn", ["console:\(Self.dump!)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let records = try r.lines.map { try JSONValue.parse(Array($0.utf8)) }
        #expect(records.allSatisfy { $0["type"] == .string("evtchn") })
        let pv = try Self.domid("pvguest"), pvh = try Self.domid("pvhguest")
        let domains = Set(records.compactMap { r -> Int? in if case .number(let n)? = r["domid"] { return Int(n) } else { return nil } })
        #expect(domains.isSuperset(of: [0, pv, pvh]))
        #expect(records.filter { $0["domid"] == .number(String(pv)) }.allSatisfy { $0["abi"] == .string("2-level") })
        #expect(records.filter { $0["domid"] == .number(String(pvh)) }.allSatisfy { $0["abi"] == .string("fifo") })
        // The first key is "type", and no priority is invented (the dump does not print it).
        #expect(r.lines.allSatisfy { $0.hasPrefix(#"{"type":"evtchn","domid":"#) && !$0.contains("priority") })
    }

    @Test(.enabled(if: EvtchnCLITests.haveDump, "fixture xen-x86/evtchn/debug-keys-e.txt absent"))
    func filters() throws {
        let pv = try Self.domid("pvguest")
        let one = try Tools.run("vmi-evtchn", ["console:\(Self.dump!)", "--domain", "\(pv)", "--port", "1"])
        #expect(one.status == 0)
        #expect(one.lines.count == 1)
        #expect(one.lines.first?.contains(#""domid":\#(pv),"port":1,"#) == true)
        let pending = try Tools.run("vmi-evtchn", ["console:\(Self.dump!)", "--domain", "\(pv)", "--pending"])
        #expect(pending.status == 0)
        #expect(!pending.lines.isEmpty, "the lab made a port pending on purpose before this dump")
        #expect(pending.lines.allSatisfy { $0.contains(#""pending":true"#) })
        let text = try Tools.run("vmi-evtchn", ["console:\(Self.dump!)", "--domain", "\(pv)", "--text"])
        #expect(text.stdout.hasPrefix("domain \(pv) (2-level):\n   1: VCPU "))
        let none = try Tools.run("vmi-evtchn", ["console:\(Self.dump!)", "--domain", "4000"])
        #expect(none.status == 1)
        #expect(none.stderr.hasPrefix("vmi-evtchn: console:\(Self.dump!): no event channel information for domain 4000 (domains: "))
    }

    @Test func errors() throws {
        let missing = try Tools.run("vmi-evtchn", ["console:/nonexistent/e.txt"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "vmi-evtchn: cannot open '/nonexistent/e.txt': No such file or directory\n")
        let empty = try Tools.run("vmi-evtchn", ["console:-"], stdin: Data("(XEN) hello\n".utf8))
        #expect(empty.status == 1)
        #expect(empty.stderr == "vmi-evtchn: console:-: no 'e' debug-key output (event channel information) in it\n")
        let usage = try Tools.run("vmi-evtchn", ["console:-", "--port", "-1"])
        #expect(usage.status == 2)
        let regs = try Tools.run("vmi-regs", ["console:-"], stdin: Data())
        #expect(regs.status == 1)
        #expect(regs.stderr == "vmi-regs: console:- cannot read registers: console text\n")
    }

    /// Without a Xen dom0 (this machine), a domain target says so in one line.
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/proc/xen/privcmd") && !FileManager.default.fileExists(atPath: "/dev/xen/privcmd")))
    func notADom0() throws {
        for tool in ["vmi-regs", "vmi-evtchn"] {
            let r = try Tools.run(tool, ["web01"])
            #expect(r.status == 1)
            #expect(r.stderr == "\(tool): not a Xen dom0: run this in dom0 as root, or use core:/gdb: targets\n")
            #expect(r.stdout.isEmpty)
        }
    }
}
