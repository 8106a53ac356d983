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
    /// Eight ports per step: a table spreads a byte's bits into the low bit of eight bytes.
    public static func decode(sharedInfo page: UnsafeRawBufferPointer, into out: inout [PortBits]) {
        precondition(page.count >= maskOffset + 8 * words, "shared_info page too short")
        if out.count != ports { out = [PortBits](repeating: [], count: ports) }
        out.withUnsafeMutableBytes { dst in
            spreadTable.withUnsafeBufferPointer { spread in
                for i in 0..<(ports / 8) {
                    let p = spread[Int(page[pendingOffset + i])]
                    let m = spread[Int(page[maskOffset + i])]
                    dst.storeBytes(of: p | m << 1, toByteOffset: 8 * i, as: UInt64.self)
                }
            }
        }
    }

    /// `spreadTable[b]` has bit k of `b` in bit 0 of byte k (little-endian: byte k is port 8i+k).
    static let spreadTable: [UInt64] = (0..<256).map { (b: Int) -> UInt64 in
        var spread: UInt64 = 0
        for k in 0..<8 where (b >> k) & 1 != 0 { spread |= 1 << UInt64(8 * k) }
        return spread
    }
}

/// Pending and masked bits of one port, whatever the ABI.
public struct PortBits: OptionSet, Equatable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let pending = PortBits(rawValue: 1)
    public static let masked = PortBits(rawValue: 2)
}
