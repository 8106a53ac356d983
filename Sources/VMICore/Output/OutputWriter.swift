#if canImport(Glibc)
import Glibc
#endif

/// Writes NDJSON lines (or text) to a file descriptor.
///
/// Snapshot tools buffer (64 KiB chunks); streaming tools write each record as it happens so a
/// `jq` downstream sees it at once. A reader that went away (EPIPE) is reported as
/// `OutputError.consumerGone`, which the CLI layer turns into a silent exit 0 after teardown.
public final class OutputWriter {
    public enum Mode: Sendable {
        /// One write(2) per record: for event streams.
        case perRecord
        /// Flush when 64 KiB have gathered, and at the end: for snapshots.
        case buffered
    }

    public let fd: Int32
    public let mode: Mode
    public private(set) var buffer: [UInt8] = []
    static let chunk = 64 * 1024

    public init(fd: Int32 = 1, mode: Mode) {
        self.fd = fd
        self.mode = mode
        buffer.reserveCapacity(OutputWriter.chunk + 4096)
    }

    /// Writes one finished record.
    public func write(_ line: JSONLine) throws {
        buffer.append(contentsOf: line.bytes)
        try afterAppend()
    }

    public func write(_ record: some NDJSONRecord) throws {
        try write(record.encode())
    }

    /// Builds a record directly in the output buffer: no intermediate allocation per record.
    @inlinable
    public func record(type: StaticString, _ body: (inout JSONLine) -> Void) throws {
        var line = JSONLine(appendingTo: takeBuffer(), type: type)
        body(&line)
        line.finish()
        try restoreBuffer(line.bytes)
    }

    /// Raw text (for `--text` layouts). Lines must end with "\n".
    public func write(text: String) throws {
        buffer.append(contentsOf: text.utf8)
        try afterAppend()
    }

    @usableFromInline
    func takeBuffer() -> [UInt8] {
        var b: [UInt8] = []
        swap(&b, &buffer)
        return b
    }

    @usableFromInline
    func restoreBuffer(_ b: [UInt8]) throws {
        buffer = b
        try afterAppend()
    }

    func afterAppend() throws {
        if mode == .perRecord || buffer.count >= OutputWriter.chunk { try flush() }
    }

    /// Writes everything gathered. Retries short writes and EINTR.
    public func flush() throws {
        var offset = 0
        defer {
            if offset == buffer.count {
                buffer.removeAll(keepingCapacity: true)
            } else if offset > 0 {
                buffer.removeFirst(offset)
            }
        }
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if n >= 0 {
                offset += n
                continue
            }
            let err = errno
            if err == EINTR { continue }
            if err == EPIPE { buffer.removeAll(); throw OutputError.consumerGone }
            throw OutputError.writeFailed(errno: err)
        }
    }
}

public enum OutputError: Error, Equatable, CustomStringConvertible {
    /// The reader of stdout went away (`| head`): a normal end, not a failure.
    case consumerGone
    case writeFailed(errno: Int32)

    public var description: String {
        switch self {
        case .consumerGone: return "write error: consumer gone"
        case .writeFailed(let e): return "write error: \(String(cString: strerror(e)))"
        }
    }
}
