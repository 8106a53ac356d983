#if canImport(Glibc)
    import Glibc
#endif

/// Sequential big-endian reads from a file through one sliding mmap window (1 MiB), so memory
/// stays bounded whatever the file size: the window is unmapped as the walk moves on, and skipped
/// bytes (a migration stream's RAM pages) are never touched, so they are neither copied nor made
/// resident. (Reading through a buffer copied every page only to skip it: 62 MB of copying for a
/// 512 MiB guest, the whole cost of a decode. Mapping the whole file would make every page
/// header's 4 KiB page resident.) A file truncated by someone else while it is read can still
/// raise SIGBUS; streams are snapshots, not growing logs.
final class StreamReader {
    let fd: Int32
    let path: String
    let size: Int
    static let windowSize = 1 << 20
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// File offset of the mapping's first byte; bytes map[0..<mapped] are valid; `cursor` is the
    /// next byte relative to the mapping.
    private var map: UnsafeMutableRawPointer?
    private var windowStart = 0
    private var mapped = 0
    private var cursor = 0

    init(path: String) throws {
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
    }

    deinit {
        if let map { munmap(map, mapped) }
        Glibc.close(fd)
    }

    var offset: Int { windowStart + cursor }
    var remaining: Int { size - offset }

    func truncated(_ what: String) -> VMIError {
        VMIError("'\(path)': truncated stream: \(what) at byte \(offset) runs past the end (\(size) bytes)")
    }

    /// Makes at least `n` bytes available at the cursor.
    @inline(__always)
    private func ensure(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        if mapped - cursor >= n, let map { return UnsafeRawPointer(map + cursor) }
        return try remap(n, what())
    }

    private func remap(_ n: Int, _ what: String) throws -> UnsafeRawPointer {
        let at = offset
        guard n <= size - at else { throw truncated(what) }
        if let map { munmap(map, mapped) }
        map = nil
        mapped = 0
        let start = at & ~(Self.pageSize - 1)
        let length = min(size - start, max(Self.windowSize, at - start + n))
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, off_t(start)), p != MAP_FAILED else {
            throw VMIError("cannot read '\(path)': \(strerrorString(errno))")
        }
        _ = madvise(p, length, MADV_SEQUENTIAL)
        map = p
        mapped = length
        windowStart = start
        cursor = at - start
        return UnsafeRawPointer(p + cursor)
    }

    @inline(__always)
    func u8(_ what: @autoclosure () -> String = "a byte") throws -> UInt8 {
        let p = try ensure(1, what())
        cursor += 1
        return p.load(as: UInt8.self)
    }

    @inline(__always)
    func be(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        let p = try ensure(width, what())
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
        cursor += width
        return v
    }

    func be16(_ what: @autoclosure () -> String) throws -> UInt16 { UInt16(try be(2, what())) }
    func be32(_ what: @autoclosure () -> String) throws -> UInt32 { UInt32(try be(4, what())) }
    func be64(_ what: @autoclosure () -> String) throws -> UInt64 { try be(8, what()) }

    /// Reads `n` bytes; callers bound `n` (every length here comes from hostile input).
    func bytes(_ n: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        guard n <= remaining else { throw truncated(what()) }
        if n == 0 { return [] }
        let p = try ensure(n, what())
        cursor += n
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    /// A u8 length then that many bytes, as text (QEMU's idstr, subsection names).
    func shortString(_ what: @autoclosure () -> String) throws -> String {
        let n = Int(try u8(what()))
        return String(decoding: try bytes(n, what()), as: UTF8.self)
    }

    /// Passes over `n` bytes without touching them.
    func skip(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else { throw truncated(what()) }
        cursor += n  // may run past the mapping: the next read remaps
    }

    /// The next `n` bytes without consuming them, or fewer at the end of the file.
    func peek(_ n: Int) throws -> UnsafeBufferPointer<UInt8> {
        let want = min(n, remaining)
        if want <= 0 { return UnsafeBufferPointer(start: nil, count: 0) }
        let p = try ensure(want, "lookahead")
        return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: want)
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
