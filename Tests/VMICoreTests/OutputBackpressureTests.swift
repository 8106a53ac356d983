import Foundation
import Testing

@testable import VMICore

#if canImport(Glibc)
    import Glibc
#endif

/// A live stream against a reader that stops reading: a pipe nobody drains (64 KiB in Linux).
@Suite struct OutputBackpressureTests {
    final class PipePair {
        var read: Int32 = -1
        var write: Int32 = -1
        init() {
            var fds: [Int32] = [-1, -1]
            pipe(&fds)
            read = fds[0]
            write = fds[1]
        }
        deinit {
            close(read)
            close(write)
        }

        /// Everything the reader has now (non-blocking).
        func drain() -> [UInt8] {
            _ = fcntl(read, F_SETFL, O_NONBLOCK)
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = Glibc.read(read, &chunk, chunk.count)
                if n <= 0 { return out }
                out += chunk[0..<n]
            }
        }
    }

    func event(_ out: OutputWriter, _ n: Int) throws {
        try out.record(type: "event") {
            $0.field("target", "gdb:127.0.0.1:1")
            $0.field("n", n)
            $0.field("pad", String(repeating: "x", count: 100))
        }
    }

    func lines(_ bytes: [UInt8]) throws -> [[String: Any]] {
        try String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// `drop`: writing never blocks; what does not fit is counted, and once the reader took
    /// the backlog a `lost` record says how many before the stream goes on.
    /// The same per record and per batch of 8 (a drained ring).
    @Test(arguments: [OutputWriter.Mode.perRecord, .perBatch])
    func dropNeverBlocksAndCountsTheLoss(mode: OutputWriter.Mode) throws {
        let p = PipePair()
        let out = OutputWriter(
            fd: p.write, mode: mode, backpressure: .drop(limit: 8192, identity: .target("t"), stopFD: -1))
        let start = monotonicSeconds()
        for n in 1...2000 {  // ~270 KB into a 64 KiB pipe and an 8 KiB backlog
            try event(out, n)
            if n % 8 == 0 { try out.endBatch() }
        }
        #expect(monotonicSeconds() - start < 5)
        #expect(out.lost > 0 && out.lost == out.lostTotal)
        let dropped = out.lost
        var got = try lines(p.drain())
        try event(out, 2001)  // room again: the count, then this record
        try out.finish()
        got += try lines(p.drain())
        let lost = got.filter { $0["type"] as? String == "lost" }
        #expect(lost.count == 1)
        #expect(lost.first?["records"] as? Int == dropped)
        #expect(lost.first?["target"] as? String == "t")
        let ns = got.compactMap { $0["n"] as? Int }
        #expect(ns.count + dropped == 2001)
        #expect(ns == ns.sorted() && ns.last == 2001)
        // The lost record sits where the gap is.
        let i = try #require(got.firstIndex { $0["type"] as? String == "lost" })
        #expect((got[i + 1]["n"] as? Int ?? 0) - (got[i - 1]["n"] as? Int ?? 0) == dropped + 1)
    }

    /// `perBatch`: records of a batch go out together at its end, none before.
    @Test func perBatchWritesAtTheEndOfABatch() throws {
        let p = PipePair()
        let out = OutputWriter(
            fd: p.write, mode: .perBatch, backpressure: .drop(limit: 1 << 20, identity: .domid(1), stopFD: -1))
        for n in 1...3 { try event(out, n) }
        #expect(p.drain().isEmpty)
        try out.endBatch()
        #expect(try lines(p.drain()).compactMap { $0["n"] as? Int } == [1, 2, 3])
        try out.endBatch()  // nothing held: nothing written
        #expect(p.drain().isEmpty)
    }

    /// `wait`: blocks for the reader, but a readable stop descriptor (a signal) ends the wait.
    @Test func waitGivesUpOnAStopRequest() throws {
        let p = PipePair()
        let stop = PipePair()
        let out = OutputWriter(fd: p.write, mode: .perRecord, backpressure: .wait(stopFD: stop.read))
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            var b: UInt8 = 1
            _ = Glibc.write(stop.write, &b, 1)
        }
        let start = monotonicSeconds()
        #expect(throws: StopRequested()) {
            for n in 1...2000 { try event(out, n) }
        }
        #expect(monotonicSeconds() - start < 5)
        // What went out is whole lines.
        let got = try lines(p.drain())
        #expect(!got.isEmpty)
        try out.finish()  // gives up at once: the stop request stands
    }

    /// A reader that went away is the normal end, whatever the backpressure.
    @Test func closedReaderIsConsumerGone() throws {
        signal(SIGPIPE, SIG_IGN)
        for bp: OutputWriter.Backpressure in [
            .wait(stopFD: -1), .drop(limit: 1 << 20, identity: .domid(1), stopFD: -1),
        ] {
            let p = PipePair()
            close(p.read)
            p.read = -1
            let out = OutputWriter(fd: p.write, mode: .perRecord, backpressure: bp)
            #expect(throws: OutputError.consumerGone) { try event(out, 1) }
        }
    }
}
