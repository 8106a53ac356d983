#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// A libxen call that failed: the C function's name and its errno.
public struct XenCallError: Error, Equatable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public var description: String { "\(call) failed: \(strerrorString(errno))" }
}

/// The one seam every libxen call passes through: errno becomes a `XenCallError` tagged with the
/// call's name, EINTR is retried, and an errno that can only mean a bug in this code (EFAULT:
/// a bad buffer) traps instead of being reported as a guest problem.
enum XenCall {
    /// For calls returning an int: negative means failure with errno set.
    @discardableResult
    static func check(_ name: StaticString, _ body: () -> Int32) throws -> Int32 {
        while true {
            errno = 0
            let rc = body()
            if rc >= 0 { return rc }
            try fail(name, errno)
        }
    }

    /// For calls returning a handle or buffer: nil means failure with errno set.
    static func pointer<T>(_ name: StaticString, _ body: () -> T?) throws -> T {
        while true {
            errno = 0
            if let p = body() { return p }
            try fail(name, errno)
        }
    }

    /// Like `pointer`, but the errno meaning "not there" (ENOENT for xenstore nodes) gives nil.
    static func lookup<T>(_ name: StaticString, absentErrno: Int32, _ body: () -> T?) throws -> T? {
        while true {
            errno = 0
            if let p = body() { return p }
            let err = errno
            if err == absentErrno { return nil }
            try fail(name, err)
        }
    }

    /// For xenstore calls returning bool: false means failure with errno set.
    static func succeeds(_ name: StaticString, _ body: () -> Bool) throws {
        while true {
            errno = 0
            if body() { return }
            try fail(name, errno)
        }
    }

    /// Returns (to retry) only for EINTR.
    private static func fail(_ name: StaticString, _ err: Int32) throws {
        if err == EINTR { return }
        precondition(err != EFAULT, "\(name): EFAULT: a buffer passed to libxen is wrong")
        throw XenCallError(call: "\(name)", errno: err == 0 ? EIO : err)
    }
}
#endif
