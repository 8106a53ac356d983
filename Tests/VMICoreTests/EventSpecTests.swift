import Testing
@testable import VMICore

@Suite struct EventSpecTests {
    @Test func parsesEveryForm() throws {
        #expect(try EventSpec(parsing: "cr3").kind == .cr3)
        #expect(try EventSpec(parsing: "CPUID").kind == .cpuid)
        #expect(try EventSpec(parsing: "guest-request").kind == .guestRequest)
        #expect(try EventSpec(parsing: "msr").msrIndex == nil)
        #expect(try EventSpec(parsing: "msr:0xc0000080").msrIndex == 0xc000_0080)
        let bp = try EventSpec(parsing: "breakpoint@0xffffffff81000000")
        #expect(bp.kind == .breakpoint && bp.address == 0xffff_ffff_8100_0000)
        #expect(try EventSpec(parsing: "hbreak@0x1000").kind == .hbreak)
        let m = try EventSpec(parsing: "mem:rw@0x100-0x1ff")
        #expect(m.access == [.read, .write] && m.range == .frames(0x100...0x1ff))
        let v = try EventSpec(parsing: "mem:w@va:0xffff800000001000+8")
        #expect(v.access == .write && v.range == .virtual(address: 0xffff_8000_0000_1000, length: 8))
        #expect(try EventSpec(parsing: "mem:x@42").range == .frames(42...42))
    }

    @Test func describesItselfCanonically() throws {
        for s in ["cr3", "msr:0xc0000080", "breakpoint@0x1000", "mem:rw@0x100-0x1ff", "mem:w@va:0x10+8", "guest-request"] {
            #expect(try EventSpec(parsing: s).description == s)
        }
    }

    @Test func rejectsMalformedSpecs() {
        for bad in ["", "cr5", "msr:", "msr:zz", "msr:0x1ffffffff", "breakpoint", "breakpoint@", "mem:q@1",
            "mem:@1", "mem:r@5-1", "mem:r", "mem:w@va:1+0", "mem"]
        {
            #expect(throws: VMIError.self, "\(bad)") { try EventSpec(parsing: bad) }
        }
    }

    @Test func eventRecordsFollowTheContract() {
        var line = JSONLine(type: "event")
        VMEvent(kind: "cr3", vcpu: 1, timestamp: Timestamp(seconds: 0, nanoseconds: 0),
            fields: [("old", .hex(0x1000)), ("new", .hex(0x2000)), ("rip", .hex(0xffff_ffff_8100_0000))])
            .write(identity: .domid(5), to: &line)
        line.finish()
        #expect(String(decoding: line.bytes, as: UTF8.self)
            == "{\"type\":\"event\",\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"domid\":5,\"vcpu\":1,\"event\":\"cr3\",\"old\":\"0x1000\",\"new\":\"0x2000\",\"rip\":\"0xffffffff81000000\"}\n")
    }
}
