/// The FIFO event-channel ABI (xen/include/public/event_channel.h): one 32-bit event word per
/// port, 1024 to a page, up to 131072 ports (EVTCHN_FIFO_LINK_BITS 17).
public struct EventWord: Equatable, Sendable {
    public var raw: UInt32

    public init(_ raw: UInt32) { self.raw = raw }

    /// EVTCHN_FIFO_PENDING 31, MASKED 30, LINKED 29, BUSY 28; LINK bits 16:0.
    public var pending: Bool { raw & (1 << 31) != 0 }
    public var masked: Bool { raw & (1 << 30) != 0 }
    public var linked: Bool { raw & (1 << 29) != 0 }
    public var busy: Bool { raw & (1 << 28) != 0 }
    public var link: Int { Int(raw & EventWord.linkMask) }

    public static let linkMask: UInt32 = (1 << 17) - 1
    public static let maxPorts = 1 << 17
    public static let wordsPerPage = 1024

    public var bits: PortBits { PortBits(rawValue: UInt8(truncatingIfNeeded: raw >> 31 | (raw >> 29) & 2)) }

    /// Every port's pending/masked bits from an array of event words (`out` resized to match).
    public static func decode(_ words: UnsafeBufferPointer<UInt32>, into out: inout [PortBits]) {
        if out.count != words.count { out = [PortBits](repeating: [], count: words.count) }
        out.withUnsafeMutableBufferPointer { dst in
            for i in 0..<words.count {
                let w = UInt32(littleEndian: words[i])
                dst[i] = PortBits(rawValue: UInt8(truncatingIfNeeded: w >> 31 | (w >> 29) & 2))
            }
        }
    }
}

/// A vCPU's FIFO control block: `struct evtchn_fifo_control_block { u32 ready; u32 _rsvd;
/// u32 head[16]; }`. Bit q of `ready` says queue q (priority q, 0 highest, default 7) is not empty.
public struct FIFOControlBlock: Equatable, Sendable {
    public static let queues = 16
    public static let size = 8 + 4 * queues

    public var ready: UInt32
    public var heads: [UInt32]

    public init(ready: UInt32, heads: [UInt32]) {
        self.ready = ready
        self.heads = heads
    }

    public init(bytes: [UInt8]) throws {
        guard bytes.count >= FIFOControlBlock.size else { throw VMIError("FIFO control block too short: \(bytes.count) bytes") }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        ready = u32(0)
        heads = (0..<FIFOControlBlock.queues).map { u32(8 + 4 * $0) }
    }

    /// The priority of every port linked on one of this vCPU's queues, found by walking each
    /// queue from its head along LINK while LINKED is set. Guest-written words may form a cycle
    /// or point anywhere: a walk stops at a port seen before, a port out of range, or after
    /// `words.count` steps, so it always ends.
    public func priorities(words: [EventWord]) -> [Int: Int] {
        var out: [Int: Int] = [:]
        for (priority, head) in heads.enumerated() where head != 0 {
            var port = Int(head & EventWord.linkMask)
            var steps = 0
            while port != 0, port < words.count, out[port] == nil, steps < words.count {
                out[port] = priority
                let w = words[port]
                guard w.linked else { break }
                port = w.link
                steps += 1
            }
        }
        return out
    }
}
