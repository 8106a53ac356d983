import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP client with deadlines, for tests that talk to a lab endpoint directly
/// (gdbstub packets, HMP lines). Every read is bounded by the deadline given at connect.
public final class LabSocket {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let fd: Int32
    private let deadline: Date
    private var buffer: [UInt8] = []

    /// Connects to host:port (IPv4 literal, as the lab exports); all later reads end by `timeout`.
    public init(host: String, port: UInt16, timeout: TimeInterval = 20) throws {
        deadline = Date().addingTimeInterval(timeout)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            throw Failure(description: "not an IPv4 address: '\(host)'")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot connect to \(host):\(port): \(e)")
        }
    }

    deinit { close(fd) }

    public func send(_ text: String) throws {
        var bytes = Array(text.utf8)
        while !bytes.isEmpty {
            let n = write(fd, bytes, bytes.count)
            guard n > 0 else { throw Failure(description: "write: \(String(cString: strerror(errno)))") }
            bytes.removeFirst(n)
        }
    }

    /// Reads until `suffix` ends the received bytes; returns them (and consumes them).
    public func read(until suffix: String) throws -> String {
        let want = Array(suffix.utf8)
        while !(buffer.count >= want.count && Array(buffer.suffix(want.count)) == want) {
            try fill()
        }
        defer { buffer.removeAll() }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Reads one byte.
    public func readByte() throws -> UInt8 {
        if buffer.isEmpty { try fill() }
        return buffer.removeFirst()
    }

    private func fill() throws {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { throw Failure(description: "timed out; got so far: \(String(decoding: buffer, as: UTF8.self).suffix(200))") }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(min(left, 60) * 1000) + 1) > 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(fd, &chunk, chunk.count)
        guard n > 0 else { throw Failure(description: n == 0 ? "peer closed the connection" : "read: \(String(cString: strerror(errno)))") }
        buffer += chunk[..<n]
    }
}
