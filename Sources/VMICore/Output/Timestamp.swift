#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time with nanoseconds, formatted as RFC 3339 UTC (`2026-11-28T10:11:12.123456789Z`)
/// without Foundation's DateFormatter, which costs microseconds per call on a hot event path.
public struct Timestamp: Equatable, Sendable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: Int32(ts.tv_nsec))
    }

    /// Length of `rfc3339`.
    @inlinable public static var rfc3339Count: Int { 30 }

    public var rfc3339: String {
        var out: [UInt8] = []
        out.appendReserved(upTo: Timestamp.rfc3339Count) { appendRFC3339(to: &$0) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes `rfc3339` (years 0 to 9999) into reserved bytes, without intermediate strings.
    @usableFromInline
    func appendRFC3339(to out: inout ReservedBytes) {
        appendWholeSecond(to: &out)
        appendFraction(to: &out)
    }

    /// The same, with the whole-second part taken from `cache` when it holds this second: this
    /// runs per event record, and a stream writes many records a second.
    @usableFromInline
    func appendRFC3339(to out: inout ReservedBytes, cache: inout RFC3339SecondCache) {
        if cache.seconds != seconds { cache = RFC3339SecondCache(self) }
        withUnsafeBytes(of: cache.text) { out.append(copying: $0.assumingMemoryBound(to: UInt8.self)) }
        appendFraction(to: &out)
    }

    /// `2026-11-28T10:11:12`: `RFC3339SecondCache.count` bytes.
    func appendWholeSecond(to out: inout ReservedBytes) {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = UInt64(seconds - days * 86400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        out.appendDigits(UInt64(clamping: y), radix: 10, count: 4)
        out.append(UInt8(ascii: "-"))
        out.appendDigits(UInt64(m), radix: 10, count: 2)
        out.append(UInt8(ascii: "-"))
        out.appendDigits(UInt64(d), radix: 10, count: 2)
        out.append(UInt8(ascii: "T"))
        out.appendDigits(secOfDay / 3600, radix: 10, count: 2)
        out.append(UInt8(ascii: ":"))
        out.appendDigits(secOfDay / 60 % 60, radix: 10, count: 2)
        out.append(UInt8(ascii: ":"))
        out.appendDigits(secOfDay % 60, radix: 10, count: 2)
    }

    /// `.123456789Z`
    @usableFromInline
    func appendFraction(to out: inout ReservedBytes) {
        out.append(UInt8(ascii: "."))
        out.appendDigits(UInt64(clamping: nanoseconds), radix: 10, count: 9)
        out.append(UInt8(ascii: "Z"))
    }

    /// Howard Hinnant's days-from-civil inverse (proleptic Gregorian calendar).
    static func civil(fromDays z0: Int64) -> (Int64, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

/// The whole-second part of the last timestamp written (`2026-11-28T10:11:12`), kept by whoever
/// writes many records a second (an `OutputWriter`, lent to each `JSONLine`) so a record formats
/// only its nanoseconds: the calendar arithmetic was a tenth of vmi-watch's cost per event.
/// Held per writer, not globally: writers on other threads (parallel tests) do not share it.
public struct RFC3339SecondCache: Sendable {
    static let count = 19
    /// The second `text` spells; none at first.
    @usableFromInline var seconds: Int64? = nil
    @usableFromInline var text = InlineArray<19, UInt8>(repeating: 0)

    public init() {}

    @usableFromInline
    init(_ ts: Timestamp) {
        var bytes: [UInt8] = []
        bytes.appendReserved(upTo: RFC3339SecondCache.count) { ts.appendWholeSecond(to: &$0) }
        for i in 0..<RFC3339SecondCache.count { text[i] = bytes[i] }
        seconds = ts.seconds
    }
}
