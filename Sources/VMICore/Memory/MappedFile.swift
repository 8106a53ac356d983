#if canImport(Glibc)
    import Glibc
#endif

/// A file mapped read-only into memory: dumps are hundreds of megabytes and are never read whole.
///
/// The mapping is private and read-only; pages are faulted in on access, so opening a dump costs
/// the pages actually decoded (headers, notes, the page tables walked), not its size.
public final class MappedFile {
    public let path: String
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Opens and maps `path`. Errors read `cannot open 'PATH': <strerror>`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VMIError.cannotOpen(path, errno: errno) }
        defer { _ = Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VMIError.cannotOpen(path, errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw VMIError.cannotOpen(path, errno: EISDIR) }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw VMIError.cannotOpen(path, errno: errno) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The whole file as bytes (valid while `self` lives).
    public var bytes: ByteView {
        ByteView(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : size))
    }
}
