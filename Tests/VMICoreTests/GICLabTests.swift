import Foundation
import TestSupport
import Testing

@testable import VMICore

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP line to the lab's QEMU (gdbstub or HMP monitor), test-only.
final class LabLine {
    let fd: Int32

    init(_ endpoint: String) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = UInt16(endpoint[endpoint.index(after: colon)...])
        else { throw VMIError("bad endpoint '\(endpoint)'") }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, String(endpoint[..<colon]), &addr.sin_addr)
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { throw VMIError("cannot connect to \(endpoint): \(strerrorString(errno))") }
    }

    deinit { Glibc.close(fd) }

    func send(_ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func byte() throws -> UInt8 {
        var b: UInt8 = 0
        guard Glibc.read(fd, &b, 1) == 1 else { throw VMIError("connection closed or timed out") }
        return b
    }

    func read(until suffix: String) throws -> String {
        var out: [UInt8] = []
        let s = Array(suffix.utf8)
        while !out.ends(with: s) { out.append(try byte()) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    func ends(with s: [UInt8]) -> Bool { count >= s.count && Array(self[(count - s.count)...]) == s }
}

/// Guest-physical reads through QEMU's gdbstub (`Qqemu.PhyMemMode:1`, `m ADDR,LEN`): the least a
/// PhysicalMemory needs, to drive GICMMIOReader against the live device model.
final class StubPhysicalMemory: PhysicalMemory {
    let line: LabLine

    init(_ endpoint: String) throws {
        line = try LabLine(endpoint)
        _ = try packet("?")  // the stub stops the VM on connect; any stop reply is drained here
        guard try packet("Qqemu.PhyMemMode:1") == "OK" else { throw VMIError("stub refused PhyMemMode") }
    }

    func packet(_ body: String) throws -> String {
        let sum = body.utf8.reduce(UInt8(0)) { $0 &+ $1 }
        line.send("$\(body)#\(String(format: "%02x", sum))")
        while true {
            var c = try line.byte()
            while c != UInt8(ascii: "$") { c = try line.byte() }  // acks, stray bytes
            let reply = try line.read(until: "#")
            _ = try line.byte()
            _ = try line.byte()
            line.send("+")
            let text = String(reply.dropLast())
            // A stop reply pushed unasked (QEMU sends one on connect) answers no request of ours.
            if body != "?" && (text.hasPrefix("T") || text.hasPrefix("S")) { continue }
            return text
        }
    }

    func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        let r = try packet("m\(String(address, radix: 16)),\(String(count, radix: 16))")
        guard r.count == 2 * count, !r.hasPrefix("E") else { throw VMIError("m \(hex(address)): '\(r)'") }
        var out: [UInt8] = []
        var i = r.startIndex
        while i < r.endIndex {
            let j = r.index(i, offsetBy: 2)
            out.append(UInt8(r[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func detach() { _ = try? packet("D;1") }
}

/// Live: the lab's AArch64 guests (Tests/Lab/qemu/with-guests.sh exports their endpoints).
/// At one stop, the distributor and redistributor read through the gdbstub in physical mode
/// must agree with the migration stream taken right then, register for register.
@Suite(.serialized) struct GICLabTests {
    func hmp(_ line: LabLine, _ command: String) throws -> String {
        line.send(command + "\n")
        return try line.read(until: "(qemu) ")
    }

    @Test(arguments: ["AARCH64", "AARCH64_EL2"])
    func liveMMIOAgreesWithStream(guest: String) throws {
        guard let gdb = Lab.env("VMI_LAB_GDB_\(guest)"), let monitor = Lab.env("VMI_LAB_HMP_\(guest)") else {
            return  // lab not running: skipped
        }
        let hmpLine = try LabLine(monitor)
        _ = try hmpLine.read(until: "(qemu) ")
        _ = try hmp(hmpLine, "stop")
        defer { _ = try? hmp(hmpLine, "cont") }
        // The stub keeps the VM stopped while it is attached; detaching resumes it, so the stream
        // is taken first.
        let memory = try StubPhysicalMemory(gdb)
        defer { memory.detach() }
        let live = try GICMMIOReader(memory: memory).snapshot()
        let path = NSTemporaryDirectory() + "vmi-gic-live-\(getpid()).mig"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try hmp(hmpLine, "migrate \"exec:cat > \(path)\"")
        var status = ""
        for _ in 0..<600 where !status.contains("completed") {
            status = try hmp(hmpLine, "info migrate")
            #expect(!status.contains("failed"))
            usleep(100_000)
        }
        let s = try MigrationStreamTarget(path: path, address: .vmstate(path: path)).gicSnapshot()
        #expect(s.distributor?.ctlr == live.distributor?.ctlr)
        for (a, b) in zip(s.redistributors, live.redistributors) {
            #expect(a.ctlr == b.ctlr && a.waker == b.waker && a.propbaser == b.propbaser && a.pendbaser == b.pendbaser)
        }
        let fromStream = s.allInterrupts()
        var compared = 0
        for m in live.allInterrupts() {
            let st = try #require(fromStream.first { $0.intid == m.intid && $0.vcpu == m.vcpu })
            #expect(st.enabled == m.enabled && st.pending == m.pending && st.active == m.active, "INTID \(m.intid)")
            #expect(st.group == m.group && st.grpmod == m.grpmod && st.config == m.config, "INTID \(m.intid)")
            #expect(st.priority == m.priority && st.route == m.route, "INTID \(m.intid)")
            compared += 1
        }
        #expect(compared == live.redistributors.count * 32 + Int(live.distributor!.spis!.count))
    }
}
