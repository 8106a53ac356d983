/// Largest single read any memory API accepts: bounds what a hostile count can allocate.
public let maxMemoryReadCount = 1 << 28

/// Where the bytes of one run of guest-physical memory are, as a backend reports it.
enum PhysicalRun {
    /// Bytes backed by the file, starting at the requested address (length = available bytes).
    case bytes(UnsafeRawBufferPointer)
    /// A run of zeros (an ELF segment's memsz beyond its filesz).
    case zeros(UInt64)
}

/// Assembles `count` bytes at `address` from contiguous runs, so backends only answer "what is
/// at this address and how far does it go on": a page of a Xen dump, a PT_LOAD segment of QEMU's.
func gatherPhysical(_ address: UInt64, count: Int, run: (UInt64) throws -> PhysicalRun) throws -> [UInt8] {
    guard count >= 0, count <= maxMemoryReadCount else {
        throw VMIError("read of \(count) bytes refused (at most \(maxMemoryReadCount))")
    }
    guard UInt64(count) <= UInt64.max - address else {
        throw VMIError("read of \(count) bytes at \(hex(address)) wraps around the address space")
    }
    var out = [UInt8]()
    out.reserveCapacity(count)
    var at = address
    while out.count < count {
        let want = count - out.count
        switch try run(at) {
        case .bytes(let b):
            guard b.count > 0 else { throw PhysicalMemoryError.unbacked(at) }
            let n = min(want, b.count)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[0..<n]))
            at += UInt64(n)
        case .zeros(let length):
            guard length > 0 else { throw PhysicalMemoryError.unbacked(at) }
            let n = Int(min(UInt64(want), length))
            out.append(contentsOf: repeatElement(0, count: n))
            at += UInt64(n)
        }
    }
    return out
}

/// A guest-physical address the source holds no bytes for.
public enum PhysicalMemoryError: Error, Equatable, CustomStringConvertible {
    case unbacked(UInt64)

    public var description: String {
        switch self {
        case .unbacked(let a): return "guest-physical address \(hex(a)) is not in the dump"
        }
    }
}

extension PhysicalMemory {
    /// One little-endian 64-bit word (a page-table entry) at a guest-physical address.
    public func readPhysicalUInt64(_ address: UInt64) throws -> UInt64 {
        let b = try readPhysical(address, count: 8)
        guard b.count == 8 else { throw PhysicalMemoryError.unbacked(address) }
        return b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }
}
