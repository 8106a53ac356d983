import Testing

@testable import VMICore

@Suite struct RSPPacketTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func framesWithChecksumAndEscapes() {
        #expect(RSP.frame("g") == bytes("$g#67"))
        #expect(RSP.frame("qSupported") == bytes("$qSupported#37"))
        // $ # } * escaped as } then byte ^ 0x20.
        #expect(
            RSP.frame([0x24, 0x23, 0x7d, 0x2a]) == bytes("$}\u{04}}\u{03}}]}\n#")
                + bytes(String(format: "%02x", Int(RSP.checksum(bytes("}\u{04}}\u{03}}]}\n"))))))
        // A slice and a collection with no contiguous storage frame the same.
        #expect(RSP.frame(bytes("xqSupported").dropFirst()) == bytes("$qSupported#37"))
        #expect(RSP.frame(bytes("qSupported").lazy.map { $0 }) == bytes("$qSupported#37"))
    }

    @Test func decodesPacketsAcksAndNoise() throws {
        var d = RSPDecoder()
        d.feed(bytes("+\u{3}junk$OK#9a-$T05thread:p01.01;#"))
        #expect(try d.next() == .ack)
        #expect(try d.next() == .packet(bytes("OK")))
        #expect(try d.next() == .nack)
        #expect(try d.next() == nil)  // checksum not there yet
        let cs = String(format: "%02x", Int(RSP.checksum(bytes("T05thread:p01.01;"))))
        d.feed(bytes(cs))
        #expect(try d.next() == .packet(bytes("T05thread:p01.01;")))
        #expect(try d.next() == nil)
    }

    @Test func detectsBadChecksums() throws {
        var d = RSPDecoder()
        d.feed(bytes("$OK#00$OK#zz$OK#9A"))
        #expect(try d.next() == .corrupt)
        #expect(try d.next() == .corrupt)
        #expect(try d.next() == .packet(bytes("OK")))  // upper-case hex digits are fine
    }

    @Test func expandsRunLengthAndEscapes() throws {
        // "0* " = '0' then 32-29 = 3 more: "0000"
        #expect(try RSP.decodeBody(bytes("0* ")[...], limit: 100) == bytes("0000"))
        #expect(try RSP.decodeBody(bytes("a}]b")[...], limit: 100) == bytes("a}b"))
        #expect(try RSP.decodeBody(bytes("x*~")[...], limit: 200) == Array(repeating: UInt8(ascii: "x"), count: 98))
        #expect(throws: RSPError.self) { try RSP.decodeBody(bytes("*!")[...], limit: 100) }
        #expect(throws: RSPError.self) { try RSP.decodeBody(bytes("ab}")[...], limit: 100) }
        #expect(throws: RSPError.oversized(10)) { try RSP.decodeBody(bytes("x*~")[...], limit: 10) }
    }

    @Test func boundsPacketsWithoutAnEnd() throws {
        var d = RSPDecoder(maxPacket: 1000)
        d.feed(bytes("$") + Array(repeating: UInt8(ascii: "a"), count: 5000))
        #expect(throws: RSPError.oversized(1000)) { try d.next() }
        var e = RSPDecoder(maxPacket: 10)
        e.feed(bytes("$0123456789abcdef#00"))
        #expect(throws: RSPError.oversized(10)) { try e.next() }
    }

    @Test func hexHelpers() {
        #expect(RSP.hexEncode([0x00, 0xab, 0x7f]) == bytes("00ab7f"))
        #expect(RSP.hexDecode(bytes("00AB7f")) == [0x00, 0xab, 0x7f])
        #expect(RSP.hexDecode(bytes("0")) == nil)
        #expect(RSP.hexDecode(bytes("zz")) == nil)
        #expect(RSP.parseHex(bytes("ffffffff81000000")) == 0xffff_ffff_8100_0000)
        #expect(RSP.parseHex(bytes("1ffffffffffffffff")) == nil)
        #expect(RSP.isError(bytes("E14")))
        #expect(!RSP.isError(bytes("E1")))
        #expect(RegisterMap.littleEndian(bytes("0010a081ffffffff")[...]) == 0xffff_ffff_81a0_1000)
        #expect(RegisterMap.littleEndian(bytes("xxxxxxxx")[...]) == nil)
        #expect(RegisterMap.encodeLittleEndian(0x1234, bytes: 4) == bytes("34120000"))
    }

    /// Arbitrary bytes never crash the decoder: every outcome is a frame, nil or an RSPError.
    @Test func survivesRandomInput() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = bytes("$#}*+-%0123456789abcdefOKT\u{3}")
        for _ in 0..<2000 {
            var d = RSPDecoder(maxPacket: 64)
            let n = Int.random(in: 0..<200, using: &rng)
            d.feed((0..<n).map { _ in Bool.random() ? alphabet.randomElement()! : UInt8.random(in: 0...255) })
            for _ in 0..<300 {
                guard let f = try? d.next() else { break }
                if case .packet(let p) = f { _ = try? StopReply(parsing: p) }
            }
        }
    }
}

@Suite struct StopReplyTests {
    func parse(_ s: String) throws -> StopReply { try StopReply(parsing: Array(s.utf8)) }

    @Test func parsesQEMUStops() throws {
        #expect(try parse("T05thread:p01.01;") == .stopped(.init(signal: 5, thread: "p01.01")))
        let w = try parse("T05thread:p01.02;watch:ffffffff82a05500;")
        guard case .stopped(let s) = w else {
            Issue.record("not a stop")
            return
        }
        #expect(s.thread == "p01.02")
        #expect(s.watch?.address == 0xffff_ffff_82a0_5500)
        #expect(s.watch?.access == .write)
        guard case .stopped(let r) = try parse("T05rwatch:10;"), case .stopped(let a) = try parse("T05awatch:10;")
        else {
            Issue.record("not stops")
            return
        }
        #expect(r.watch?.access == .read)
        #expect(a.watch?.access == [.read, .write])
        #expect(try parse("T02thread:01;") == .stopped(.init(signal: 2, thread: "01")))
        #expect(try parse("S05") == .stopped(.init(signal: 5)))
        guard case .stopped(let b) = try parse("T05swbreak:;thread:1;10:0010a081ffffffff;") else {
            Issue.record("not a stop")
            return
        }
        #expect(b.breakpoint && b.thread == "1")
    }

    @Test func parsesExitsAndOutput() throws {
        #expect(try parse("W00") == .exited(status: 0, signaled: false))
        #expect(try parse("X09") == .exited(status: 9, signaled: true))
        #expect(try parse("W00;process:1") == .exited(status: 0, signaled: false))
        #expect(try parse("O68690a") == .output(Array("hi\n".utf8)))
    }

    @Test func rejectsGarbage() {
        for bad in ["", "T", "T5", "Tzz", "Q05", "O6", "T05watch:zz;", "T05thread:;"] {
            #expect(throws: RSPError.self, "\(bad)") { try parse(bad) }
        }
        #expect(!StopReply.looksLikeStop(Array("OK".utf8)))
        #expect(StopReply.looksLikeStop(Array("T02thread:01;".utf8)))
    }

    @Test func threadIDs() throws {
        #expect(RSPThreadID(parsing: Array("p01.02".utf8)) == RSPThreadID(pid: 1, tid: 2))
        #expect(RSPThreadID(parsing: Array("1f".utf8)) == RSPThreadID(pid: nil, tid: 0x1f))
        #expect(RSPThreadID(pid: 1, tid: 2).description == "p1.2")
        #expect(
            try RSPThreadID.list(Array("mp01.01,p01.02".utf8)) == [
                RSPThreadID(pid: 1, tid: 1), RSPThreadID(pid: 1, tid: 2),
            ])
        #expect(try RSPThreadID.list(Array("l".utf8)) == nil)
        #expect(throws: RSPError.self) { try RSPThreadID.list(Array("mp01.".utf8)) }
        #expect(throws: RSPError.self) { try RSPThreadID.list(Array("E01".utf8)) }
    }
}
