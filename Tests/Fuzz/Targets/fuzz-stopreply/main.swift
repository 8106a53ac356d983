import FuzzSupport
import VMICore

/// Stop replies (`T05thread:01;...`, `S05`, `W00`) and thread lists (`m1,2,p1.3`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    _ = StopReply.looksLikeStop(input)
    _ = try? StopReply(parsing: input)
    _ = try? RSPThreadID.list(input)
    _ = RSPThreadID(parsing: input)
    _ = RSP.isError(input)
    _ = RSP.describe(input)
    return 0
}

fuzzMain(fuzz)
