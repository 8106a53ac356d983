#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Owns a xenstore connection (`xs_open`), closed by `deinit`. Names and uuids of domains live
/// here (/local/domain/<id>/name, /local/domain/<id>/vm); `@introduceDomain` fires when a new
/// domain appears.
final class XenStore {
    let handle: OpaquePointer
    private var watches: [String] = []

    init() throws {
        handle = try XenCall.pointer("xs_open") { xs_open(0) }
    }

    deinit {
        for path in watches { _ = xs_unwatch(handle, path, XenStore.token) }
        xs_close(handle)
    }

    /// `xs_read`: the node's value, or nil when the node does not exist.
    func read(_ path: String) throws -> String? {
        var length: UInt32 = 0
        guard let raw = try XenCall.lookup("xs_read", absentErrno: ENOENT, { xs_read(handle, 0, path, &length) }) else {
            return nil
        }
        defer { free(raw) }
        // Values are bounded by xenstored (4 KiB); guest-writable ones may hold any bytes.
        let bytes = UnsafeRawBufferPointer(start: raw, count: Int(length))
        return String(decoding: bytes, as: UTF8.self)
    }

    static let token = "vmitools"

    /// `xs_write`.
    func write(_ path: String, _ value: String) throws {
        try XenCall.succeeds("xs_write") { xs_write(handle, 0, path, value, UInt32(value.utf8.count)) }
    }

    /// `xs_rm`; a missing node is fine.
    func remove(_ path: String) {
        _ = xs_rm(handle, 0, path)
    }

    /// `xs_directory`: the node's children (empty when it does not exist).
    func children(_ path: String) -> [String] {
        var count: UInt32 = 0
        guard let list = xs_directory(handle, 0, path, &count) else { return [] }
        defer { free(list) }
        return (0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } }
    }

    /// `xs_watch`: the watch fires once at once, then on every change.
    func watch(_ path: String) throws {
        try XenCall.succeeds("xs_watch") { xs_watch(handle, path, XenStore.token) }
        watches.append(path)
    }

    /// Waits until a watch fires or `seconds` pass; returns false on timeout. Drains every
    /// pending event (`xs_check_watch` until EAGAIN).
    func waitForWatch(seconds: Double) throws -> Bool {
        var pfd = pollfd(fd: xs_fileno(handle), events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(0, min(seconds * 1000, Double(Int32.max))).rounded(.up))
        let n = poll(&pfd, 1, ms)
        if n < 0 {
            if errno == EINTR { return false }
            throw XenCallError(call: "poll", errno: errno)
        }
        guard n > 0 else { return false }
        while let event = xs_check_watch(handle) { free(event) }
        return true
    }
}
#endif
