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
    /// Console output (`O` packets) seen while waiting; the driver may hand it on.
    var consoleOutput: [UInt8] = []
    /// Packets read while waiting for an ack (a stub may answer before acking).
    private var queued: [[UInt8]] = []

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

    private func deadline() -> Double {
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
                if try transport.read(deadline: deadline, stopFD: stopFD, into: { decoder.feed($0) }) == .stopRequested {
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

    /// Sends one packet and, unless in no-ack mode, waits for its `+` (resending on `-`).
    func send(_ payload: [UInt8]) throws {
        try checkAlive()
        let framed = RSP.frame(payload)
        try writeRaw(framed)
        if noAck { return }
        var nacks = 0
        let d = deadline()
        while true {
            guard let f = try nextFrame(deadline: d, stopFD: -1) else { continue }
            switch f {
            case .ack: return
            case .nack:
                nacks += 1
                guard nacks <= Self.maxRetries else { throw fail(.unexpected("the stub rejected a packet \(nacks) times")) }
                try writeRaw(framed)
            case .packet(let p):
                try writeRaw([UInt8(ascii: "+")])
                queued.append(p)
                if queued.count > 16 { throw fail(.unexpected("packets without an acknowledgement")) }
            case .corrupt:
                try writeRaw([UInt8(ascii: "-")])
            case .notification:
                continue
            }
        }
    }

    func send(_ payload: String) throws { try send(Array(payload.utf8)) }

    /// Sends a raw byte outside framing (0x03, the interrupt).
    func sendInterrupt() throws {
        try checkAlive()
        try writeRaw([0x03])
    }

    /// How long `receive` waits.
    enum Wait {
        /// The per-reply timeout: a reply is due.
        case reply
        /// A long wait (a running target): until `deadline` (nil: none, but never past the
        /// teardown deadline) or `stopFD` readable, either of which returns nil.
        case until(deadline: Double?, stopFD: Int32)
    }

    /// The next packet from the stub (acked); nil when a long wait ended without one.
    func receive(_ wait: Wait = .reply) throws -> [UInt8]? {
        try checkAlive()
        if !queued.isEmpty { return queued.removeFirst() }
        var d: Double?
        var stopFD: Int32 = -1
        var quiet = false
        switch wait {
        case .reply: d = deadline()
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
                if !noAck { try writeRaw([UInt8(ascii: "+")]) }
                return p
            case .corrupt:
                corrupt += 1
                guard !noAck, corrupt <= Self.maxRetries else { throw fail(.badChecksum) }
                try writeRaw([UInt8(ascii: "-")])
            case .ack, .nack, .notification:
                continue  // a late ack of ours, or noise
            }
        }
    }

    /// Sends `payload` and returns the stub's reply; stop replies the stub pushes on its own
    /// (QEMU does on connect) are skipped when `skipStops` is set.
    func request(_ payload: [UInt8], skipStops: Bool = true) throws -> [UInt8] {
        try send(payload)
        var skipped = 0
        while true {
            guard let reply = try receive() else { continue }
            if reply.first == UInt8(ascii: "O"), reply.count > 1, reply.count % 2 == 1, RSP.hexDecode(reply.dropFirst()) != nil,
                !payload.starts(with: Array("qRcmd".utf8))
            {
                consoleOutput += RSP.hexDecode(reply.dropFirst()) ?? []
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
