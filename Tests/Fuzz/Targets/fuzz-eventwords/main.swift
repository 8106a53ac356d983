import FuzzSupport
import VMICore

/// Event-channel words: FIFO event words and control block (queue walks over guest-written
/// links), and the 2-level shared_info bitmaps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let words: [UInt32] = stride(from: 0, to: input.count - input.count % 4, by: 4).map { i in
        UInt32(input[i]) | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2]) << 16 | UInt32(input[i + 3]) << 24
    }
    var out: [PortBits] = []
    words.withUnsafeBufferPointer { EventWord.decode($0, into: &out) }
    require(out.count == words.count, "one PortBits per word")
    if let cb = try? FIFOControlBlock(bytes: input) {
        let prio = cb.priorities(words: words.map(EventWord.init))
        require(prio.keys.allSatisfy { $0 >= 0 && $0 < words.count }, "priorities name ports in range")
    }
    if let two = try? TwoLevelBitmaps(sharedInfo: input) {
        for p in [0, 1, 63, 64, 4095] { _ = two.isPending(p); _ = two.isMasked(p) }
        // decode's precondition is the length check the init makes.
        input.withUnsafeBytes { TwoLevelBitmaps.decode(sharedInfo: $0, into: &out) }
    }
    return 0
}

fuzzMain(fuzz)
