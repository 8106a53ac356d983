/// One NDJSON record under construction, appended straight into a byte buffer.
///
/// The contract (vmi-json(5)): the first key is `"type"`, keys are snake_case literals, 64-bit
/// quantities are canonical lowercase hex strings (`"0x487c000"`, `"0x0"`), small integers are
/// numbers, flags booleans. Hand-written because Foundation's JSONEncoder is ~10x slower here and
/// does not keep key order.
public struct JSONLine {
    public var bytes: [UInt8]

    /// Starts `{"type":"<type>"`.
    @inlinable
    public init(type: StaticString, capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        begin(type: type)
    }

    /// Reuses an existing buffer (the writer's), appending a new record to it.
    @inlinable
    public init(appendingTo buffer: [UInt8], type: StaticString) {
        bytes = buffer
        begin(type: type)
    }

    @inlinable
    mutating func begin(type: StaticString) {
        appendLiteral("{\"type\":\"")
        appendLiteral(type)
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: fields

    @inlinable
    public mutating func field(_ key: StaticString, _ value: String) {
        appendKey(key)
        appendString(value)
    }

    /// A 64-bit quantity (address, register, raw word) as a canonical hex string.
    @inlinable
    public mutating func field(_ key: StaticString, hex value: UInt64) {
        appendKey(key)
        appendHexString(value)
    }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: Int) {
        appendKey(key)
        appendDecimal(value)
    }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: UInt32) { field(key, Int(value)) }

    @inlinable
    public mutating func field(_ key: StaticString, _ value: Bool) {
        appendKey(key)
        if value { appendLiteral("true") } else { appendLiteral("false") }
    }

    /// Guest-controlled bytes as a JSON string: valid UTF-8 kept, anything else becomes U+FFFD.
    public mutating func field(_ key: StaticString, utf8Bytes value: some Collection<UInt8>) {
        appendKey(key)
        appendString(bytes: Array(value))
    }

    /// Bytes as a lowercase hex string without prefix (instruction bytes, raw buffers).
    @inlinable
    public mutating func field(_ key: StaticString, hexBytes value: some Collection<UInt8>) {
        appendKey(key)
        bytes.append(UInt8(ascii: "\""))
        for b in value {
            bytes.append(hexDigits[Int(b >> 4)])
            bytes.append(hexDigits[Int(b & 0xf)])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A key whose name is only known at run time (register names from a gdb target description).
    /// Names are escaped like any string.
    @inlinable
    public mutating func field(dynamicKey key: String, hex value: UInt64) {
        bytes.append(UInt8(ascii: ","))
        appendString(key)
        bytes.append(UInt8(ascii: ":"))
        appendHexString(value)
    }

    /// `"key":[...]` of hex strings.
    @inlinable
    public mutating func field(_ key: StaticString, hexArray values: some Collection<UInt64>) {
        appendArray(key, values) { $0.appendHexString($1) }
    }

    /// `"key":[...]` of numbers.
    @inlinable
    public mutating func field(_ key: StaticString, intArray values: some Collection<Int>) {
        appendArray(key, values) { $0.appendDecimal($1) }
    }

    @inlinable
    mutating func appendArray<C: Collection>(_ key: StaticString, _ values: C, _ element: (inout JSONLine, C.Element) -> Void) {
        appendKey(key)
        bytes.append(UInt8(ascii: "["))
        var first = true
        for v in values {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `"key":{ ... }`: a nested object filled by `body` (keys inside follow the same rules).
    @inlinable
    public mutating func object(_ key: StaticString, _ body: (inout JSONLine) -> Void) {
        appendKey(key)
        bytes.append(UInt8(ascii: "{"))
        let mark = bytes.count
        body(&self)
        // The first nested field wrote a leading comma: drop it.
        if bytes.count > mark, bytes[mark] == UInt8(ascii: ",") { bytes.remove(at: mark) }
        bytes.append(UInt8(ascii: "}"))
    }

    /// `"ts":"..."`, RFC 3339 UTC with nanoseconds.
    @inlinable
    public mutating func timestamp(_ ts: Timestamp = .now()) {
        appendKey("ts")
        bytes.append(UInt8(ascii: "\""))
        ts.appendRFC3339(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Closes the object and the line.
    @inlinable
    public mutating func finish() {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
    }

    // MARK: primitives

    @inlinable
    mutating func appendLiteral(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inlinable
    mutating func appendKey(_ key: StaticString) {
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: "\""))
        appendLiteral(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    @inlinable
    mutating func appendHexString(_ value: UInt64) {
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "x"))
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
        } else {
            var shift = (63 - value.leadingZeroBitCount) & ~3
            while shift >= 0 {
                bytes.append(hexDigits[Int((value >> UInt64(shift)) & 0xf)])
                shift -= 4
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendUnsignedDecimal(value.magnitude)
        } else {
            appendUnsignedDecimal(UInt(value))
        }
    }

    @inlinable
    mutating func appendUnsignedDecimal(_ value: UInt) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits
        var v = value
        var n = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            while v > 0 {
                scratch[23 - n] = UInt8(ascii: "0") &+ UInt8(v % 10)
                v /= 10
                n += 1
            }
            bytes.append(contentsOf: scratch[(24 - n)...])
        }
    }

    @inlinable
    mutating func appendString(_ s: String) {
        var s = s
        s.withUTF8 { appendEscaped($0) }
    }

    @usableFromInline
    mutating func appendString(bytes raw: [UInt8]) {
        // Swift's String(decoding:) replaces every ill-formed sequence with U+FFFD.
        appendString(String(decoding: raw, as: UTF8.self))
    }

    /// Escapes valid UTF-8. Fast path: copy runs of bytes that need no escape in one go.
    @inlinable
    mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var i = 0
        let n = utf8.count
        while i < n {
            let b = utf8[i]
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") && b != 0x7f {
                i += 1
                continue
            }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
            bytes.append(UInt8(ascii: "\\"))
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
            default:
                bytes.append(UInt8(ascii: "u"))
                bytes.append(UInt8(ascii: "0"))
                bytes.append(UInt8(ascii: "0"))
                bytes.append(hexDigits[Int(b >> 4)])
                bytes.append(hexDigits[Int(b & 0xf)])
            }
            i += 1
            runStart = i
        }
        if n > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<n])) }
        bytes.append(UInt8(ascii: "\""))
    }
}

@usableFromInline
let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Anything that can be written as one NDJSON line.
public protocol NDJSONRecord {
    func encode() -> JSONLine
}

/// Canonical hex spelling shared by text layouts and error messages: `0x487c000`.
@inlinable
public func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
