/// Packets over a transport: acknowledgements, retransmission, no-ack mode, timeouts.
///
/// Every failure becomes one `VMIError` naming the target (`gdb:127.0.0.1:1234: stub closed the
/// connection`). A fatal one (closed, garbage framing) marks the connection dead so teardown
/// does not wait on a stub that is gone.
final class RSPConnection {
    let target: TargetAddress
    let transport: RSPTransport
    /// Seconds to wait for any one reply.
    let timeout: Double
    private var decoder: RSPDecoder
    /// After QStartNoAckMode: no `+`/`-` either way.
    var noAck = false
    /// Set once the stub is gone or spoke garbage; further calls fail at once.
    private(set) var dead: RSPError?
    /// While tearing down: no wait goes past this, whatever the per-reply timeout says.
    var teardownDeadline: Double?
    /// Console output (`O` packets) seen while waiting, the last 64 KiB of it.
    private(set) var consoleOutput: [UInt8] = []

    func appendConsoleOutput(_ text: [UInt8]) {
        consoleOutput += text
        if consoleOutput.count > 1 << 16 { consoleOutput.removeFirst(consoleOutput.count - (1 << 16)) }
    }

    static let maxRetries = 3

    init(target: TargetAddress, transport: RSPTransport, timeout: Double, maxPacket: Int = 1 << 20) {
        self.target = target
        self.transport = transport
        self.timeout = timeout
        self.decoder = RSPDecoder(maxPacket: maxPacket)
    }

    func error(_ e: RSPError) -> VMIError {
        if case .timedOut = e { return VMIError("\(target): \(RSPError.timedOut(timeout))") }
        return VMIError("\(target): \(e)")
    }

    private func fail(_ e: RSPError) -> VMIError {
        switch e {
        case .timedOut: break
        default: if dead == nil { dead = e }
        }
        return error(e)
    }

    /// The target exited (`W`/`X`): the connection is dead from here on, so the cleanup that
    /// follows (interrupt, breakpoint removal, detach) fails at once instead of waiting a reply
    /// timeout for a stop that cannot come.
    func targetGone(_ why: String) -> VMIError { fail(.invalid(why)) }

    func deadline() -> Double {
        let d = monotonicSeconds() + timeout
        return teardownDeadline.map { min($0, d) } ?? d
    }

    private func checkAlive() throws {
        if let d = dead { throw error(d) }
    }

    // MARK: frames

    /// The next frame, or nil when `stopFD` became readable first or, with `quiet`, the
    /// deadline passed (a long wait that simply ended).
    private func nextFrame(deadline: Double?, stopFD: Int32, quiet: Bool = false) throws -> RSPFrame? {
        while true {
            do {
                if let f = try decoder.next() { return f }
                if try transport.read(deadline: deadline, stopFD: stopFD, into: { decoder.feed($0) }) == .stopRequested
                {
                    return nil
                }
            } catch RSPError.timedOut(_) where quiet {
                return nil
            } catch let e as RSPError {
                throw fail(e)
            }
        }
    }

    private func writeRaw(_ bytes: [UInt8]) throws {
        do { try transport.write(bytes, deadline: deadline()) } catch let e as RSPError { throw fail(e) }
    }

    // MARK: packets

    /// The last packet sent, until the stub acknowledged it (resent on `-`), and how often it was.
    private var unacknowledged: [UInt8]?
    private var resends = 0

    /// Sends one packet. Its `+` is not waited for on its own: the reply follows at once, and a
    /// `-` read before it makes `receive` send the packet again (at most `maxRetries` times).
    /// Waiting for the ack separately would cost a wakeup per packet (one step = two packets).
    func send(_ payload: [UInt8]) throws {
        try checkAlive()
        let framed = RSP.frame(payload)
        try writeRaw(takeAck() + framed)
        if !noAck {
            unacknowledged = framed
            resends = 0
        }
    }

    /// Handles an ack or a nack of our last packet.
    private func acknowledge(_ frame: RSPFrame) throws {
        switch frame {
        case .ack:
            unacknowledged = nil
        case .nack:
            guard let framed = unacknowledged else { return }
            resends += 1
            guard resends <= Self.maxRetries else {
                throw fail(.unexpected("the stub rejected a packet \(resends) times"))
            }
            try writeRaw(framed)
        default:
            break
        }
    }

    func send(_ payload: String) throws { try send(Array(payload.utf8)) }

    /// Sends a raw byte outside framing (0x03, the interrupt).
    func sendInterrupt() throws {
        try checkAlive()
        try writeRaw(takeAck() + [0x03])
    }

    /// Our `+` for the stub's last packet, not yet written: it goes out in front of our next
    /// packet (one write and one wakeup of the stub fewer per exchange), or before we wait for
    /// another packet (a stub may hold its next packet until acked).
    private var ackPending = false

    private func takeAck() -> [UInt8] {
        guard ackPending else { return [] }
        ackPending = false
        return [UInt8(ascii: "+")]
    }

    /// Writes a pending `+` now (before waiting, or before closing).
    func flushAck() throws {
        if ackPending { try writeRaw(takeAck()) }
    }

    /// How long `receive` waits.
    enum Wait {
        /// The per-reply timeout: a reply is due.
        case reply
        /// A reply is due by this time (one bound for a whole exchange, whatever the stub
        /// sends before its answer: console output, stray stops).
        case replyBy(Double)
        /// A long wait (a running target): until `deadline` (nil: none, but never past the
        /// teardown deadline) or `stopFD` readable, either of which returns nil.
        case until(deadline: Double?, stopFD: Int32)
    }

    /// The next packet from the stub (acked); nil when a long wait ended without one.
    func receive(_ wait: Wait = .reply) throws -> [UInt8]? {
        try checkAlive()
        try flushAck()
        var d: Double?
        var stopFD: Int32 = -1
        var quiet = false
        switch wait {
        case .reply: d = deadline()
        case .replyBy(let by): d = teardownDeadline.map { min($0, by) } ?? by
        case .until(let deadline, let fd):
            d = [deadline, teardownDeadline].compactMap { $0 }.min()
            stopFD = fd
            quiet = deadline != nil && d == deadline
        }
        var corrupt = 0
        while true {
            guard let f = try nextFrame(deadline: d, stopFD: stopFD, quiet: quiet) else { return nil }
            switch f {
            case .packet(let p):
                if !noAck {
                    unacknowledged = nil  // a reply implies our packet arrived
                    ackPending = true
                }
                return p
            case .corrupt:
                corrupt += 1
                guard !noAck, corrupt <= Self.maxRetries else { throw fail(.badChecksum) }
                try writeRaw([UInt8(ascii: "-")])
            case .ack, .nack:
                try acknowledge(f)
            case .notification:
                continue
            }
        }
    }

    /// Sends `payload` and returns the stub's reply; stop replies the stub pushes on its own
    /// (QEMU does on connect) are skipped when `skipStops` is set.
    func request(_ payload: [UInt8], skipStops: Bool = true) throws -> [UInt8] {
        try send(payload)
        var skipped = 0
        let by = deadline()
        while true {
            guard let reply = try receive(.replyBy(by)) else { continue }
            if reply.first == UInt8(ascii: "O"), reply.count > 1, reply.count % 2 == 1,
                RSP.hexDecode(reply.dropFirst()) != nil,
                !payload.starts(with: Array("qRcmd".utf8))
            {
                appendConsoleOutput(RSP.hexDecode(reply.dropFirst()) ?? [])
                continue
            }
            if skipStops && StopReply.looksLikeStop(reply) {
                skipped += 1
                if skipped > 8 { throw fail(.unexpected("stop replies instead of an answer")) }
                continue
            }
            return reply
        }
    }

    /// Sends every packet in one write, then reads one reply per packet. No retransmission:
    /// a `-` from the stub is an error here (the caller knows the stub answers in order).
    func requestPipelined(_ payloads: [[UInt8]]) throws -> [[UInt8]] {
        try checkAlive()
        var bytes = takeAck()
        for (i, p) in payloads.enumerated() {
            if i > 0 && !noAck { bytes.append(UInt8(ascii: "+")) }  // acks the reply to the previous one
            bytes += RSP.frame(p)
        }
        try writeRaw(bytes)
        unacknowledged = nil
        let by = deadline()
        var replies: [[UInt8]] = []
        while replies.count < payloads.count {
            guard let f = try nextFrame(deadline: by, stopFD: -1) else { continue }
            switch f {
            case .packet(let p):
                if StopReply.looksLikeStop(p) { continue }  // a stray stop, as in request()
                replies.append(p)
            case .nack, .corrupt: throw fail(.unexpected("a batch of \(payloads.count) packets was garbled"))
            case .ack, .notification: continue
            }
        }
        if !noAck { ackPending = true }
        return replies
    }

    func request(_ payload: String, skipStops: Bool = true) throws -> [UInt8] {
        try request(Array(payload.utf8), skipStops: skipStops)
    }

    /// A request whose only good answer is `OK`.
    func expectOK(_ payload: String) throws {
        let reply = try request(payload)
        guard reply == Array("OK".utf8) else {
            throw VMIError("\(target): '\(payload.prefix(40))' failed: the stub replied \(RSP.describe(reply))")
        }
    }
}
