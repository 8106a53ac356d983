import FuzzSupport
import VMICore

/// gdb target descriptions: the input is split on NUL into files; `target.xml` is the first and
/// any `xi:include href` gets the next piece (cycling), so include chains are explored.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let files = bytes(data, size).split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
    var n = 0
    _ = try? TargetDescription.load { _ in
        defer { n += 1 }
        return files[n % files.count]
    }.arch
    return 0
}

fuzzMain(fuzz)
