import Testing
@testable import VMICore

@Suite struct JSONLineTests {
    func line(_ body: (inout JSONLine) -> Void) -> String {
        var l = JSONLine(type: "t")
        body(&l)
        l.finish()
        return String(decoding: l.bytes, as: UTF8.self)
    }

    @Test func typeComesFirstAndLineEnds() {
        #expect(line { $0.field("vcpu", 0) } == "{\"type\":\"t\",\"vcpu\":0}\n")
    }

    @Test func hexIsCanonical() {
        #expect(line { $0.field("a", hex: 0) } == "{\"type\":\"t\",\"a\":\"0x0\"}\n")
        #expect(line { $0.field("a", hex: 0x487c000) } == "{\"type\":\"t\",\"a\":\"0x487c000\"}\n")
        #expect(line { $0.field("a", hex: .max) } == "{\"type\":\"t\",\"a\":\"0xffffffffffffffff\"}\n")
        #expect(line { $0.field("a", hex: 0x10) } == "{\"type\":\"t\",\"a\":\"0x10\"}\n")
    }

    /// Every digit count, odd and even (digits are written two at a time), as String(radix:).
    @Test func hexOfEveryLengthMatchesStringRadix() {
        var values: [UInt64] = [0, 1, 0xf, .max]
        for bits in 1..<64 { values += [1 << bits, (1 << bits) - 1, (1 << bits) | 0xa5] }
        for v in values {
            #expect(line { $0.field("a", hex: v) } == "{\"type\":\"t\",\"a\":\"0x\(String(v, radix: 16))\"}\n")
        }
    }

    @Test func integersAndBooleans() {
        #expect(line { $0.field("n", -42); $0.field("m", Int.max); $0.field("b", true) }
            == "{\"type\":\"t\",\"n\":-42,\"m\":9223372036854775807,\"b\":true}\n")
        #expect(line { $0.field("n", Int.min) } == "{\"type\":\"t\",\"n\":-9223372036854775808}\n")
    }

    @Test func stringsAreEscaped() {
        #expect(line { $0.field("s", "a\"b\\c\nd\u{1}\u{7f}é") }
            == "{\"type\":\"t\",\"s\":\"a\\\"b\\\\c\\nd\\u0001\\u007fé\"}\n")
    }

    @Test func invalidUTF8BecomesReplacementCharacter() {
        let s = line { $0.field("s", utf8Bytes: [0x41, 0xff, 0xc3, 0x0a]) }
        #expect(s == "{\"type\":\"t\",\"s\":\"A\u{FFFD}\u{FFFD}\\n\"}\n")
        #expect(s.utf8.filter { $0 == 0x0a }.count == 1)
    }

    @Test func nestedObjectsAndArrays() {
        let s = line { l in
            l.object("o") { $0.field("x", 1); $0.field("y", hex: 2) }
            l.field("a", hexArray: [1, 255])
            l.field("i", intArray: [3, 4])
        }
        #expect(s == "{\"type\":\"t\",\"o\":{\"x\":1,\"y\":\"0x2\"},\"a\":[\"0x1\",\"0xff\"],\"i\":[3,4]}\n")
    }

    @Test func roundTripsThroughTheReader() throws {
        let s = line { $0.field("k", "q\"\u{2}\\"); $0.field("h", hex: 0xdead) }
        let v = try JSONValue.parse(Array(s.utf8.dropLast()))
        #expect(v["k"] == .string("q\"\u{2}\\"))
        #expect(v["h"] == .string("0xdead"))
        #expect(v["type"] == .string("t"))
    }

    @Test func timestampsAreRFC3339WithNanoseconds() {
        #expect(Timestamp(seconds: 0, nanoseconds: 5).rfc3339 == "1970-01-01T00:00:00.000000005Z")
        #expect(Timestamp(seconds: 1795_860_672, nanoseconds: 123_456_789).rfc3339 == "2026-11-28T10:11:12.123456789Z")
        #expect(Timestamp(seconds: 951_782_400, nanoseconds: 0).rfc3339 == "2000-02-29T00:00:00.000000000Z")
    }

    /// Records of one line share its whole-second cache: each must still spell its own time.
    @Test func cachedTimestampsMatchTheFullFormat() {
        let times = [(1795_860_672, 1), (1795_860_672, 999_999_999), (1795_860_673, 0), (0, 5), (0, 6), (1795_860_672, 2)]
            .map { Timestamp(seconds: Int64($0), nanoseconds: Int32($1)) }
        var line = JSONLine(type: "t")
        var expected = "{\"type\":\"t\""
        for ts in times {
            line.timestamp(ts)
            expected += ",\"ts\":\"\(ts.rfc3339)\""
        }
        #expect(String(decoding: line.bytes, as: UTF8.self) == expected)
    }
}

@Suite struct JSONReaderTests {
    @Test func rejectsHostileInput() {
        #expect(throws: VMIError.self) { try JSONValue.parse(Array(String(repeating: "[", count: 100_000).utf8)) }
        #expect(throws: VMIError.self) { try JSONValue.parse(Array("{\"a\":".utf8)) }
        #expect(throws: VMIError.self) { try JSONValue.parse(Array("\"abc".utf8)) }
        #expect(throws: VMIError.self) { try JSONValue.parse(Array("{} x".utf8)) }
    }

    @Test func numbersKeepTheirText() throws {
        #expect(try JSONValue.parse(Array("18446744073709551615".utf8)) == .number("18446744073709551615"))
    }

    @Test func userNumbers() {
        #expect(parseUInt64("0x1F") == 31)
        #expect(parseUInt64("31") == 31)
        #expect(parseUInt64("0b101") == 5)
        #expect(parseUInt64("0xffff_ffff") == 0xffff_ffff)
        #expect(parseUInt64("zz") == nil)
    }
}

@Suite struct TargetAddressTests {
    let none: (String) -> Bool = { _ in false }

    @Test func everyForm() throws {
        #expect(try TargetAddress(parsing: "web01", fileExists: none) == .xen(.name("web01")))
        #expect(try TargetAddress(parsing: "7", fileExists: none) == .xen(.id(7)))
        #expect(try TargetAddress(parsing: "xen:web01", fileExists: none) == .xen(.name("web01")))
        #expect(try TargetAddress(parsing: "xen:12", fileExists: none) == .xen(.id(12)))
        #expect(try TargetAddress(parsing: "xen:0F1E2D3C-aaaa-bbbb-cccc-0123456789ab", fileExists: none)
            == .xen(.uuid("0f1e2d3c-aaaa-bbbb-cccc-0123456789ab")))
        #expect(try TargetAddress(parsing: "core:x.core", fileExists: none) == .core(path: "x.core"))
        #expect(try TargetAddress(parsing: "x.core", fileExists: { $0 == "x.core" }) == .core(path: "x.core"))
        #expect(try TargetAddress(parsing: "./dumps/a", fileExists: none) == .core(path: "./dumps/a"))
        #expect(try TargetAddress(parsing: "gdb:127.0.0.1:1234", fileExists: none) == .gdb(.tcp(host: "127.0.0.1", port: 1234)))
        #expect(try TargetAddress(parsing: "gdb::1234", fileExists: none) == .gdb(.tcp(host: "127.0.0.1", port: 1234)))
        #expect(try TargetAddress(parsing: "gdb:[::1]:1234", fileExists: none) == .gdb(.tcp(host: "::1", port: 1234)))
        #expect(try TargetAddress(parsing: "gdb:unix:/tmp/s", fileExists: none) == .gdb(.unix(path: "/tmp/s")))
        #expect(try TargetAddress(parsing: "vmstate:m.bin", fileExists: none) == .vmstate(path: "m.bin"))
        #expect(try TargetAddress(parsing: "kvm-vgic:v.txt", fileExists: none) == .kvmVGIC(path: "v.txt"))
        #expect(try TargetAddress(parsing: "console:-", fileExists: none) == .console(path: "-"))
    }

    @Test func malformedTargetsAreClearErrors() {
        for bad in ["", "xen:", "core:", "gdb:host", "gdb:host:0", "gdb:host:99999", "gdb:unix:", "xen:99999"] {
            #expect(throws: TargetError.self, "\(bad)") { try TargetAddress(parsing: bad, fileExists: { _ in false }) }
        }
    }
}
