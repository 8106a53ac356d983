import FuzzSupport
import VMICore

/// The NDJSON encoder: arbitrary bytes as string fields must give exactly one valid JSON line
/// that reads back (through JSONValue) to the same strings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = bytes(data, size)
    let s = String(decoding: raw, as: UTF8.self)
    var line = JSONLine(type: "fuzz")
    line.field("s", s)
    line.field("b", utf8Bytes: raw)
    line.field("h", hexBytes: raw.prefix(8))
    line.finish()
    let out = line.bytes
    require(out.last == 0x0a && out.firstIndex(of: 0x0a) == out.count - 1, "exactly one newline, at the end")
    guard let v = try? JSONValue.parse(out.dropLast()) else {
        fatalError("fuzz invariant violated: encoder output does not parse: \(String(decoding: out, as: UTF8.self))")
    }
    require(v["type"]?.stringValue == "fuzz", "type first")
    require(v["s"]?.stringValue == s, "string field round trip")
    require(v["b"]?.stringValue == s, "utf8Bytes field round trip (invalid UTF-8 -> U+FFFD)")
    return 0
}

fuzzMain(fuzz)
