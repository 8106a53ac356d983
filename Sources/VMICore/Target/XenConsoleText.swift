/// Xen console text (`xl dmesg`, a serial log, a saved ring) for the debug-key parsers (`e`, `q`).
/// They read it as UTF-8 bytes: a ring is megabytes of boot log, splitting it into Characters
/// (grapheme breaking) was most of a parse, and "\r\n" is one Character, so a serial log's CRLF
/// lines would not split on "\n".
enum XenConsoleText {
    /// The lines of `text`, split at LF; a CR before it is left to `message`.
    static func lines(_ text: Substring) -> [Substring] {
        text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Substring.init)
    }

    /// The text after Xen's "(XEN) " prefix (wherever it is: a serial log may put its own stamp
    /// before it) and its timestamp, in any of `console_timestamps`' formats
    /// (xen/drivers/char/console.c: date "[YYYY-MM-DD HH:MM:SS]", datems "[... HH:MM:SS.mmm]",
    /// boot "[SSSSSS.uuuuuu]", raw "[XXXXXXXXXXXXXXXX]"), without trailing CRs. A line without the
    /// prefix is taken as it is (text pasted from elsewhere).
    static func message(_ line: Substring) -> Substring {
        var s = line
        while s.utf8.last == UInt8(ascii: "\r") { s = Substring(s.utf8.dropLast()) }
        if let r = s.firstByteRange(of: "(XEN) ") { s = Substring(s.utf8[r.upperBound...]) }
        let u = s.utf8
        if u.first == UInt8(ascii: "["), let close = u.firstIndex(of: UInt8(ascii: "]")),
            u[u.index(after: close)...].first == UInt8(ascii: " "),
            u[u.index(after: u.startIndex)..<close].allSatisfy(isStampByte)
        {
            s = Substring(u[u.index(close, offsetBy: 2)...])
        }
        return s
    }

    /// Digits (hex for `raw`), and the separators of the date and boot formats.
    private static func isStampByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"),
            UInt8(ascii: " "), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }
}

/// Byte-level matching of ASCII patterns on console lines (no grapheme breaking).
extension Substring {
    func hasBytePrefix(_ p: StaticString) -> Bool {
        utf8.starts(with: UnsafeBufferPointer(start: p.utf8Start, count: p.utf8CodeUnitCount))
    }

    func hasByteSuffix(_ p: StaticString) -> Bool {
        let n = p.utf8CodeUnitCount
        return utf8.count >= n && utf8.suffix(n).elementsEqual(UnsafeBufferPointer(start: p.utf8Start, count: n))
    }

    func droppingBytes(prefix p: StaticString) -> Substring? {
        hasBytePrefix(p) ? Substring(utf8.dropFirst(p.utf8CodeUnitCount)) : nil
    }

    func firstByteRange(of p: StaticString) -> Range<Index>? {
        let needle = UnsafeBufferPointer(start: p.utf8Start, count: p.utf8CodeUnitCount)
        var from = utf8.startIndex
        while let hit = utf8[from...].firstIndex(of: needle[0]) {
            let rest = utf8[hit...]
            if rest.starts(with: needle) { return hit..<utf8.index(hit, offsetBy: needle.count) }
            from = utf8.index(after: hit)
        }
        return nil
    }

    /// Without leading and trailing spaces.
    var trimmingSpaces: Substring {
        var u = utf8[...]
        while u.first == UInt8(ascii: " ") { u = u.dropFirst() }
        while u.last == UInt8(ascii: " ") { u = u.dropLast() }
        return Substring(u)
    }

    /// The space-separated fields (runs of spaces are one separator).
    var byteFields: [Substring] { utf8.split(separator: UInt8(ascii: " ")).map(Substring.init) }
}
