#if canImport(Glibc)
    import Glibc
#endif

/// The socket under a gdb connection: TCP or a Unix socket, every wait bounded by poll(2).
///
/// Reads wait until a deadline (CLOCK_MONOTONIC seconds) and, in long waits, also on a stop
/// descriptor (the CLI's signal pipe), so neither a silent stub nor a user's ^C can hang us.
final class RSPTransport {
    private(set) var fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 65536)
    /// The socket and the stop descriptor, for poll(2); kept to spare an allocation per wait.
    private var pollSet = [pollfd](repeating: pollfd(), count: 2)

    enum Wait: Equatable {
        case data(Int)
        case stopRequested
    }

    /// Connects to the endpoint within `timeout` seconds.
    init(_ endpoint: TargetAddress.GDBEndpoint, timeout: Double) throws {
        switch endpoint {
        case .unix(let path):
            fd = try Self.connectUnix(path, timeout: timeout)
        case .tcp(let host, let port):
            fd = try Self.connectTCP(host, port, timeout: timeout)
        }
    }

    /// Wraps an already connected descriptor (tests).
    init(connected fd: Int32) { self.fd = fd }

    deinit { close() }

    func close() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    // MARK: connect

    static func connectUnix(_ path: String, timeout: Double) throws -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw VMIError("cannot connect to gdb:unix:\(path): socket path too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VMIError("cannot connect to gdb:unix:\(path): \(strerrorString(errno))") }
        let err = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectWithin(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size), timeout)
            }
        }
        if err != 0 {
            _ = Glibc.close(fd)
            throw VMIError("cannot connect to gdb:unix:\(path): \(strerrorString(err))")
        }
        return fd
    }

    static func connectTCP(_ host: String, _ port: UInt16, timeout: Double) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw VMIError("cannot connect to gdb:\(host):\(port): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = ECONNREFUSED
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(
                a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if fd < 0 {
                lastError = errno
                continue
            }
            let err = connectWithin(fd, a.pointee.ai_addr, a.pointee.ai_addrlen, timeout)
            if err == 0 {
                // Packets are small and latency-bound (one step = one round trip).
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = err
            _ = Glibc.close(fd)
        }
        throw VMIError("cannot connect to gdb:\(host):\(port): \(strerrorString(lastError))")
    }

    /// connect(2) without blocking longer than `timeout`; returns 0 or an errno.
    static func connectWithin(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t, _ timeout: Double)
        -> Int32
    {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if connect(fd, addr, len) == 0 { return 0 }
        guard errno == EINPROGRESS || errno == EINTR else { return errno }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let deadline = monotonicSeconds() + timeout
        while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return ETIMEDOUT }
            let n = poll(&p, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno }
            if n == 0 { continue }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            return err
        }
    }

    // MARK: I/O

    /// Writes all of `bytes`, waiting at most until `deadline` for room.
    func write(_ bytes: [UInt8], deadline: Double) throws {
        guard fd >= 0 else { throw RSPError.closed }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n > 0 {
                off += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                _ = try wait(events: Int16(POLLOUT), deadline: deadline, stopFD: -1)
                continue
            }
            throw RSPError.closed
        }
    }

    /// Waits for bytes until `deadline` (nil: no deadline) or until `stopFD` is readable;
    /// hands the bytes read to `sink`.
    func read(deadline: Double?, stopFD: Int32, into sink: (ArraySlice<UInt8>) -> Void) throws -> Wait {
        guard fd >= 0 else { throw RSPError.closed }
        if try wait(events: Int16(POLLIN), deadline: deadline, stopFD: stopFD) == .stopRequested {
            return .stopRequested
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                sink(buffer[0..<n])
                return .data(n)
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return .data(0) }
            throw RSPError.closed  // 0 = orderly shutdown; ECONNRESET and friends alike
        }
    }

    private func wait(events: Int16, deadline: Double?, stopFD: Int32) throws -> Wait {
        pollSet[0] = pollfd(fd: fd, events: events, revents: 0)
        pollSet[1] = pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)
        let count: nfds_t = stopFD >= 0 ? 2 : 1
        while true {
            var ms: Int32 = 60_000
            if let d = deadline {
                let left = d - monotonicSeconds()
                if left <= 0 { throw RSPError.timedOut(0) }
                ms = Int32(min(left * 1000, 60_000).rounded(.up))
            }
            pollSet[0].revents = 0
            pollSet[1].revents = 0
            let n = poll(&pollSet, count, ms)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw RSPError.closed }
            if count == 2 && pollSet[1].revents & Int16(POLLIN) != 0 { return .stopRequested }
            if pollSet[0].revents != 0 { return .data(0) }
        }
    }
}
