import FuzzSupport
import VMICore

/// The JSON reader (stdin of `vmi-regs --set -`, vmdesc).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? JSONValue.parse(UnsafeBufferPointer(start: data, count: size))
    _ = parseUInt64(text(data, size))
    return 0
}

fuzzMain(fuzz)
