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

    public var rfc3339: String {
        var out: [UInt8] = []
        appendRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func appendRFC3339(to out: inout [UInt8]) {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = Int(seconds - days * 86400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        // Fixed-width fields written into a 30-byte scratch and appended once: this runs per
        // event record, so no per-digit appends or intermediate strings.
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { b in
            @inline(__always) func digits(_ value: Int, at offset: Int, width: Int) {
                var v = value
                var i = offset + width - 1
                while i >= offset {
                    b[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                    i -= 1
                }
            }
            digits(Int(y), at: 0, width: 4)
            b[4] = UInt8(ascii: "-")
            digits(m, at: 5, width: 2)
            b[7] = UInt8(ascii: "-")
            digits(d, at: 8, width: 2)
            b[10] = UInt8(ascii: "T")
            digits(secOfDay / 3600, at: 11, width: 2)
            b[13] = UInt8(ascii: ":")
            digits(secOfDay / 60 % 60, at: 14, width: 2)
            b[16] = UInt8(ascii: ":")
            digits(secOfDay % 60, at: 17, width: 2)
            b[19] = UInt8(ascii: ".")
            digits(Int(nanoseconds), at: 20, width: 9)
            b[29] = UInt8(ascii: "Z")
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[0..<30]))
        }
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
