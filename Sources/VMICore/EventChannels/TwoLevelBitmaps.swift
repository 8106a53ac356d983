/// The 2-level event-channel ABI: one pending and one mask bit per port, in shared_info.
///
/// x86_64 layout (xen/include/public/xen.h, `struct shared_info`, checked with offsetof):
/// `vcpu_info[32]` (64 bytes each) then `evtchn_pending[64]` at 0x800 and `evtchn_mask[64]`
/// at 0xA00, unsigned longs of 64 bits: port p is bit p%64 of word p/64, 4096 ports.
public struct TwoLevelBitmaps: Equatable, Sendable {
    public static let pendingOffset = 0x800
    public static let maskOffset = 0xA00
    public static let words = 64
    public static let ports = 4096

    public var pending: [UInt64]
    public var mask: [UInt64]

    /// Reads both bitmaps from a shared_info page (at least 0xC00 bytes).
    public init(sharedInfo page: [UInt8]) throws {
        guard page.count >= TwoLevelBitmaps.maskOffset + 8 * TwoLevelBitmaps.words else {
            throw VMIError("shared_info too short: \(page.count) bytes")
        }
        (pending, mask) = page.withUnsafeBytes { raw in
            (TwoLevelBitmaps.words(raw, at: TwoLevelBitmaps.pendingOffset),
             TwoLevelBitmaps.words(raw, at: TwoLevelBitmaps.maskOffset))
        }
    }

    static func words(_ raw: UnsafeRawBufferPointer, at offset: Int) -> [UInt64] {
        (0..<words).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * $0, as: UInt64.self)) }
    }

    public func isPending(_ port: Int) -> Bool { bit(pending, port) }
    public func isMasked(_ port: Int) -> Bool { bit(mask, port) }

    func bit(_ words: [UInt64], _ port: Int) -> Bool {
        guard port >= 0 && port < TwoLevelBitmaps.ports else { return false }
        return words[port >> 6] >> UInt64(port & 63) & 1 != 0
    }

    /// No bit set in either bitmap: what a FIFO guest leaves behind (or a guest not yet booted).
    public var isEmpty: Bool { pending.allSatisfy { $0 == 0 } && mask.allSatisfy { $0 == 0 } }

    /// Every port's bits at once, `out[port]` (resized to 4096): the decode the benchmark times.
    public static func decode(sharedInfo page: UnsafeRawBufferPointer, into out: inout [PortBits]) {
        if out.count != ports { out = [PortBits](repeating: [], count: ports) }
        out.withUnsafeMutableBufferPointer { dst in
            for w in 0..<words {
                let p = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: pendingOffset + 8 * w, as: UInt64.self))
                let m = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: maskOffset + 8 * w, as: UInt64.self))
                let base = w << 6
                for b in 0..<64 {
                    dst[base + b] = PortBits(rawValue: UInt8(truncatingIfNeeded: (p >> UInt64(b)) & 1
                        | ((m >> UInt64(b)) & 1) << 1))
                }
            }
        }
    }
}

/// Pending and masked bits of one port, whatever the ABI.
public struct PortBits: OptionSet, Equatable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let pending = PortBits(rawValue: 1)
    public static let masked = PortBits(rawValue: 2)
}
