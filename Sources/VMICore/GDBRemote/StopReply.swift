/// A stop reply: what the stub says when the target stops (gdb.texinfo, "Stop Reply Packets").
///
/// `S05`, `T05thread:p01.01;watch:ffffffff82a05500;`, `W00`, `X09`, `O<hex>` (console output,
/// not a stop: more packets follow). Register values that some stubs add to `T` (`10:...;`) are
/// skipped: we read registers with `g` after every stop (QEMU's `p` can be stale, see notes).
public enum StopReply: Equatable, Sendable {
    case stopped(Stop)
    /// The process exited (`W`) or was killed by a signal (`X`): the VM is gone.
    case exited(status: UInt8, signaled: Bool)
    /// Console output of the target (`O` packets); the wait for a stop goes on.
    case output([UInt8])

    public struct Stop: Equatable, Sendable {
        public var signal: UInt8
        /// The stopped thread as the stub spells it (`p01.01`, `01`), when named.
        public var thread: String?
        /// Data watchpoint that fired, with its kind.
        public var watch: (address: UInt64, access: EventSpec.Access)?
        /// The stub says a breakpoint caused the stop (`swbreak`/`hwbreak`, when it reports them).
        public var breakpoint: Bool

        public init(
            signal: UInt8, thread: String? = nil, watch: (address: UInt64, access: EventSpec.Access)? = nil,
            breakpoint: Bool = false
        ) {
            self.signal = signal
            self.thread = thread
            self.watch = watch
            self.breakpoint = breakpoint
        }

        public static func == (a: Stop, b: Stop) -> Bool {
            a.signal == b.signal && a.thread == b.thread && a.breakpoint == b.breakpoint
                && a.watch?.address == b.watch?.address && a.watch?.access == b.watch?.access
        }
    }

    /// Whether `reply` is a stop reply at all (to tell it from a command's own reply).
    public static func looksLikeStop(_ reply: [UInt8]) -> Bool {
        guard let first = reply.first else { return false }
        switch first {
        case UInt8(ascii: "S"), UInt8(ascii: "T"), UInt8(ascii: "W"), UInt8(ascii: "X"):
            return reply.count >= 3 && hexValue(reply[1]) != nil && hexValue(reply[2]) != nil
        default:
            return false
        }
    }

    public init(parsing reply: [UInt8]) throws {
        func bad(_ why: String) -> RSPError { .unexpected("stop reply \(RSP.describe(reply)): \(why)") }
        guard let kind = reply.first else { throw bad("empty") }
        if kind == UInt8(ascii: "O") && reply.count > 1 {
            guard let text = RSP.hexDecode(reply.dropFirst()) else { throw bad("console output is not hex") }
            self = .output(text)
            return
        }
        guard reply.count >= 3, let code = RSP.parseHex(reply[1..<3]).map(UInt8.init) else {
            throw bad("expected S, T, W, X or O followed by two hex digits")
        }
        switch kind {
        case UInt8(ascii: "S"):
            self = .stopped(Stop(signal: code))
        case UInt8(ascii: "W"), UInt8(ascii: "X"):
            self = .exited(status: code, signaled: kind == UInt8(ascii: "X"))
        case UInt8(ascii: "T"):
            var stop = Stop(signal: code)
            for pair in reply[3...].split(separator: UInt8(ascii: ";")) {
                guard let colon = pair.firstIndex(of: UInt8(ascii: ":")) else {
                    continue  // bare flags from newer stubs
                }
                let key = String(decoding: pair[..<colon], as: UTF8.self)
                let value = pair[(colon + 1)...]
                switch key {
                case "thread":
                    guard !value.isEmpty, value.count <= 40 else { throw bad("bad thread id") }
                    stop.thread = String(decoding: value, as: UTF8.self)
                case "watch", "rwatch", "awatch":
                    guard let a = RSP.parseHex(value) else { throw bad("bad watchpoint address") }
                    let access: EventSpec.Access = key == "watch" ? .write : key == "rwatch" ? .read : [.read, .write]
                    stop.watch = (a, access)
                case "swbreak", "hwbreak":
                    stop.breakpoint = true
                default:
                    continue  // registers (`NN:value`), core, library, ...: not needed
                }
            }
            self = .stopped(stop)
        default:
            throw bad("expected S, T, W, X or O")
        }
    }
}

/// A thread id as the protocol writes it: `p<pid>.<tid>` in multiprocess mode, else `<tid>`.
public struct RSPThreadID: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var pid: UInt64?
    public var tid: UInt64

    public init(pid: UInt64?, tid: UInt64) {
        self.pid = pid
        self.tid = tid
    }

    public init?<C: Collection>(parsing text: C) where C.Element == UInt8 {
        let bytes = Array(text)
        if bytes.first == UInt8(ascii: "p") {
            let parts = bytes.dropFirst().split(
                separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let p = RSP.parseHex(parts[0]), let t = RSP.parseHex(parts[1]) else { return nil }
            pid = p
            tid = t
        } else {
            guard let t = RSP.parseHex(bytes) else { return nil }
            pid = nil
            tid = t
        }
    }

    public var description: String {
        pid.map { "p\(RSP.hex($0)).\(RSP.hex(tid))" } ?? RSP.hex(tid)
    }

    /// The ids of a `qfThreadInfo`/`qsThreadInfo` reply (`mp01.01,p01.02`); nil at the end (`l`).
    public static func list(_ reply: [UInt8]) throws -> [RSPThreadID]? {
        guard let first = reply.first else { throw RSPError.unexpected("empty thread list") }
        if first == UInt8(ascii: "l") { return nil }
        guard first == UInt8(ascii: "m") else { throw RSPError.unexpected("thread list \(RSP.describe(reply))") }
        return try reply.dropFirst().split(separator: UInt8(ascii: ",")).map {
            guard let id = RSPThreadID(parsing: $0) else {
                throw RSPError.unexpected("thread id \(RSP.describe(Array($0)))")
            }
            return id
        }
    }
}
