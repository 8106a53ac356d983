import FuzzSupport
import VMICore

/// KVM vgic-state debugfs text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let t = text(data, size)
    _ = try? KVMVGICState.parse(t, name: "fuzz")
    return 0
}

fuzzMain(fuzz)
