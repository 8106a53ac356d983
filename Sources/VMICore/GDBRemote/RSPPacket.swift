#if canImport(Glibc)
    import Glibc
#endif

/// The GDB remote serial protocol's framing, as pure functions over bytes.
///
/// A packet is `$payload#cs`, `cs` the modulo-256 sum of the payload bytes as two hex digits
/// (gdb/doc/gdb.texinfo, "Overview" of the Remote Protocol). Inside the payload `}` escapes the
/// next byte (XOR 0x20) and `X*N` repeats X `N - 29` more times (run-length encoding, only in
/// replies). `+`/`-` acknowledge a packet; `%...#cs` is a notification; 0x03 is an interrupt.
public enum RSP {
    /// Payload bytes that must be escaped when we send them: the framing characters and `*`.
    @inline(__always)
    static func mustEscape(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "$") || b == UInt8(ascii: "#") || b == UInt8(ascii: "}") || b == UInt8(ascii: "*")
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        var sum: UInt8 = 0
        for b in bytes { sum &+= b }
        return sum
    }

    /// `$payload#cs` with `$ # } *` escaped.
    public static func frame<C: Collection>(_ payload: C) -> [UInt8] where C.Element == UInt8 {
        // One loop over contiguous bytes: called from another module the generic code is not
        // specialized, and reading a slice element by element there allocates for every byte.
        payload.withContiguousStorageIfAvailable(frame(contiguous:))
            ?? Array(payload).withUnsafeBufferPointer(frame(contiguous:))
    }

    static func frame(contiguous payload: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(payload.count + 8)
        for b in payload {
            if mustEscape(b) {
                body.append(UInt8(ascii: "}"))
                body.append(b ^ 0x20)
            } else {
                body.append(b)
            }
        }
        let cs = checksum(body)
        var out: [UInt8] = [UInt8(ascii: "$")]
        out.reserveCapacity(body.count + 4)
        out += body
        out.append(UInt8(ascii: "#"))
        out.append(hexDigit(cs >> 4))
        out.append(hexDigit(cs & 0xf))
        return out
    }

    public static func frame(_ payload: String) -> [UInt8] { frame(Array(payload.utf8)) }

    /// Undoes escapes and run-length encoding of a received payload (checksum already checked).
    /// The expansion is bounded by `limit` bytes: a run that would exceed it is an error.
    public static func decodeBody(_ raw: ArraySlice<UInt8>, limit: Int) throws -> [UInt8] {
        // Most packets (hex memory and registers) have neither escapes nor runs: copy them whole.
        if !raw.contains(where: { $0 == UInt8(ascii: "}") || $0 == UInt8(ascii: "*") }) {
            guard raw.count <= limit else { throw RSPError.oversized(limit) }
            return Array(raw)
        }
        var out: [UInt8] = []
        out.reserveCapacity(min(raw.count, limit))
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            switch b {
            case UInt8(ascii: "}"):
                i += 1
                guard i < raw.endIndex else { throw RSPError.malformed("escape at the end of a packet") }
                out.append(raw[i] ^ 0x20)
            case UInt8(ascii: "*"):
                i += 1
                guard i < raw.endIndex, let last = out.last else {
                    throw RSPError.malformed("run-length marker without a byte to repeat")
                }
                let n = Int(raw[i]) - 29
                guard n >= 0, raw[i] != UInt8(ascii: "#"), raw[i] != UInt8(ascii: "$") else {
                    throw RSPError.malformed("bad run length")
                }
                guard out.count + n <= limit else { throw RSPError.oversized(limit) }
                out.append(contentsOf: repeatElement(last, count: n))
            default:
                out.append(b)
            }
            guard out.count <= limit else { throw RSPError.oversized(limit) }
            i += 1
        }
        return out
    }
}

/// What a stub can do wrong on the wire; the connection adds the target name to the message.
public enum RSPError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case oversized(Int)
    case badChecksum
    case closed
    case timedOut(Double)
    case unexpected(String)
    /// Content that arrived intact but makes no sense (a target description); said as is.
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed packet from the stub: \(why)"
        case .oversized(let n): return "the stub sent a packet larger than \(n) bytes"
        case .badChecksum: return "the stub kept sending packets with bad checksums"
        case .closed: return "stub closed the connection"
        case .timedOut(let s): return "no reply from the stub within \(formatSeconds(s))"
        case .unexpected(let what): return "unexpected reply from the stub: \(what)"
        case .invalid(let what): return what
        }
    }
}

func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}

/// One thing read off the wire.
public enum RSPFrame: Equatable {
    case ack
    case nack
    /// A packet whose checksum matched, escapes and runs already decoded.
    case packet([UInt8])
    /// A packet whose checksum did not match (the reader answers `-`).
    case corrupt
    /// `%Stop:...#cs`-style asynchronous notification (non-stop mode; we never enable it).
    case notification([UInt8])
}

/// Splits a byte stream into frames. Bounded: a packet longer than `maxPacket` raw bytes is an
/// error, so a stub that never sends `#` cannot make us buffer without end.
public struct RSPDecoder {
    public let maxPacket: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the `#` of the packet at `start` resumes (no rescans while a long
    /// packet trickles in).
    private var scanned = 0

    public init(maxPacket: Int = 1 << 20) { self.maxPacket = maxPacket }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && (start == buffer.count || start >= 1 << 16) {
            scanned -= start
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// memchr(3): a megabyte of packet body is scanned in microseconds, even in a debug build.
    static func find(_ byte: UInt8, in buffer: [UInt8], from: Int) -> Int? {
        guard from < buffer.count else { return nil }
        return buffer.withUnsafeBufferPointer { b -> Int? in
            let base = UnsafeRawPointer(b.baseAddress!)
            guard let hit = memchr(base + from, Int32(byte), b.count - from) else { return nil }
            return UnsafeRawPointer(hit) - base
        }
    }

    /// Bytes received but not yet framed.
    public var pending: Int { buffer.count - start }

    /// The next complete frame, nil when more bytes are needed. Stray bytes between frames
    /// (line noise, a stray 0x03) are skipped.
    public mutating func next() throws -> RSPFrame? {
        while start < buffer.count {
            let b = buffer[start]
            switch b {
            case UInt8(ascii: "+"):
                start += 1
                return .ack
            case UInt8(ascii: "-"):
                start += 1
                return .nack
            case UInt8(ascii: "$"), UInt8(ascii: "%"):
                guard let hash = Self.find(UInt8(ascii: "#"), in: buffer, from: max(start + 1, scanned)) else {
                    scanned = buffer.count
                    if buffer.count - start > maxPacket + 3 { throw RSPError.oversized(maxPacket) }
                    return nil
                }
                scanned = hash
                if hash - start - 1 > maxPacket { throw RSPError.oversized(maxPacket) }
                guard hash + 2 < buffer.count else { return nil }
                let body = buffer[(start + 1)..<hash]
                let given = (hexValue(buffer[hash + 1]), hexValue(buffer[hash + 2]))
                start = hash + 3
                guard let hi = given.0, let lo = given.1, (hi << 4 | lo) == RSP.checksum(body) else { return .corrupt }
                let payload = try RSP.decodeBody(body, limit: maxPacket * 4)
                return b == UInt8(ascii: "$") ? .packet(payload) : .notification(payload)
            default:
                start += 1  // noise
            }
        }
        return nil
    }
}

// MARK: hex

@inline(__always)
func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

extension RSP {
    /// Bytes as lowercase hex digits (`m`/`M` data, `qRcmd` commands).
    public static func hexEncode<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(hexDigit(b >> 4))
            out.append(hexDigit(b & 0xf))
        }
        return out
    }

    /// Hex digit pairs back to bytes; nil for an odd count or a non-hex digit.
    public static func hexDecode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var it = text.makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let hi = hexValue(a), let lo = hexValue(b) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    /// A hex number as the protocol writes it (no prefix, any case, at most 16 digits).
    public static func parseHex<C: Collection>(_ text: C) -> UInt64? where C.Element == UInt8 {
        guard !text.isEmpty, text.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in text {
            guard let d = hexValue(c) else { return nil }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    public static func hex(_ v: UInt64) -> String { String(v, radix: 16) }

    /// `Exx` error replies.
    public static func isError(_ reply: [UInt8]) -> Bool {
        reply.count == 3 && reply[0] == UInt8(ascii: "E") && hexValue(reply[1]) != nil && hexValue(reply[2]) != nil
    }

    /// A reply as text for messages: printable ASCII kept, at most 60 characters.
    public static func describe(_ reply: [UInt8]) -> String {
        if reply.isEmpty { return "an empty reply" }
        let shown = reply.prefix(60).map { (0x20..<0x7f).contains($0) ? Character(Unicode.Scalar($0)) : "." }
        return "'" + String(shown) + (reply.count > 60 ? "...'" : "'")
    }
}
