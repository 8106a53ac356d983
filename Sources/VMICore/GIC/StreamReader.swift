#if canImport(Glibc)
import Glibc
#endif

/// Sequential big-endian reads from a file through one fixed window, so memory stays bounded
/// whatever the file size. Skips move the offset without reading when they leave the window:
/// a migration stream's RAM pages are passed over, never loaded. (mmap would be simpler, but every
/// page header sits on its own 4 KiB page, so touching headers would map the whole stream into
/// the resident set.)
final class StreamReader {
    let fd: Int32
    let path: String
    let size: Int
    private let window: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// File offset of window[0]; bytes window[0..<filled] are valid; `cursor` is the next byte.
    private var windowStart = 0
    private var filled = 0
    private var cursor = 0

    init(path: String, capacity: Int = 256 << 10) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw VMIError.cannotOpen(path, errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw VMIError.cannotOpen(path, errno: e)
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            Glibc.close(fd)
            throw VMIError("'\(path)': not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = Int(st.st_size)
        self.capacity = capacity
        window = .allocate(capacity: capacity)
    }

    deinit {
        window.deallocate()
        Glibc.close(fd)
    }

    var offset: Int { windowStart + cursor }
    var remaining: Int { size - offset }

    func truncated(_ what: String) -> VMIError {
        VMIError("'\(path)': truncated stream: \(what) at byte \(offset) runs past the end (\(size) bytes)")
    }

    /// Makes at least `n` bytes available at the cursor (n <= capacity).
    @inline(__always)
    private func ensure(_ n: Int, _ what: @autoclosure () -> String) throws {
        if filled - cursor >= n { return }
        try refill(n, what())
    }

    private func refill(_ n: Int, _ what: String) throws {
        let keep = filled - cursor
        if keep > 0 && cursor > 0 { memmove(window, window + cursor, keep) }
        windowStart += cursor
        cursor = 0
        filled = keep
        while filled < capacity {
            let got = pread(fd, window + filled, capacity - filled, off_t(windowStart + filled))
            if got < 0 {
                if errno == EINTR { continue }
                throw VMIError("cannot read '\(path)': \(strerrorString(errno))")
            }
            if got == 0 { break }
            filled += got
            if filled >= n { break }
        }
        if filled < n { throw truncated(what) }
    }

    @inline(__always)
    func u8(_ what: @autoclosure () -> String = "a byte") throws -> UInt8 {
        try ensure(1, what())
        defer { cursor += 1 }
        return window[cursor]
    }

    @inline(__always)
    func be(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try ensure(width, what())
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(window[cursor + i]) }
        cursor += width
        return v
    }

    func be16(_ what: @autoclosure () -> String) throws -> UInt16 { UInt16(try be(2, what())) }
    func be32(_ what: @autoclosure () -> String) throws -> UInt32 { UInt32(try be(4, what())) }
    func be64(_ what: @autoclosure () -> String) throws -> UInt64 { try be(8, what()) }

    /// Reads `n` bytes; callers bound `n` (every length here comes from hostile input).
    func bytes(_ n: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        guard n <= remaining else { throw truncated(what()) }
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let chunk = min(n - done, capacity)
            try ensure(chunk, what())
            out.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + done).update(from: window + cursor, count: chunk)
            }
            cursor += chunk
            done += chunk
        }
        return out
    }

    /// A u8 length then that many bytes, as text (QEMU's idstr, subsection names).
    func shortString(_ what: @autoclosure () -> String) throws -> String {
        let n = Int(try u8(what()))
        return String(decoding: try bytes(n, what()), as: UTF8.self)
    }

    /// Passes over `n` bytes; leaves the window (no read) when they are not buffered.
    func skip(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else { throw truncated(what()) }
        if filled - cursor >= n {
            cursor += n
        } else {
            windowStart = offset + n
            cursor = 0
            filled = 0
        }
    }

    /// The next `n` bytes without consuming them, or fewer at the end of the file.
    func peek(_ n: Int) throws -> UnsafeBufferPointer<UInt8> {
        let want = min(n, remaining)
        try ensure(want, "lookahead")
        return UnsafeBufferPointer(start: window + cursor, count: want)
    }

    /// Reads `count` bytes at an absolute offset, outside the window (the trailing vmdesc).
    func read(at position: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = out.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + done, count - done, off_t(position + done))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw VMIError("cannot read '\(path)': \(strerrorString(errno))")
            }
            if got == 0 { throw VMIError("'\(path)': truncated stream") }
            done += got
        }
        return out
    }
}
