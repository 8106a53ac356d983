/// One NDJSON record under construction, appended straight into a byte buffer.
///
/// The contract (vmi-json(5)): the first key is `"type"`, keys are snake_case literals, 64-bit
/// quantities are canonical lowercase hex strings (`"0x487c000"`, `"0x0"`), small integers are
/// numbers, flags booleans. Hand-written because Foundation's JSONEncoder is ~10x slower here and
/// does not keep key order.
///
/// Each field is one piece: `,"key":` and its value written in place after a single capacity
/// check (`piece`), rather than a uniqueness and capacity check per byte; several fields can share
/// one check (`appendReserved`, as an event's kind-specific fields do). vmi-watch writes a line
/// per event, and per-byte appends were most of its cost.
public struct JSONLine {
    public var bytes: [UInt8]
    /// Lent by the writer that builds records in its buffer, so consecutive records share it.
    /// (Set by each init, no default: a default would be built and thrown away per record.)
    public var timeCache: RFC3339SecondCache

    /// Starts `{"type":"<type>"`.
    @inlinable
    public init(type: StaticString, capacity: Int = 256) {
        bytes = []
        timeCache = RFC3339SecondCache()
        bytes.reserveCapacity(capacity)
        begin(type: type)
    }

    /// Reuses an existing buffer and time cache (the writer's), appending a new record to it.
    @inlinable
    public init(appendingTo buffer: [UInt8], type: StaticString, timeCache: RFC3339SecondCache = .init()) {
        bytes = buffer
        self.timeCache = timeCache
        begin(type: type)
    }

    @inlinable
    mutating func begin(type: StaticString) {
        bytes.appendReserved(upTo: 11 + type.utf8CodeUnitCount) { out in
            out.appendLiteral("{\"type\":\"")
            out.appendLiteral(type)
            out.append(UInt8(ascii: "\""))
        }
    }

    // MARK: fields

    @inlinable
    public mutating func field(_ key: StaticString, _ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            piece(key, maxValueCount: quotedCount(utf8)) { $0.appendQuoted(utf8) }
        }
    }

    /// A 64-bit quantity (address, register, raw word) as a canonical hex string.
    @inlinable
    public mutating func field(_ key: StaticString, hex value: UInt64) {
        piece(key, maxValueCount: maxHexStringCount) { $0.appendHexString(value) }
    }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: Int) {
        piece(key, maxValueCount: maxDecimalCount) { $0.appendDecimal(value) }
    }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: UInt32) { field(key, Int(value)) }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: Bool) {
        piece(key, maxValueCount: 5) { $0.appendBool(value) }
    }

    /// Guest-controlled bytes as a JSON string: valid UTF-8 kept, anything else becomes U+FFFD.
    public mutating func field(_ key: StaticString, utf8Bytes value: some Collection<UInt8>) {
        // Swift's String(decoding:) replaces every ill-formed sequence with U+FFFD.
        field(key, String(decoding: Array(value), as: UTF8.self))
    }

    /// Bytes as a lowercase hex string without prefix (instruction bytes, raw buffers).
    @inlinable
    public mutating func field(_ key: StaticString, hexBytes value: some Collection<UInt8>) {
        piece(key, maxValueCount: 2 + 2 * value.count) { $0.appendHexBytes(value) }
    }

    /// A key whose name is only known at run time (register names from a gdb target description).
    /// Names are escaped like any string.
    @inlinable
    public mutating func field(dynamicKey key: String, hex value: UInt64) {
        var key = key
        key.withUTF8 { utf8 in
            bytes.appendReserved(upTo: 2 + quotedCount(utf8) + maxHexStringCount) { out in
                out.append(UInt8(ascii: ","))
                out.appendQuoted(utf8)
                out.append(UInt8(ascii: ":"))
                out.appendHexString(value)
            }
        }
    }

    /// `"key":[...]` of hex strings.
    @inlinable
    public mutating func field(_ key: StaticString, hexArray values: some Collection<UInt64>) {
        appendArray(key, values, maxElementCount: maxHexStringCount) { $0.appendHexString($1) }
    }

    /// `"key":[...]` of numbers.
    @inlinable
    public mutating func field(_ key: StaticString, intArray values: some Collection<Int>) {
        appendArray(key, values, maxElementCount: maxDecimalCount) { $0.appendDecimal($1) }
    }

    @inlinable
    mutating func appendArray<C: Collection>(_ key: StaticString, _ values: C, maxElementCount: Int,
        _ element: (inout ReservedBytes, C.Element) -> Void)
    {
        piece(key, maxValueCount: 2 + values.count * (maxElementCount + 1)) { out in
            out.append(UInt8(ascii: "["))
            var first = true
            for v in values {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                element(&out, v)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// `"key":{ ... }`: a nested object filled by `body` (keys inside follow the same rules).
    @inlinable
    public mutating func object(_ key: StaticString, _ body: (inout JSONLine) -> Void) {
        piece(key, maxValueCount: 1) { $0.append(UInt8(ascii: "{")) }
        let mark = bytes.count
        body(&self)
        // The first nested field wrote a leading comma: drop it.
        if bytes.count > mark, bytes[mark] == UInt8(ascii: ",") { bytes.remove(at: mark) }
        bytes.append(UInt8(ascii: "}"))
    }

    /// `"ts":"..."`, RFC 3339 UTC with nanoseconds.
    @inlinable
    public mutating func timestamp(_ ts: Timestamp = .now()) {
        var cache = timeCache  // `piece` holds self while the value is written
        piece("ts", maxValueCount: 2 + Timestamp.rfc3339Count) { $0.appendTimestamp(ts, cache: &cache) }
        timeCache = cache
    }

    /// Closes the object and the line.
    @inlinable
    public mutating func finish() {
        bytes.appendReserved(upTo: 2) { out in
            out.append(UInt8(ascii: "}"))
            out.append(UInt8(ascii: "\n"))
        }
    }

    /// `,"key":` and a value of at most `maxValueCount` bytes written by `value`, in one piece.
    /// Inlined into each field: the key is then a constant and the value's writer a direct call.
    @inlinable @inline(__always)
    mutating func piece(_ key: StaticString, maxValueCount: Int, _ value: (inout ReservedBytes) -> Void) {
        bytes.appendReserved(upTo: 4 + key.utf8CodeUnitCount + maxValueCount) { out in
            out.appendKey(key)
            value(&out)
        }
    }
}

/// Anything that can be written as one NDJSON line.
public protocol NDJSONRecord {
    func encode() -> JSONLine
}

/// Canonical hex spelling shared by text layouts and error messages: `0x487c000`.
@inlinable
public func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// The lowercase hex digit of a nibble (JSON lines, gdb packets).
@inlinable
func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
}

// MARK: the pieces of a line, written into bytes a field reserved

/// The longest `"0x..."` of a UInt64.
@inlinable var maxHexStringCount: Int { 20 }
/// The longest decimal Int, `-9223372036854775808`.
@inlinable var maxDecimalCount: Int { 20 }

extension [UInt8] {
    /// Appends at most `maxCount` bytes, all written by `write` after one capacity check.
    @inlinable @inline(__always)
    mutating func appendReserved(upTo maxCount: Int, _ write: (inout ReservedBytes) -> Void) {
        append(addingCapacity: maxCount) { span in
            span.withUnsafeMutableBufferPointer { buffer, count in
                var out = ReservedBytes(buffer, count: count)
                write(&out)
                count = out.count
            }
        }
    }
}

/// Bytes reserved at the end of a buffer (`appendReserved`), written front to back. Every write
/// checks that it stays inside the reservation: a bound computed too small stops the tool rather
/// than writing past it.
@usableFromInline
struct ReservedBytes {
    @usableFromInline let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes written so far.
    @usableFromInline var count: Int

    @inlinable
    init(_ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int) {
        self.buffer = buffer
        self.count = count
    }

    @inlinable
    mutating func append(_ b: UInt8) {
        precondition(count < buffer.count, "JSON piece larger than reserved")
        buffer[count] = b
        count += 1
    }

    /// `,"key":`. One bounds check for all of it: a line has a dozen keys, and per-byte checks
    /// and a memcpy call each were a fifth of vmi-watch's cost per event.
    @inlinable @inline(__always)
    mutating func appendKey(_ key: StaticString) {
        let n = key.utf8CodeUnitCount
        precondition(n + 4 <= buffer.count - count, "JSON piece larger than reserved")
        let p = buffer.baseAddress! + count
        p[0] = UInt8(ascii: ",")
        p[1] = UInt8(ascii: "\"")
        let k = key.utf8Start
        for i in 0..<n { p[2 + i] = k[i] }
        p[n + 2] = UInt8(ascii: "\"")
        p[n + 3] = UInt8(ascii: ":")
        count += n + 4
    }

    /// `true` or `false`: at most 5 bytes.
    @inlinable
    mutating func appendBool(_ value: Bool) {
        appendLiteral(value ? "true" : "false")
    }

    /// `"0f05"`: 2 + 2 * `value.count` bytes.
    @inlinable
    mutating func appendHexBytes(_ value: some Collection<UInt8>) {
        append(UInt8(ascii: "\""))
        for b in value {
            append(hexDigit(b >> 4))
            append(hexDigit(b & 0xf))
        }
        append(UInt8(ascii: "\""))
    }

    @inlinable
    mutating func appendLiteral(_ s: StaticString) {
        s.withUTF8Buffer { append(copying: $0) }
    }

    /// Copies `source` in one go (keys, literals, valid UTF-8).
    @inlinable
    mutating func append(copying source: UnsafeBufferPointer<UInt8>) {
        precondition(source.count <= buffer.count - count, "JSON piece larger than reserved")
        count = buffer[count...].initialize(fromContentsOf: source)
    }

    /// `"0x487c000"`: at most `maxHexStringCount` bytes.
    @inlinable @inline(__always)
    mutating func appendHexString(_ value: UInt64) {
        let significantBits = 64 - (value | 1).leadingZeroBitCount  // `| 1`: 0 is "0x0"
        let digits = (significantBits + 3) / 4
        precondition(digits + 4 <= buffer.count - count, "JSON piece larger than reserved")
        let p = buffer.baseAddress! + count
        p[0] = UInt8(ascii: "\"")
        p[1] = UInt8(ascii: "0")
        p[2] = UInt8(ascii: "x")
        // From the right, two digits a step.
        var v = value
        var i = digits + 2
        while i >= 4 {
            let byte = UInt8(truncatingIfNeeded: v)
            p[i - 1] = hexDigit(byte >> 4)
            p[i] = hexDigit(byte & 0xf)
            v >>= 8
            i -= 2
        }
        if i == 3 { p[3] = hexDigit(UInt8(truncatingIfNeeded: v) & 0xf) }
        p[digits + 3] = UInt8(ascii: "\"")
        count += digits + 4
    }

    /// `"2026-11-28T10:11:12.123456789Z"`: 2 + `Timestamp.rfc3339Count` bytes.
    @inlinable
    mutating func appendTimestamp(_ ts: Timestamp, cache: inout RFC3339SecondCache) {
        append(UInt8(ascii: "\""))
        ts.appendRFC3339(to: &self, cache: &cache)
        append(UInt8(ascii: "\""))
    }

    /// At most `maxDecimalCount` bytes.
    @inlinable
    mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        let magnitude = UInt64(value.magnitude)
        appendDigits(magnitude, radix: 10, count: decimalDigitCount(magnitude))
    }

    /// `value` in exactly `digits` digits of `radix` (10 or 16): zero-padded, or its lowest digits.
    /// Always inlined: with `radix` a constant, `%` and `/` become multiplies and shifts.
    @inlinable @inline(__always)
    mutating func appendDigits(_ value: UInt64, radix: UInt64, count digits: Int) {
        precondition(digits <= buffer.count - count, "JSON piece larger than reserved")
        // The lowest digit comes first: fill from the right.
        var v = value
        var i = count + digits
        while i > count {
            i -= 1
            buffer[i] = hexDigit(UInt8(truncatingIfNeeded: v % radix))
            v /= radix
        }
        count += digits
    }

    /// A JSON string of valid UTF-8: `quotedCount(utf8)` bytes. Runs that need no escape are
    /// copied whole.
    @inlinable
    mutating func appendQuoted(_ utf8: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        var copied = 0
        for i in utf8.indices {
            let escape = jsonEscape(utf8[i])
            if escape == 0 { continue }
            append(copying: UnsafeBufferPointer(rebasing: utf8[copied..<i]))
            append(UInt8(ascii: "\\"))
            append(escape)
            if escape == UInt8(ascii: "u") {
                append(UInt8(ascii: "0"))
                append(UInt8(ascii: "0"))
                append(hexDigit(utf8[i] >> 4))
                append(hexDigit(utf8[i] & 0xf))
            }
            copied = i + 1
        }
        append(copying: UnsafeBufferPointer(rebasing: utf8[copied...]))
        append(UInt8(ascii: "\""))
    }
}

/// How a byte of valid UTF-8 is written inside a JSON string: as itself (0), as `\` and the
/// returned byte (`\n`, `\"`), or, for other control bytes and DEL, as `\u00XX` (`u`).
@inlinable
func jsonEscape(_ b: UInt8) -> UInt8 {
    switch b {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"): return b
    case UInt8(ascii: "\n"): return UInt8(ascii: "n")
    case UInt8(ascii: "\r"): return UInt8(ascii: "r")
    case UInt8(ascii: "\t"): return UInt8(ascii: "t")
    case 0..<0x20, 0x7f: return UInt8(ascii: "u")
    default: return 0
    }
}

/// Length of `utf8` written as a JSON string (`ReservedBytes.appendQuoted`).
@inlinable
func quotedCount(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
    var n = 2
    for b in utf8 {
        switch jsonEscape(b) {
        case 0: n += 1
        case UInt8(ascii: "u"): n += 6
        default: n += 2
        }
    }
    return n
}

/// Number of decimal digits of `v` (1 for 0).
@inlinable
func decimalDigitCount(_ v: UInt64) -> Int {
    var n = 1
    var rest = v
    while rest >= 10 {
        rest /= 10
        n += 1
    }
    return n
}
