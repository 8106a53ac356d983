import Testing
@testable import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// A stepped "CPU" that runs a straight line of 2-byte instructions from 0x1000 and stops at
/// its breakpoints: enough to drive StepConsole without a hypervisor.
final class FakeStepSession: StepSession {
    let vcpu = 0
    var pc: UInt64 = 0x1000
    var rax: UInt64 = 0
    var breakpoints: [UInt64] = []
    var ended = false
    /// Stepping from here runs on unseen to 0x100 past it, as a catch-up does.
    var gapAt: UInt64?
    var lastStepHadGap = false

    func registers() throws -> RegisterSet {
        var r = RegisterSet(arch: .x86_64, vcpu: 0)
        r["rip"] = pc
        r["rax"] = rax
        return r
    }

    func step() throws -> RegisterSet {
        lastStepHadGap = pc == gapAt
        pc += lastStepHadGap ? 0x100 : 2
        rax += 1
        return try registers()
    }

    func resume(until address: UInt64?) throws -> RegisterSet {
        for _ in 0..<1000 {
            _ = try step()
            if pc == address || breakpoints.contains(pc) { return try registers() }
        }
        throw VMIError("no breakpoint reached")
    }

    func readVirtual(_ address: UInt64, count: Int) throws -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: address &+ UInt64($0)) }
    }

    func insertBreakpoint(_ address: UInt64) throws { breakpoints.append(address) }

    func removeBreakpoint(_ address: UInt64) throws {
        guard breakpoints.contains(address) else { throw VMIError("no breakpoint at \(hex(address))") }
        breakpoints.removeAll { $0 == address }
    }

    func end() { ended = true }
}

@Suite struct StepConsoleTests {
    @Test func parsesCommandsAndAbbreviations() throws {
        #expect(try StepConsole.parse("step") == .step(1))
        #expect(try StepConsole.parse("  s 10 ") == .step(10))
        #expect(try StepConsole.parse("c") == .continue_)
        #expect(try StepConsole.parse("until 0xffffffff81000000") == .until(0xffff_ffff_8100_0000))
        #expect(try StepConsole.parse("x 0x1000 32") == .mem(0x1000, 32))
        #expect(try StepConsole.parse("mem 0x1000") == .mem(0x1000, 64))
        #expect(try StepConsole.parse("b 0x10") == .breakAt(0x10))
        #expect(try StepConsole.parse("break") == .listBreakpoints)
        #expect(try StepConsole.parse("delete") == .delete(nil))
        #expect(try StepConsole.parse("d 0x10") == .delete(0x10))
        #expect(try StepConsole.parse("regs") == .regs)
        #expect(try StepConsole.parse("q") == .quit)
        #expect(try StepConsole.parse("") == .nothing)
    }

    @Test func rejectsBadInputWithAUsableMessage() {
        #expect(throws: VMIError("unknown command 'frobnicate' (try 'help')")) { try StepConsole.parse("frobnicate") }
        #expect(throws: VMIError("usage: until ADDR")) { try StepConsole.parse("until") }
        #expect(throws: VMIError("address 'zz' is not a number")) { try StepConsole.parse("break zz") }
        #expect(throws: VMIError("length must be 1 to 4096")) { try StepConsole.parse("mem 0x0 5000") }
        #expect(throws: VMIError("step count must be 1 to 1000000")) { try StepConsole.parse("step 0") }
    }

    /// Runs commands against the fake and returns the JSON lines written.
    func run(_ lines: [String]) throws -> [String] {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        let out = OutputWriter(fd: fds[1], mode: .perRecord)
        let console = StepConsole(session: FakeStepSession(), identity: .domid(7), out: out, json: true)
        for line in lines where try !console.execute(try StepConsole.parse(line)) { break }
        close(fds[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &chunk, chunk.count)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(fds[0])
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func recordsForEachCommand() throws {
        let lines = try run(["regs", "step 2", "break 0x1010", "continue", "mem 0x20 4", "delete", "quit", "step"])
        #expect(lines.count == 7)  // nothing after quit
        #expect(lines[0].hasPrefix(#"{"type":"regs","domid":7,"vcpu":0,"arch":"x86_64","rip":"0x1000","rax":"0x0"}"#))
        #expect(lines[1].contains(#""n":1,"rip":"0x1000","insn":"0001","regs":{"rip":"0x1002","rax":"0x1"}"#))
        #expect(lines[2].contains(#""n":2,"rip":"0x1002""#))
        #expect(lines[3] == #"{"type":"breakpoints","domid":7,"vcpu":0,"addresses":["0x1010"]}"#)
        #expect(lines[4].hasPrefix(#"{"type":"stop","ts":""#) && lines[4].hasSuffix(#""reason":"breakpoint","rip":"0x1010"}"#))
        #expect(lines[5] == #"{"type":"mem","domid":7,"vcpu":0,"address":"0x20","bytes":"20212223"}"#)
        #expect(lines[6] == #"{"type":"breakpoints","domid":7,"vcpu":0,"addresses":[]}"#)
    }

    /// A step after which more ran unseen says so, and keeps the bytes read at its rip whole.
    @Test func aStepWithAGapIsMarked() throws {
        let session = FakeStepSession()
        session.gapAt = 0x1002
        var previous = try session.registers()
        var lines: [String] = []
        for n in 1...3 {
            let (next, record) = try session.stepRecord(index: n, from: previous, allRegisters: false)
            var line = JSONLine(type: "step")
            record.write(identity: .domid(7), vcpu: 0, arch: .x86_64, to: &line)
            line.finish()
            lines.append(String(decoding: line.bytes, as: UTF8.self))
            previous = next
        }
        #expect(!lines[0].contains("gap") && lines[0].contains(#""insn":"0001""#))
        #expect(lines[1].contains(#""rip":"0x1002","insn":"02030405060708090a0b0c0d0e0f10","regs":{"rip":"0x1102","rax":"0x2"},"gap":true}"#))
        #expect(!lines[2].contains("gap") && lines[2].contains(#""rip":"0x1102""#))
    }

    @Test func hexDumpLayout() {
        let dump = StepConsole.hexDump(Array(0x41...0x52), at: 0x1000)
        #expect(dump == "0x1000: 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|\n"
            + "0x1010: 51 52" + String(repeating: " ", count: 42) + "  |QR|\n")
    }
}
