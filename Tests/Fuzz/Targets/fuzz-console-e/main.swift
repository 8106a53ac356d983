import FuzzSupport
import VMICore

/// Xen debug-key `e` console text (event channels per domain).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let t = text(data, size)
    _ = try? DebugKeyEDump.parse(Substring(t))
    return 0
}

fuzzMain(fuzz)
