#if canImport(Glibc)
import Glibc
#endif

/// Writes NDJSON lines (or text) to a file descriptor.
///
/// Snapshot tools buffer (64 KiB chunks); streaming tools write each record as it happens so a
/// `jq` downstream sees it at once. A reader that went away (EPIPE) is reported as
/// `OutputError.consumerGone`, which the CLI layer turns into a silent exit 0 after teardown.
///
/// A live stream must not hold the guest hostage to a slow reader: while stdout blocks, the
/// guest sits stopped at the event being written and a signal cannot unwind the tool. So a
/// stream chooses its `Backpressure`: wait for the reader but give up on a stop request
/// (stepping: the guest is stopped anyway), or never wait and drop what does not fit, counted
/// in a `lost` record (watching: the guest keeps running).
public final class OutputWriter {
    public enum Mode: Sendable {
        /// One write(2) per record: for event streams.
        case perRecord
        /// Records gather until `endBatch()` (or 64 KiB): for event streams whose source hands
        /// over several events at once (a vm_event ring drained), one write(2) for them all.
        case perBatch
        /// Flush when 64 KiB have gathered, and at the end: for snapshots.
        case buffered
    }

    /// What a per-record stream does when stdout takes no more.
    public enum Backpressure: Sendable {
        /// Plain blocking writes (files, tests).
        case block
        /// Wait for the reader; `StopRequested` once `stopFD` is readable (a signal came).
        case wait(stopFD: Int32)
        /// Never wait: keep up to `limit` bytes for the reader, drop records beyond that and
        /// count them; a `lost` record (naming `identity`) says how many once there is room.
        case drop(limit: Int, identity: RecordIdentity, stopFD: Int32)
    }

    public let fd: Int32
    public let mode: Mode
    public let backpressure: Backpressure
    /// Unchecked exclusivity: a writer is used from one thread and only its own methods touch
    /// the buffer, so the runtime check each access costs (several per record) buys nothing.
    @exclusivity(unchecked) public private(set) var buffer: [UInt8] = []
    /// Records dropped since the last `lost` record, and in all.
    public private(set) var lost = 0
    public private(set) var lostTotal = 0
    static let chunk = 64 * 1024
    /// poll(2) reports POLLOUT on a pipe while a page is free, and writes fill the last page
    /// before taking another: after POLLOUT this many bytes go out without blocking, in any
    /// number of writes (a socket's POLLOUT promises more). One poll per 4 KiB, not per record
    /// (a syscall costs about a microsecond here). Another writer on the same pipe (`2>&1`) can
    /// spend some of it; then one write may wait as before.
    static let pipeBuf = 4096
    /// A dropping stream's backlog limit (`Int.max`: never drops).
    @usableFromInline let dropLimit: Int
    /// Bytes that may still be written without blocking since the last POLLOUT.
    @exclusivity(unchecked) private var credit = 0
    /// Lent to each record built here: records of the same second format only their nanoseconds.
    @exclusivity(unchecked) @usableFromInline var timeCache = RFC3339SecondCache()

    public init(fd: Int32 = 1, mode: Mode, backpressure: Backpressure = .block) {
        self.fd = fd
        self.mode = mode
        // A regular file never makes a writer wait for a reader: plain writes, no poll(2) each.
        var st = stat()
        let isFile = fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
        self.backpressure = isFile ? .block : backpressure
        if case .drop(let limit, _, _) = self.backpressure { dropLimit = limit } else { dropLimit = .max }
        buffer.reserveCapacity(OutputWriter.chunk + 4096)
    }

    /// Writes one finished record.
    public func write(_ line: JSONLine) throws {
        guard try admit() else { return }
        buffer.append(contentsOf: line.bytes)
        try afterAppend()
    }

    public func write(_ record: some NDJSONRecord) throws {
        try write(record.encode())
    }

    /// Builds a record directly in the output buffer: no intermediate allocation per record.
    @inlinable
    public func record(type: StaticString, _ body: (inout JSONLine) -> Void) throws {
        guard try admit() else { return }
        var line = JSONLine(appendingTo: takeBuffer(), type: type, timeCache: timeCache)
        body(&line)
        line.finish()
        timeCache = line.timeCache
        try restoreBuffer(&line.bytes)
    }

    /// Raw text (for `--text` layouts). Lines must end with "\n".
    public func write(text: String) throws {
        buffer.append(contentsOf: text.utf8)
        try afterAppend()
    }

    /// The buffer lent to a record under construction, and handed back with `restoreBuffer`.
    /// Swapped, never copied: a second reference would make the next `removeAll` allocate a
    /// new buffer (once per record).
    @usableFromInline
    func takeBuffer() -> [UInt8] {
        var b: [UInt8] = []
        swap(&b, &buffer)
        return b
    }

    @usableFromInline
    func restoreBuffer(_ b: inout [UInt8]) throws {
        swap(&buffer, &b)
        try afterAppend()
    }

    func afterAppend() throws {
        guard mode == .perRecord || buffer.count >= OutputWriter.chunk else { return }
        try push()
    }

    /// The end of a batch of records (`.perBatch`): they go out now, as one write(2).
    public func endBatch() throws {
        guard mode == .perBatch, !buffer.isEmpty else { return }
        try push()
    }

    /// Writes what is held, as the backpressure says.
    private func push() throws {
        switch backpressure {
        case .block: try flush()
        case .wait(let stopFD): try drain(waiting: true, stopFD: stopFD)
        case .drop(_, _, let stopFD): try drain(waiting: false, stopFD: stopFD)
        }
    }

    /// Whether the next record goes out: false (and counted) while a dropping stream's backlog
    /// is full. Before a record that follows dropped ones, a `lost` record says how many.
    @usableFromInline
    func admit() throws -> Bool {
        // Per record: room, and no loss to report (a compare, not a look into `backpressure`).
        if lost == 0 && buffer.count < dropLimit { return true }
        return try admitPastTheLimit()
    }

    private func admitPastTheLimit() throws -> Bool {
        guard case .drop(let limit, let identity, _) = backpressure else { return true }
        // Room for the reader first (a batch gathering holds less than the limit: no write).
        if buffer.count >= limit { try drain(waiting: false, stopFD: -1) }
        if buffer.count >= limit {
            lost += 1
            lostTotal += 1
            return false
        }
        appendLostRecord(identity)
        return true
    }

    /// `{"type":"lost","ts":...,"target":...,"records":N}` for the records dropped since the last one.
    private func appendLostRecord(_ identity: RecordIdentity) {
        guard lost > 0 else { return }
        var line = JSONLine(appendingTo: takeBuffer(), type: "lost", timeCache: timeCache)
        line.timestamp()
        identity.write(to: &line)
        line.field("records", lost)
        line.finish()
        timeCache = line.timeCache
        swap(&buffer, &line.bytes)
        lost = 0
    }

    /// The end of a stream: what is still held (and a last `lost` record), waiting for the
    /// reader until `stopFD` is readable (a signal: give up, the tool is ending anyway).
    public func finish() throws {
        switch backpressure {
        case .block: try flush()
        case .wait(let stopFD): do { try drain(waiting: true, stopFD: stopFD) } catch is StopRequested {}
        case .drop(_, let identity, let stopFD):
            appendLostRecord(identity)
            do { try drain(waiting: true, stopFD: stopFD) } catch is StopRequested {}
        }
    }

    /// Writes what stdout takes in pieces that never block. With `waiting`, polls until all is
    /// written or `stopFD` is readable (`StopRequested`); without, returns with the rest held.
    func drain(waiting: Bool, stopFD: Int32) throws {
        var offset = 0
        defer { dropWritten(offset) }
        while offset < buffer.count {
            if credit == 0 {
                var fds = [
                    pollfd(fd: fd, events: Int16(POLLOUT), revents: 0),
                    pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&fds, waiting && stopFD >= 0 ? 2 : 1, waiting ? -1 : 0)
                if ready < 0 && errno == EINTR { continue }
                if waiting && fds[1].revents & Int16(POLLIN) != 0 { throw StopRequested() }
                if ready <= 0 || fds[0].revents == 0 {
                    if waiting { continue }
                    return
                }
                credit = OutputWriter.pipeBuf
            }
            // Whole lines only, so a reader never holds half a record when we stop writing;
            // a line longer than a page goes out in pieces.
            var count = min(buffer.count - offset, credit)
            if offset + count < buffer.count {
                if let nl = buffer[offset..<(offset + count)].lastIndex(of: UInt8(ascii: "\n")) {
                    count = nl + 1 - offset
                } else if credit < OutputWriter.pipeBuf {
                    credit = 0  // the next line waits for a fresh page
                    continue
                }
            }
            let n = buffer.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, count) }
            if n >= 0 {
                offset += n
                credit -= n
                continue
            }
            let err = errno
            if err == EAGAIN { credit = 0 }
            if err == EINTR || (err == EAGAIN && waiting) { continue }
            if err == EAGAIN { return }
            if err == EPIPE {
                offset = buffer.count
                throw OutputError.consumerGone
            }
            throw OutputError.writeFailed(errno: err)
        }
    }

    /// Forgets the first `count` bytes of the buffer (written out).
    private func dropWritten(_ count: Int) {
        if count == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else if count > 0 {
            buffer.removeFirst(count)
        }
    }

    /// Writes everything gathered. Retries short writes and EINTR.
    public func flush() throws {
        var offset = 0
        defer { dropWritten(offset) }
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
