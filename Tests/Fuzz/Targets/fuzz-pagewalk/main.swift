import FuzzSupport
import VMICore

/// The page-table walkers over a hostile memory image. Input: byte 0 picks the mode (x86-64
/// 4/5-level, AArch64 with TCR from bytes 9..16), bytes 1..8 the root (masked into the image),
/// then 8 virtual addresses, then the guest-physical memory image from address 0.
final class Image: PhysicalMemory {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, address <= UInt64(bytes.count), UInt64(count) <= UInt64(bytes.count) - address else {
            throw VMIError("unbacked")
        }
        return Array(bytes[Int(address)..<Int(address) + count])
    }
}

func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | (at + $1 < b.count ? UInt64(b[at + $1]) : 0) << (8 * UInt64($1)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard input.count > 17 + 64 else { return 0 }
    let head = 17 + 64
    let image = Image(Array(input[head...]))
    let root = u64(input, 1) & 0x000f_ffff_ffff_f000 & UInt64(max(image.bytes.count - 1, 0)).nextPowerOf2Mask
    let mode: PagingMode
    switch input[0] % 4 {
    case 0: mode = .x86_64(root: root, levels: 4)
    case 1: mode = .x86_64(root: root, levels: 5)
    case 2:
        guard let m = try? PagingMode.aarch64(ttbr0: root, ttbr1: root, tcr: u64(input, 9)) else { return 0 }
        mode = m
    default: mode = .aarch64(ttbr0: root, ttbr1: nil, t0sz: Int(input[9] % 64), t1sz: Int(input[10] % 64))
    }
    let vm = VirtualMemory(physical: image, mode: mode)
    for i in 0..<8 {
        let va = u64(input, 17 + 8 * i)
        if let t = try? vm.walk(va) {
            require(t.pageSize.nonzeroBitCount == 1, "page size \(t.pageSize) is a power of two")
        }
        _ = try? vm.read(va, count: Int(input[9 + i]) * 64)
    }
    return 0
}

extension UInt64 {
    /// All ones up to the highest set bit: keeps roots inside small images.
    var nextPowerOf2Mask: UInt64 { self == 0 ? 0 : UInt64.max >> self.leadingZeroBitCount }
}

fuzzMain(fuzz)
