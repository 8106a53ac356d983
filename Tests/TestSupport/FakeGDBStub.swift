import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A GDB remote stub on 127.0.0.1 (ephemeral port) for tests: one connection, driven by a
/// script that can answer like QEMU or misbehave (garbage, bad checksums, truncation, silence,
/// disconnects). Everything here is written from the protocol description, not from a stub.
public final class FakeGDBStub {
    public let port: UInt16
    private let listenFD: Int32
    private let done = DispatchSemaphore(value: 0)
    /// Packets the client sent, in order (read after `finish()`).
    public private(set) var received: [String] = []
    private let lock = NSLock()

    /// The Unix socket path when listening on one (`gdb:unix:PATH`).
    public let unixPath: String?

    /// Listens on 127.0.0.1 with an ephemeral port, or on the Unix socket `unixPath`.
    public init(unixPath: String? = nil, _ script: @escaping (FakeGDBConnection) throws -> Void) throws {
        self.unixPath = unixPath
        let fd: Int32
        if let path = unixPath {
            unlink(path)
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
            }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0, listen(fd, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
            port = 0
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            port = UInt16(bigEndian: addr.sin_port)
        }
        listenFD = fd
        Thread.detachNewThread { [self] in
            let c = accept(fd, nil, nil)
            if c >= 0 {
                let conn = FakeGDBConnection(fd: c) { p in
                    self.lock.lock()
                    self.received.append(p)
                    self.lock.unlock()
                }
                try? script(conn)
                conn.close()
            }
            done.signal()
        }
    }

    /// `gdb:127.0.0.1:PORT` or `gdb:unix:PATH`
    public var target: String { unixPath.map { "gdb:unix:\($0)" } ?? "gdb:127.0.0.1:\(port)" }

    /// Waits (bounded) for the script to end.
    public func finish(timeout: Double = 10) {
        _ = done.wait(timeout: .now() + timeout)
    }

    public var packets: [String] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    deinit {
        shutdown(listenFD, Int32(SHUT_RDWR))
        Glibc.close(listenFD)
        if let p = unixPath { unlink(p) }
    }
}

/// The stub's side of one connection.
public final class FakeGDBConnection {
    let fd: Int32
    private var buffer: [UInt8] = []
    private let record: (String) -> Void
    /// Interrupt bytes (0x03) seen.
    public private(set) var interrupts = 0
    public var noAck = false

    init(fd: Int32, record: @escaping (String) -> Void) {
        self.fd = fd
        self.record = record
    }

    public func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    public func sendRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    public func sendRaw(_ text: String) { sendRaw(Array(text.utf8)) }

    /// `$payload#cs` with a correct checksum (the payload is sent as given: no escaping).
    public func sendPacket(_ payload: String) { sendPacket(Array(payload.utf8)) }

    public func sendPacket(_ payload: [UInt8]) {
        let cs = payload.reduce(UInt8(0)) { $0 &+ $1 }
        sendRaw([UInt8(ascii: "$")] + payload + Array(String(format: "#%02x", cs).utf8))
    }

    /// The next packet from the client (acked with `+`), nil on EOF or after `timeout` seconds.
    /// An interrupt byte is returned as the pseudo-packet "\u{3}".
    public func readPacket(timeout: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while let first = buffer.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
                buffer.removeFirst()
            }
            if buffer.first == 0x03 {
                buffer.removeFirst()
                interrupts += 1
                record("\u{3}")
                return "\u{3}"
            }
            if let start = buffer.firstIndex(of: UInt8(ascii: "$")),
                let hash = buffer[start...].firstIndex(of: UInt8(ascii: "#")),
                hash + 2 < buffer.count
            {
                let payload = String(decoding: buffer[(start + 1)..<hash], as: UTF8.self)
                buffer.removeFirst(hash + 3)
                if !noAck { sendRaw("+") }
                record(payload)
                return payload
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(left * 1000) + 1) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// Answers packets with `responder` until EOF (close the connection to end early). A
    /// reply of nil sends nothing; "" is an empty packet (unsupported).
    public func serve(_ responder: (String) -> String?) {
        while let p = readPacket() {
            if let reply = responder(p) { sendPacket(reply) }
        }
    }
}

/// Replies like QEMU 7.2's x86_64 stub, from the captured target description.
public final class QEMULikeStub {
    /// Stop replies handed out by successive continues; when none is left, a continue runs
    /// until the client interrupts (0x03), as a real guest would.
    public var stops: [String] = []
    /// Thread ids `qfThreadInfo` lists (vCPUs).
    public var threads = ["p01.01"]
    public var files: [String: String]
    /// Value of every register in the `g` block: regnum -> value (others 0).
    public var registers: [Int: UInt64] = [16: 0xffff_ffff_8100_1000]  // rip
    public var gBytes: [Int]  // byte size of each g-block register in order

    public init(fixtureDir: String) throws {
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtureDir) where name.hasSuffix(".xml") {
            files[name] = try String(contentsOfFile: fixtureDir + "/" + name, encoding: .utf8)
        }
        self.files = files
        // i386-64bit.xml: 16 GPRs, rip (64), eflags + 6 selectors (32), 3 bases, cr0..cr8, efer (64),
        // st0-7 (80), 8 x87 control words (32), xmm0-15 (128), mxcsr (32).
        gBytes =
            Array(repeating: 8, count: 17) + Array(repeating: 4, count: 7) + Array(repeating: 8, count: 9)
            + Array(repeating: 10, count: 8) + Array(repeating: 4, count: 8) + Array(repeating: 16, count: 16) + [4]
    }

    public func gBlock() -> String {
        var out = ""
        for (i, n) in gBytes.enumerated() {
            var v = registers[i] ?? 0
            for _ in 0..<n {
                out += String(format: "%02x", UInt8(v & 0xff))
                v >>= 8
            }
        }
        return out
    }

    /// Answers like QEMU until EOF; `override` may answer first (nil: the normal reply).
    public func serve(_ c: FakeGDBConnection, override: (String) -> String? = { _ in nil }) {
        c.serve { p in
            if let r = override(p) { return r }
            if p == "vCont;c" || p == "c" {
                if !stops.isEmpty { return stops.removeFirst() }
                while let next = c.readPacket(timeout: 30) {
                    if next == "\u{3}" { return "T02thread:p01.01;" }
                }
                return nil
            }
            if p.hasPrefix("vCont;s") || p == "s" { return "T05thread:p01.01;" }
            if p == "\u{3}" { return nil }  // already stopped: QEMU says nothing
            return reply(p) ?? ""
        }
    }

    /// The reply to `packet`, or nil for packets this stub does not answer (the script decides).
    public func reply(_ packet: String) -> String? {
        if packet.hasPrefix("qSupported") {
            return "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+"
        }
        if packet == "qqemu.Supported" { return "sstepbits;sstep;PhyMemMode" }
        if packet == "vCont?" { return "vCont;c;C;s;S" }
        if packet == "qqemu.sstepbits" { return "ENABLE=1,NOIRQ=2,NOTIMER=4" }
        if packet == "qqemu.sstep" { return "0x1" }
        if packet.hasPrefix("Qqemu.sstep=") { return "OK" }
        if packet.hasPrefix("qXfer:features:read:") {
            let parts = packet.dropFirst("qXfer:features:read:".count).split(separator: ":")
            guard parts.count == 2, let body = files[String(parts[0])] else { return "E00" }
            let range = parts[1].split(separator: ",")
            let off = Int(range[0], radix: 16) ?? 0
            let len = Int(range[1], radix: 16) ?? 0
            let bytes = Array(body.utf8)
            if off >= bytes.count { return "l" }
            let end = min(bytes.count, off + len)
            return (end == bytes.count ? "l" : "m") + String(decoding: bytes[off..<end], as: UTF8.self)
        }
        if packet == "qfThreadInfo" { return "m" + threads.joined(separator: ",") }
        if packet == "qsThreadInfo" { return "l" }
        if packet.hasPrefix("Hg") { return "OK" }
        if packet == "g" { return gBlock() }
        if packet.hasPrefix("D") { return "OK" }
        if packet.hasPrefix("Z") || packet.hasPrefix("z") { return "OK" }
        if packet.hasPrefix("Qqemu.PhyMemMode") { return "OK" }
        if packet.hasPrefix("m") { return memory(packet) }
        return nil
    }

    /// `mADDR,LEN`: bytes equal to the low byte of their address.
    func memory(_ packet: String) -> String {
        let parts = packet.dropFirst().split(separator: ",")
        guard parts.count == 2, let a = UInt64(parts[0], radix: 16), let n = Int(parts[1], radix: 16), n <= 2048 else {
            return "E22"
        }
        return (0..<UInt64(n)).map { String(format: "%02x", UInt8((a &+ $0) & 0xff)) }.joined()
    }
}
