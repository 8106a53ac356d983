import Foundation
import TestSupport
import Testing

@testable import VMICore

#if canImport(Glibc)
    import Glibc
#endif

/// The gdb driver against a stub that lies or dies: every case ends in one clear error within
/// the reply timeout, never a hang or a crash. Cases that end by the timeout set it to 1 s; the
/// others allow 5 s, so a loaded machine (or a sanitizer build) does not fail a reply that is
/// merely slow.
@Suite(.serialized) struct GDBFakeStubTests {
    static let fixtureDir = Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path

    func open(_ stub: FakeGDBStub, timeout: Double = 5) throws -> GDBTarget {
        let address = try TargetAddress(parsing: stub.target)
        guard case .gdb(let endpoint) = address else { throw VMIError("not a gdb target") }
        return try GDBTarget(endpoint, address: address, timeout: timeout)
    }

    /// Runs `body`, expecting a VMIError containing `message` within `seconds`.
    func expectError(_ message: String, within seconds: Double = 4, _ body: () throws -> Void) {
        let start = monotonicSeconds()
        do {
            try body()
            Issue.record("no error; expected '\(message)'")
        } catch {
            #expect("\(error)".contains(message), "got: \(error)")
        }
        #expect(monotonicSeconds() - start < seconds)
    }

    func qemu() throws -> QEMULikeStub { try QEMULikeStub(fixtureDir: Self.fixtureDir) }

    @Test func readsRegistersDrainsTheConnectStopAndDetaches() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in
            c.sendPacket("T02thread:p01.01;")  // QEMU stops the VM on connect and says so
            q.serve(c)
        }
        let t = try open(stub)
        #expect(try t.vcpus() == [0])
        let regs = try t.registers(vcpu: 0)
        #expect(regs.arch == .x86_64)
        #expect(regs["rip"] == 0xffff_ffff_8100_1000)
        #expect(regs["rflags"] == 0 && regs["cr3"] == 0 && regs["xmm0"] == nil)
        t.close()
        stub.finish()
        #expect(stub.packets.last == "D;1")
        #expect(stub.packets.contains("Hgp1.1"))
    }

    @Test func readsMemoryInTheLargestPieces() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) }
        let t = try open(stub)
        let bytes = try t.readVirtual(0x1000_0ff0, count: 5000)
        #expect(bytes.count == 5000)
        #expect(bytes.enumerated().allSatisfy { $0.element == UInt8((0xf0 + $0.offset) & 0xff) })
        let phys = try t.readPhysical(0x40, count: 16)
        try t.writeVirtual(0x2000, (0..<4096).map { UInt8($0 & 0xff) })
        let big = try t.readVirtual(0x4000_0000, count: 40000)  // 16 pieces per write, then the rest
        #expect(big.count == 40000 && big[39999] == UInt8(39999 & 0xff))
        #expect(phys.first == 0x40)
        t.close()
        stub.finish()
        let reads = stub.packets.filter { $0.hasPrefix("m") }
        let writes = stub.packets.filter { $0.hasPrefix("M") }
        #expect(writes.map { $0.prefix(14) } == ["M2000,7ec:0001", "M27ec,7ec:eced", "M2fd8,28:d8d9d"])
        #expect(writes.allSatisfy { $0.count <= 4096 - 4 })
        #expect(reads.prefix(3) == ["m10000ff0,800", "m100017f0,800", "m10001ff0,388"])
        #expect(stub.packets.contains("Qqemu.PhyMemMode:1") && stub.packets.contains("Qqemu.PhyMemMode:0"))
    }

    @Test func unixSocketAndSeveralVCPUs() throws {
        let q = try qemu()
        q.threads = ["p01.01", "p01.02"]
        let path = NSTemporaryDirectory() + "vmi-gdb-\(getpid()).sock"
        let stub = try FakeGDBStub(unixPath: path) { c in q.serve(c) }
        let t = try open(stub)
        #expect(try t.vcpus() == [0, 1])
        #expect(try t.registers(vcpu: 1).vcpu == 1)
        expectError("\(stub.target) has no vcpu 2 (vcpus: 0, 1)") { _ = try t.registers(vcpu: 2) }
        t.close()
        stub.finish()
        #expect(stub.packets.contains("Hgp1.2"))
        #expect(stub.target == "gdb:unix:\(path)")
    }

    @Test func nothingListening() throws {
        expectError("cannot connect to gdb:unix:/nonexistent/vmi.sock: No such file or directory") {
            _ = try openTarget(
                try TargetAddress(parsing: "gdb:unix:/nonexistent/vmi.sock"), options: AttachOptions(timeoutSeconds: 1))
        }
        expectError("cannot connect to gdb:127.0.0.1:1: Connection refused") {
            _ = try openTarget(try TargetAddress(parsing: "gdb:127.0.0.1:1"), options: AttachOptions(timeoutSeconds: 1))
        }
    }

    @Test func stubThatClosesAtOnce() throws {
        let stub = try FakeGDBStub { c in c.close() }
        expectError("\(stub.target): stub closed the connection") { _ = try open(stub) }
        stub.finish()
    }

    @Test func silentStub() throws {
        let stub = try FakeGDBStub { c in
            _ = c.readPacket(timeout: 3)
            Thread.sleep(forTimeInterval: 2)
        }
        expectError("\(stub.target): no reply from the stub within 1 s") { _ = try open(stub, timeout: 1) }
        stub.finish()
    }

    @Test func badChecksumsForever() throws {
        let stub = try FakeGDBStub { c in
            // A stub answers '-' by sending again: here always corrupt.
            _ = c.readPacket(timeout: 3)
            for _ in 0..<6 { c.sendRaw("$OK#00") }
            _ = c.readPacket(timeout: 3)
        }
        expectError("\(stub.target): the stub kept sending packets with bad checksums") { _ = try open(stub) }
        stub.finish()
    }

    @Test func badChecksumOnceIsRetransmitted() throws {
        let q = try qemu()
        var corrupted = false
        let stub = try FakeGDBStub { c in
            q.serve(c) { p in
                guard p == "g" && !corrupted else { return nil }
                corrupted = true
                c.sendRaw("$" + q.gBlock() + "#00")  // the client answers '-' and we send it again
                return q.gBlock()
            }
        }
        let t = try open(stub)
        #expect(try t.registers(vcpu: 0)["rip"] == 0xffff_ffff_8100_1000)
        t.close()
        stub.finish()
    }

    @Test func oversizedPacket() throws {
        let stub = try FakeGDBStub { c in
            _ = c.readPacket()
            c.sendRaw("$" + String(repeating: "a", count: 1_100_000))
            _ = c.readPacket(timeout: 3)
        }
        // A megabyte takes a while in a debug build on a loaded machine: a generous timeout,
        // still bounded.
        expectError("\(stub.target): the stub sent a packet larger than 1048576 bytes", within: 10) {
            _ = try open(stub, timeout: 8)
        }
        stub.finish()
    }

    @Test func truncatedPacketThenClose() throws {
        let stub = try FakeGDBStub { c in
            _ = c.readPacket()
            c.sendRaw("$PacketSize=1000;qXfer:feat")
        }
        expectError("\(stub.target): stub closed the connection") { _ = try open(stub) }
        stub.finish()
    }

    @Test func nackForever() throws {
        let stub = try FakeGDBStub { c in
            c.noAck = true
            for _ in 0..<10 {
                guard c.readPacket(timeout: 3) != nil else { return }
                c.sendRaw("-")
            }
        }
        expectError("\(stub.target): unexpected reply from the stub: the stub rejected a packet 4 times") {
            _ = try open(stub)
        }
        stub.finish()
    }

    @Test func noTargetDescription() throws {
        let stub = try FakeGDBStub { c in
            c.serve { p in p.hasPrefix("qSupported") ? "PacketSize=1000" : "" }
        }
        expectError("\(stub.target): the stub sends no target description (qXfer:features:read)") { _ = try open(stub) }
        stub.finish()
    }

    /// A target description the stub cannot serve, or one that makes no sense.
    @Test(
        arguments: zip(
            [
                nil, "<target><reg name=\"rip\" bitsize=\"sixty-four\"/></target>",
                "<target><architecture>mips</architecture><reg name=\"pc\" bitsize=\"32\"/></target>",
            ],
            [
                "cannot read target description 'target.xml': the stub replied 'E00'",
                "target description 'target.xml': register 'rip' has no valid bitsize",
                "target architecture 'mips' is not x86_64 or aarch64",
            ]))
    func badTargetDescription(xml: String?, message: String) throws {
        let q = try qemu()
        q.files["target.xml"] = xml
        let stub = try FakeGDBStub { c in q.serve(c) }
        expectError("\(stub.target): " + message) { _ = try open(stub) }
        stub.finish()
    }

    /// Opens a QEMU-like stub whose answer to `g` is `answer` and expects `message` from a
    /// register read.
    func expectRegisterReadError(
        _ message: String, timeout: Double = 5, answer: @escaping (FakeGDBConnection) -> String?
    ) throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) { p in p == "g" ? answer(c) : nil } }
        let t = try open(stub, timeout: timeout)
        expectError(message.replacingOccurrences(of: "TARGET", with: stub.target)) { _ = try t.registers(vcpu: 0) }
        t.close()
        stub.finish()
    }

    @Test func garbageRegisterBlock() throws {
        try expectRegisterReadError("TARGET: unexpected reply from the stub: register block of odd length") { _ in "0zz"
        }
    }

    @Test func disconnectMidSession() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in
            q.serve(c) { p in
                if p == "g" { c.close() }
                return nil
            }
        }
        let t = try open(stub)
        expectError("\(stub.target): stub closed the connection") { _ = try t.registers(vcpu: 0) }
        let start = monotonicSeconds()
        t.close()  // a dead stub: no waiting
        #expect(monotonicSeconds() - start < 0.5)
        stub.finish()
    }

    @Test func unexpectedRepliesAreErrors() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) { p in p.hasPrefix("Z") ? "E22" : p.hasPrefix("m") ? "E14" : nil }
        }
        let t = try open(stub)
        expectError("cannot insert hardware breakpoint at 0x1000: the stub replied 'E22'") {
            try t.listen([try EventSpec(parsing: "hbreak@0x1000")], options: ListenOptions()) { _ in .stop }
        }
        expectError("cannot read 16 bytes at 0x2000: the stub replied 'E14'") {
            _ = try t.readVirtual(0x2000, count: 16)
        }
        t.close()
        stub.finish()
    }

    @Test func refusesEventsTheProtocolCannotDeliver() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) }
        let t = try open(stub)
        expectError("\(stub.target) cannot watch cr3: the gdb remote protocol has no control-register events") {
            try t.check([try EventSpec(parsing: "cr3")])
        }
        expectError("cannot watch msr: the gdb remote protocol has no MSR events") {
            try t.check([try EventSpec(parsing: "msr")])
        }
        expectError("cannot watch cpuid: the gdb remote protocol has no cpuid events") {
            try t.check([try EventSpec(parsing: "cpuid")])
        }
        expectError("cannot watch mem: the gdb remote protocol watches virtual addresses") {
            try t.check([try EventSpec(parsing: "mem:w@0x100")])
        }
        try t.check([
            try EventSpec(parsing: "mem:rw@va:0xffffffff82a05500+8"), try EventSpec(parsing: "breakpoint@0x1"),
            try EventSpec(parsing: "singlestep"),
        ])
        t.close()
        stub.finish()
    }

    /// A breakpoint event: Z1, continue, stop at it, the handler sees it, then z1, and the guest
    /// is resumed; close interrupts and detaches.
    @Test func breakpointEventAndCleanTeardown() throws {
        let q = try qemu()
        q.registers[16] = 0xffff_ffff_8100_2000
        q.stops = ["T05thread:p01.01;hwbreak:;"]
        let stub = try FakeGDBStub { c in q.serve(c) }
        let t = try open(stub)
        var events: [VMEvent] = []
        try t.listen([try EventSpec(parsing: "hbreak@0xffffffff81002000")], options: ListenOptions()) { e in
            events.append(e)
            return .stop
        }
        #expect(events.count == 1)
        #expect(events.first?.kind == "hbreak")
        #expect(events.first?.value("rip") == .hex(0xffff_ffff_8100_2000))
        #expect(events.first?.value("address") == .hex(0xffff_ffff_8100_2000))
        t.close()
        stub.finish()
        let p = stub.packets
        guard let z = p.firstIndex(of: "Z1,ffffffff81002000,1"), let unz = p.firstIndex(of: "z1,ffffffff81002000,1")
        else {
            Issue.record("no Z1/z1 in \(p)")
            return
        }
        #expect(z < unz)
        #expect(p.last == "D;1")
        #expect(p.filter { $0.hasPrefix("Z") }.count == p.filter { $0.hasPrefix("z") }.count)
    }

    /// Without vCont the driver steps with `s` and continues with `c`; QEMU's step flags are
    /// set for the session and restored at the end.
    @Test func plainStepAndContinueWithoutVCont() throws {
        let q = try qemu()
        q.stops = ["T05thread:p01.01;"]
        let stub = try FakeGDBStub { c in q.serve(c) { p in p == "vCont?" ? "" : nil } }
        let t = try open(stub)
        let session = try t.beginStepping(vcpu: 0, options: ListenOptions())
        _ = try session.step()
        try session.insertBreakpoint(0xffff_ffff_8100_1000)  // where the fake guest sits
        _ = try session.step()  // steps over our breakpoint: z0, s, Z0
        session.end()
        t.close()
        stub.finish()
        let p = stub.packets
        #expect(!p.contains { $0.hasPrefix("vCont;") })
        #expect(p.filter { $0 == "s" }.count == 2)
        #expect(p.contains("c"))
        #expect(p.contains("Qqemu.sstep=7") && p.last(where: { $0.hasPrefix("Qqemu.sstep=") }) == "Qqemu.sstep=1")
        #expect(p.filter { $0 == "Z0,ffffffff81001000,1" }.count == 2)
        #expect(p.filter { $0 == "z0,ffffffff81001000,1" }.count == 2)
        #expect(p.last == "D;1")
    }

    /// Console output without end is no answer: the exchange still times out.
    @Test func endlessConsoleOutput() throws {
        try expectRegisterReadError("TARGET: no reply from the stub within 1 s", timeout: 1) { c in
            for _ in 0..<300 {
                c.sendPacket("O6869")
                Thread.sleep(forTimeInterval: 0.01)
            }
            return nil
        }
    }

    /// A stub without `P` gets the whole block back through `G`, with only our register changed.
    @Test func writesThroughGWhenPIsMissing() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) { p in p.hasPrefix("P") ? "" : p.hasPrefix("G") ? "OK" : nil } }
        let t = try open(stub)
        try t.setRegisters(vcpu: 0, [("rax", 0x1122_3344_5566_7788), ("rflags", 0x246)])
        expectError("value 0x100000000 does not fit 32-bit register 'rflags'") {
            try t.setRegisters(vcpu: 0, [("rflags", 0x1_0000_0000)])
        }
        expectError("has no register 'xmm0'") { try t.setRegisters(vcpu: 0, [("xmm0", 1)]) }
        t.close()
        stub.finish()
        let g = try #require(stub.packets.first { $0.hasPrefix("G") })
        var expected = Array(q.gBlock())
        expected.replaceSubrange(0..<16, with: "8877665544332211")
        expected.replaceSubrange((17 * 16)..<(17 * 16 + 8), with: "46020000")
        #expect(g == "G" + String(expected))
        #expect(stub.packets.filter { $0.hasPrefix("P") }.count == 1)  // asked once, then G
    }

    /// `--event singlestep`: one event per instruction of the chosen vCPU, then the guest runs.
    @Test func singlestepEvents() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) }
        let t = try open(stub)
        var events: [VMEvent] = []
        try t.listen([try EventSpec(parsing: "singlestep")], options: ListenOptions(vcpu: 0)) { e in
            events.append(e)
            return events.count == 3 ? .stop : .next
        }
        #expect(events.map(\.kind) == ["singlestep", "singlestep", "singlestep"])
        #expect(events.first?.value("rip") == .hex(0xffff_ffff_8100_1000))
        t.close()
        stub.finish()
        #expect(stub.packets.filter { $0 == "vCont;s:p1.1" }.count == 3)
        #expect(stub.packets.contains("vCont;c") && stub.packets.last == "D;1")
    }

    @Test func stopRequestEndsALongWait() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) }
        let t = try open(stub)
        var fds: [Int32] = [-1, -1]
        pipe(&fds)
        defer {
            Glibc.close(fds[0])
            Glibc.close(fds[1])
        }
        let writeEnd = fds[1]
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            var b: UInt8 = 1
            _ = write(writeEnd, &b, 1)
        }
        let start = monotonicSeconds()
        try t.listen([try EventSpec(parsing: "mem:w@va:0x1000+8")], options: ListenOptions(stopFD: fds[0])) { _ in .next
        }
        #expect(monotonicSeconds() - start < 2)
        t.close()
        stub.finish()
        #expect(stub.packets.contains("Z2,1000,8") && stub.packets.contains("z2,1000,8") && stub.packets.last == "D;1")
    }

    @Test func targetExitIsAnError() throws {
        let q = try qemu()
        let stub = try FakeGDBStub { c in q.serve(c) { p in p == "vCont;c" ? "W00" : nil } }
        let t = try open(stub)
        // The exit ends the connection: the cleanup after it must not wait a reply timeout (5 s).
        expectError("\(stub.target): the target exited with status 0", within: 3) {
            try t.listen([try EventSpec(parsing: "breakpoint@0x1000")], options: ListenOptions()) { _ in .next }
        }
        t.close()
        stub.finish()
    }
}
