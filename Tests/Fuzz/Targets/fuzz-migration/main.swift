import FuzzSupport
import VMICore

/// QEMU migration stream with its vmdesc JSON tail: open (header + vmdesc), then walk the
/// sections for the GICv3 state, as vmi-gic-dump vmstate:FILE does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withTempFile(data, size) { path in
        let target = try MigrationStreamTarget(path: path, address: .vmstate(path: path))
        defer { target.close() }
        _ = try target.gicSnapshot()
    }
    return 0
}

fuzzMain(fuzz)
