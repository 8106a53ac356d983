#if canImport(CXen)
import CXen
#endif
import Testing
@testable import VMICore

/// The 2-level and FIFO decoders against the layouts of xen/include/public/xen.h and
/// event_channel.h.
@Suite struct EventChannelDecoderTests {
    #if canImport(CXen)
    @Test func sharedInfoOffsetsAreTheHeaders() {
        #expect(MemoryLayout<shared_info>.offset(of: \.evtchn_pending) == TwoLevelBitmaps.pendingOffset)
        #expect(MemoryLayout<shared_info>.offset(of: \.evtchn_mask) == TwoLevelBitmaps.maskOffset)
        #expect(MemoryLayout<evtchn_fifo_control_block>.offset(of: \.head) == 8)
        #expect(MemoryLayout<evtchn_fifo_control_block>.size == FIFOControlBlock.size)
        #expect(EVTCHN_FIFO_PENDING == 31 && EVTCHN_FIFO_MASKED == 30 && EVTCHN_FIFO_LINKED == 29 && EVTCHN_FIFO_BUSY == 28)
        #expect(EVTCHN_FIFO_LINK_BITS == 17)
    }

    @Test func twoLevelBitsFromASharedInfoStruct() throws {
        var si = shared_info()
        // Port 1 pending, port 65 masked, port 4095 both.
        withUnsafeMutableBytes(of: &si.evtchn_pending) { raw in
            raw.storeBytes(of: UInt64(1) << 1, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: UInt64(1) << 63, toByteOffset: 63 * 8, as: UInt64.self)
        }
        withUnsafeMutableBytes(of: &si.evtchn_mask) { raw in
            raw.storeBytes(of: UInt64(1) << 1, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: UInt64(1) << 63, toByteOffset: 63 * 8, as: UInt64.self)
        }
        var page = withUnsafeBytes(of: &si) { Array($0) }
        page += [UInt8](repeating: 0, count: 4096 - page.count)
        let b = try TwoLevelBitmaps(sharedInfo: page)
        #expect(b.isPending(1) && !b.isMasked(1))
        #expect(!b.isPending(65) && b.isMasked(65))
        #expect(b.isPending(4095) && b.isMasked(4095))
        #expect(!b.isPending(2) && !b.isMasked(2) && !b.isPending(4096) && !b.isPending(-1))
        var all: [PortBits] = []
        page.withUnsafeBytes { TwoLevelBitmaps.decode(sharedInfo: $0, into: &all) }
        #expect(all.count == 4096)
        #expect(all[1] == .pending && all[65] == .masked && all[4095] == [.pending, .masked])
        #expect(all.enumerated().filter { !$0.element.isEmpty }.map(\.offset) == [1, 65, 4095])
    }
    #endif

    @Test func sharedInfoMustHoldTheBitmaps() {
        #expect(throws: VMIError("shared_info too short: 100 bytes")) {
            try TwoLevelBitmaps(sharedInfo: [UInt8](repeating: 0, count: 100))
        }
    }

    @Test func eventWordBits() {
        let w = EventWord(0xB000_0005)  // PENDING | LINKED | BUSY, LINK 5
        #expect(w.pending && !w.masked && w.linked && w.busy && w.link == 5)
        #expect(w.bits == .pending)
        #expect(EventWord(0x4000_0000).bits == .masked)
        #expect(EventWord(0xC001_FFFF).link == 0x1FFFF)
        let words: [UInt32] = [0, 0x8000_0000, 0x4000_0000, 0xC000_0000, 0x2000_0003]
        var out: [PortBits] = []
        words.withUnsafeBufferPointer { EventWord.decode($0, into: &out) }
        #expect(out == [[], .pending, .masked, [.pending, .masked], []])
    }

    @Test func fifoQueuesGivePriorities() throws {
        // Queue 7 (default priority): 3 -> 5 -> 9; queue 0: 4. Port 6 pending but not linked.
        var words = [EventWord](repeating: EventWord(0), count: 16)
        words[3] = EventWord(0xA000_0005)
        words[5] = EventWord(0xA000_0009)
        words[9] = EventWord(0xA000_0000)
        words[4] = EventWord(0xA000_0000)
        words[6] = EventWord(0x8000_0000)
        var head = [UInt8](repeating: 0, count: FIFOControlBlock.size)
        head[0] = 0x81  // ready bits 0 and 7
        head[8 + 4 * 0] = 4
        head[8 + 4 * 7] = 3
        let block = try FIFOControlBlock(bytes: head)
        #expect(block.ready == 0x81)
        #expect(block.priorities(words: words) == [3: 7, 5: 7, 9: 7, 4: 0])
        // A hostile cycle 3 -> 5 -> 3 ends.
        words[5] = EventWord(0xA000_0003)
        #expect(block.priorities(words: words) == [3: 7, 5: 7, 4: 0])
        #expect(throws: VMIError("FIFO control block too short: 4 bytes")) { try FIFOControlBlock(bytes: [0, 0, 0, 0]) }
    }
}
