import FuzzSupport
import VMICore

/// Xen debug-key `q` console text (vGIC state per vCPU), then the records made from it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let t = text(data, size)
    _ = try? XenConsoleGIC.parse(t, name: "fuzz")
    return 0
}

fuzzMain(fuzz)
