import FuzzSupport
import VMICore

/// Command-line parsers: TARGET addresses and --event specs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let t = text(data, size)
    if let a = try? TargetAddress(parsing: t, fileExists: { _ in size % 2 == 0 }) { _ = a.description }
    if let s = try? EventSpec(parsing: t) {
        // The description is what the tool echoes back: it must parse to the same spec.
        let again = try? EventSpec(parsing: s.description)
        require(again == s, "EventSpec description round trip: \(s.description)")
    }
    return 0
}

fuzzMain(fuzz)
