/// What the GDB remote protocol offers, one method per packet kind: the stub's features,
/// threads, registers, memory, breakpoints, execution control. No policy: the driver decides.
final class GDBClient {
    let connection: RSPConnection
    var target: TargetAddress { connection.target }

    /// From `qSupported`: the largest packet the stub accepts (default 400 bytes, the spec's minimum).
    private(set) var packetSize = 400
    private(set) var features: Set<String> = []
    private(set) var multiprocess = false
    /// From `qqemu.Supported` (QEMU only): `sstepbits`, `sstep`, `PhyMemMode`.
    private(set) var qemuFeatures: Set<String> = []
    private(set) var description = TargetDescription(architecture: nil, registers: [])
    private(set) var registerMap: RegisterMap!
    /// The thread `Hg` last selected.
    private var selectedThread: RSPThreadID?
    /// Whether `m` reads guest-physical addresses (QEMU PhyMemMode).
    private(set) var physicalMode = false
    /// `P` known to be unsupported (write through `G` then).
    private var noP = false

    init(connection: RSPConnection) { self.connection = connection }

    /// The handshake: features, no-ack mode when offered, the target description.
    func handshake() throws {
        let reply = try connection.request(
            "qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=i386")
        for item in reply.split(separator: UInt8(ascii: ";")) {
            let text = String(decoding: item, as: UTF8.self)
            if let eq = text.firstIndex(of: "=") {
                let key = String(text[..<eq])
                features.insert(key)
                if key == "PacketSize", let n = Int(text[text.index(after: eq)...], radix: 16) {
                    packetSize = max(64, min(n, 1 << 20))
                }
            } else if text.hasSuffix("+") {
                features.insert(String(text.dropLast()))
            }
        }
        multiprocess = features.contains("multiprocess")
        if features.contains("QStartNoAckMode") {
            if try connection.request("QStartNoAckMode") == Array("OK".utf8) { connection.noAck = true }
        }
        let v = try connection.request("vCont?")
        let actions = v.split(separator: UInt8(ascii: ";")).map { String(decoding: $0, as: UTF8.self) }
        hasVCont = actions.first == "vCont" && actions.contains("s") && actions.contains("c")
        let q = try connection.request("qqemu.Supported")
        if !q.isEmpty && !RSP.isError(q) {
            qemuFeatures = Set(q.split(separator: UInt8(ascii: ";")).map { String(decoding: $0, as: UTF8.self) })
        }
        guard features.contains("qXfer:features:read") else {
            throw VMIError("\(target): the stub sends no target description (qXfer:features:read)")
        }
        description = try parse { try TargetDescription.load(fetch: readFeature) }
        registerMap = try parse { try RegisterMap(description) }
    }

    /// One object of `qXfer:features:read`, in pieces no larger than the packet size, at most 4 MiB.
    func readFeature(_ name: String) throws -> [UInt8] {
        guard !name.contains(":"), !name.contains("#"), !name.contains("$") else {
            throw VMIError("\(target): target description names a bad file '\(name)'")
        }
        var data: [UInt8] = []
        let chunk = max(packetSize - 16, 64)
        while true {
            let reply = try connection.request(
                "qXfer:features:read:\(name):\(RSP.hex(UInt64(data.count))),\(RSP.hex(UInt64(chunk)))")
            guard let kind = reply.first, kind == UInt8(ascii: "m") || kind == UInt8(ascii: "l") else {
                throw VMIError(
                    "\(target): cannot read target description '\(name)': the stub replied \(RSP.describe(reply))")
            }
            data += reply.dropFirst()
            guard data.count <= 4 << 20 else {
                throw VMIError("\(target): target description '\(name)' larger than 4 MiB")
            }
            if kind == UInt8(ascii: "l") { return data }
            if reply.count == 1 { throw VMIError("\(target): target description '\(name)' does not end") }
        }
    }

    // MARK: threads

    /// Threads (vCPUs) in the stub's order.
    func threads() throws -> [RSPThreadID] {
        var out: [RSPThreadID] = []
        var reply = try connection.request("qfThreadInfo")
        while let ids = try parse({ try RSPThreadID.list(reply) }) {
            out += ids
            guard out.count <= 4096 else { throw VMIError("\(target): the stub lists more than 4096 threads") }
            reply = try connection.request("qsThreadInfo")
        }
        if out.isEmpty { out = [RSPThreadID(pid: multiprocess ? 1 : nil, tid: 1)] }
        return out
    }

    /// `Hg`: the thread later `g`/`p`/`P`/`G`/`m` apply to.
    func select(_ thread: RSPThreadID) throws {
        if selectedThread == thread { return }
        try connection.expectOK("Hg\(thread)")
        selectedThread = thread
    }

    /// Forget the selection (a resume may change the stub's current thread).
    func invalidateSelection() { selectedThread = nil }

    /// After a stop the stub's general thread is the one that stopped (QEMU's gdbstub sets
    /// g_cpu to it in gdb_vm_state_change); knowing it saves an `Hg` per step.
    private func noteStop(_ stop: StopReply.Stop) {
        selectedThread = stop.thread.flatMap { RSPThreadID(parsing: Array($0.utf8)) }
        if qemuFeatures.isEmpty { selectedThread = nil }  // other stubs: select again
    }

    private func parse<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as RSPError { throw connection.error(e) }
    }

    // MARK: registers

    /// The reported registers of the selected thread: `g` for the block, then `p` for each
    /// one outside it unless `coreOnly` (one round trip: what a step record needs).
    func readRegisters(coreOnly: Bool = false) throws -> RegisterSet {
        let map = registerMap!
        let g = try connection.request("g")
        guard !RSP.isError(g) else {
            throw VMIError("\(target): cannot read registers: the stub replied \(RSP.describe(g))")
        }
        if coreOnly { return try parse { try map.decodeCore(g) } }
        var values = try parse { try map.decodeG(g) }
        do {
            let missing = map.entries.map(\.register.regnum).filter { values[$0] == nil }
            for (regnum, reply) in zip(missing, try requestAll(missing.map { "p\(RSP.hex(UInt64($0)))" })) {
                guard !reply.isEmpty, !RSP.isError(reply) else { continue }  // not readable here: leave it out
                values[regnum] = RegisterMap.littleEndian(reply[...])
            }
        }
        var set = RegisterSet(arch: map.arch, vcpu: 0)
        for e in map.entries {
            if let v = values[e.register.regnum] { set[e.name] = v }
        }
        return set
    }

    /// The replies to `packets`, in order. QEMU reads packets as they come and answers each
    /// in turn, so they go out 32 at a time (AArch64's ~250 system registers cost 8 round trips,
    /// not 250); other stubs may wait for the ack of each reply first, so they get one at a time.
    func requestAll(_ packets: [String]) throws -> [[UInt8]] {
        guard !qemuFeatures.isEmpty else { return try packets.map { try connection.request($0) } }
        var replies: [[UInt8]] = []
        var i = 0
        while i < packets.count {
            let batch = packets[i..<min(i + 32, packets.count)]
            replies += try connection.requestPipelined(batch.map { Array($0.utf8) })
            i += batch.count
        }
        return replies
    }

    /// Writes registers of the selected thread with `P`, or with one `G` when `P` is missing.
    func writeRegisters(_ values: [(name: String, value: UInt64)]) throws {
        let map = registerMap!
        var pending: [(RegisterMap.Entry, UInt64)] = []
        for (name, value) in values {
            guard let e = map.entry(named: name) else { throw VMIError("\(target) has no register '\(name)'") }
            if e.register.bitsize < 64 && value >> UInt64(e.register.bitsize) != 0 {
                throw VMIError(
                    "\(target): value 0x\(RSP.hex(value)) does not fit \(e.register.bitsize)-bit register '\(name)'")
            }
            pending.append((e, value))
        }
        if !noP {
            for (i, (e, value)) in pending.enumerated() {
                let reply = try connection.request(
                    "P\(RSP.hex(UInt64(e.register.regnum)))="
                        + String(decoding: RegisterMap.encodeLittleEndian(value, bytes: e.bytes), as: UTF8.self))
                if reply == Array("OK".utf8) { continue }
                if reply.isEmpty && i == 0 {
                    noP = true
                    break
                }
                throw VMIError("\(target): cannot write register '\(e.name)': the stub replied \(RSP.describe(reply))")
            }
            if !noP { return }
        }
        var g = try connection.request("g")
        guard !RSP.isError(g), g.count % 2 == 0 else {
            throw VMIError("\(target): cannot read registers: the stub replied \(RSP.describe(g))")
        }
        for (e, value) in pending {
            guard let off = gOffset(e.register), off + e.bytes * 2 <= g.count else {
                throw VMIError("\(target): register '\(e.name)' cannot be written (not in the g block and no P packet)")
            }
            g.replaceSubrange(off..<(off + e.bytes * 2), with: RegisterMap.encodeLittleEndian(value, bytes: e.bytes))
        }
        try connection.expectOK("G" + String(decoding: g, as: UTF8.self))
    }

    private func gOffset(_ reg: TargetDescription.Register) -> Int? {
        var off = 0
        for (i, r) in registerMap.all.enumerated() {
            guard r.regnum == i else { return nil }
            if r.regnum == reg.regnum { return off }
            off += r.bitsize / 4
        }
        return nil
    }

    // MARK: memory

    /// Bytes per `m`: as many as the reply packet holds (two hex digits a byte), a power of two.
    var readChunk: Int {
        var n = 1
        while n * 2 <= packetSize / 2 { n *= 2 }
        return n
    }

    /// Switches `m`/`M` between virtual and (QEMU's PhyMemMode) physical addresses.
    private func addressMode(physical: Bool, _ action: String) throws {
        guard physical != physicalMode else { return }
        if physical && !qemuFeatures.contains("PhyMemMode") {
            throw VMIError.unsupported(target, action, because: "the stub has no physical-memory mode")
        }
        try connection.expectOK("Qqemu.PhyMemMode:\(physical ? 1 : 0)")
        physicalMode = physical
    }

    /// `M` in the largest pieces a packet holds (`MADDR,LEN:` then two hex digits a byte).
    func writeMemory(_ address: UInt64, _ bytes: [UInt8], physical: Bool) throws {
        try addressMode(physical: physical, "write physical memory")
        let chunk = max(16, (packetSize - 40) / 2)
        var off = 0
        while off < bytes.count {
            let piece = bytes[off..<min(off + chunk, bytes.count)]
            let addr = address &+ UInt64(off)
            let reply = try connection.request(
                Array("M\(RSP.hex(addr)),\(RSP.hex(UInt64(piece.count))):".utf8) + RSP.hexEncode(piece))
            guard reply == Array("OK".utf8) else {
                throw VMIError(
                    "\(target): cannot write \(bytes.count) bytes at 0x\(RSP.hex(address)): "
                        + "the stub replied \(RSP.describe(reply)) at 0x\(RSP.hex(addr))")
            }
            off += piece.count
        }
    }

    /// `m` in the largest pieces allowed. `physical`: through QEMU's PhyMemMode.
    func readMemory(_ address: UInt64, count: Int, physical: Bool) throws -> [UInt8] {
        guard count >= 0, count <= 1 << 30 else { throw VMIError("\(target): read of \(count) bytes refused") }
        try addressMode(physical: physical, "read physical memory")
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var chunk = readChunk
        // QEMU answers packets in turn: 16 full pieces per write (a round trip per 32 KiB, not
        // per 2 KiB). The first piece that does not come back whole ends this fast path; the
        // loop below goes on from there, one piece at a time.
        pipelined: while !qemuFeatures.isEmpty && count - out.count >= 2 * chunk {
            let pieces = min(16, (count - out.count) / chunk)
            let base = address &+ UInt64(out.count)
            let packets = (0..<pieces).map { "m\(RSP.hex(base &+ UInt64($0 * chunk))),\(RSP.hex(UInt64(chunk)))" }
            for reply in try requestAll(packets) {
                guard reply.count == chunk * 2, let bytes = RSP.hexDecode(reply) else { break pipelined }
                out += bytes
            }
        }
        while out.count < count {
            let addr = address &+ UInt64(out.count)
            let n = min(chunk, count - out.count)
            let reply = try connection.request("m\(RSP.hex(addr)),\(RSP.hex(UInt64(n)))")
            if RSP.isError(reply) || reply.isEmpty {
                // Some stubs refuse large reads: try smaller pieces before giving up.
                if n > 256 && chunk > 256 {
                    chunk /= 2
                    continue
                }
                throw VMIError(
                    "\(target): cannot read \(count) bytes at 0x\(RSP.hex(address))\(physical ? " (physical)" : ""): "
                        + "the stub replied \(RSP.describe(reply)) at 0x\(RSP.hex(addr))")
            }
            guard reply.count <= n * 2, let bytes = RSP.hexDecode(reply), !bytes.isEmpty else {
                throw VMIError("\(target): bad memory reply \(RSP.describe(reply))")
            }
            out += bytes
        }
        return out
    }

    // MARK: breakpoints

    enum PointKind: Int {
        case software = 0
        case hardware = 1
        case write = 2
        case read = 3
        case access = 4
    }

    /// `Z`/`z`: breakpoints take the instruction length as `kind` (x86: 1; AArch64: 4).
    func setPoint(_ kind: PointKind, _ address: UInt64, length: UInt64, insert: Bool) throws {
        let packet = "\(insert ? "Z" : "z")\(kind.rawValue),\(RSP.hex(address)),\(RSP.hex(length))"
        let reply = try connection.request(packet)
        if reply == Array("OK".utf8) { return }
        let what = ["breakpoint", "hardware breakpoint", "write watchpoint", "read watchpoint", "access watchpoint"][
            kind.rawValue]
        let why = reply.isEmpty ? "the stub does not support them" : "the stub replied \(RSP.describe(reply))"
        throw VMIError("\(target): cannot \(insert ? "insert" : "remove") \(what) at 0x\(RSP.hex(address)): \(why)")
    }

    // MARK: execution

    /// QEMU's step flags (`qqemu.sstepbits`): ENABLE|NOIRQ|NOTIMER so a step is one instruction
    /// of the stepped code, not the interrupt handler. Returns the flags before, to restore.
    func configureStepFlags() throws -> UInt64? {
        guard qemuFeatures.contains("sstepbits"), qemuFeatures.contains("sstep") else { return nil }
        let bits = try connection.request("qqemu.sstepbits")
        var wanted: UInt64 = 0
        for item in bits.split(separator: UInt8(ascii: ",")) {
            let parts = item.split(separator: UInt8(ascii: "="))
            guard parts.count == 2, let v = RSP.parseHex(parts[1]) else { continue }
            if ["ENABLE", "NOIRQ", "NOTIMER"].contains(String(decoding: parts[0], as: UTF8.self)) { wanted |= v }
        }
        let current = try connection.request("qqemu.sstep")
        guard let old = RSP.parseHex(current.starts(with: Array("0x".utf8)) ? Array(current.dropFirst(2)) : current)
        else { return nil }
        if wanted != 0 && wanted != old { try connection.expectOK("Qqemu.sstep=\(RSP.hex(wanted))") }
        return old
    }

    func setStepFlags(_ flags: UInt64) throws { try connection.expectOK("Qqemu.sstep=\(RSP.hex(flags))") }

    /// From `vCont?`: the stub steps and continues with vCont (`vCont;c;C;s;S`).
    private(set) var hasVCont = false

    /// Steps `thread` (only it) and returns the stop.
    func step(_ thread: RSPThreadID) throws -> StopReply.Stop {
        try connection.send(hasVCont ? "vCont;s:\(thread)" : "s")
        invalidateSelection()
        guard let stop = try waitStop(.replyBy(connection.deadline())) else { throw connection.error(.timedOut(0)) }
        return stop
    }

    /// Resumes every vCPU.
    func resume() throws {
        try connection.send(hasVCont ? "vCont;c" : "c")
        invalidateSelection()
    }

    /// Waits for the next stop reply (nil when a long wait ended without one). Console output
    /// is collected; an exit (`W`/`X`) is an error.
    func waitStop(_ wait: RSPConnection.Wait) throws -> StopReply.Stop? {
        while true {
            guard let reply = try connection.receive(wait) else { return nil }
            let stop: StopReply
            do { stop = try StopReply(parsing: reply) } catch let e as RSPError { throw connection.error(e) }
            switch stop {
            case .stopped(let s):
                noteStop(s)
                return s
            case .output(let text): connection.appendConsoleOutput(text)
            case .exited(let status, let signaled):
                throw connection.targetGone(
                    "the target \(signaled ? "was killed by signal \(status)" : "exited with status \(status)")")
            }
        }
    }

    /// Interrupts a running target (0x03) and waits for its stop reply.
    func interrupt() throws -> StopReply.Stop {
        try connection.sendInterrupt()
        guard let s = try waitStop(.replyBy(connection.deadline())) else { throw connection.error(.timedOut(0)) }
        return s
    }

    /// `qRcmd`: a monitor command (hex encoded); its output comes back in `O` packets.
    func monitor(_ command: String) throws -> String {
        try connection.send("qRcmd," + String(decoding: RSP.hexEncode(Array(command.utf8)), as: UTF8.self))
        var output: [UInt8] = []
        let by = connection.deadline()
        while true {
            guard let reply = try connection.receive(.replyBy(by)) else { continue }
            if reply == Array("OK".utf8) { return String(decoding: output, as: UTF8.self) }
            if reply.first == UInt8(ascii: "O"), reply.count > 1, let text = RSP.hexDecode(reply.dropFirst()) {
                output += text
                guard output.count <= 1 << 20 else { throw VMIError("\(target): monitor output larger than 1 MiB") }
                continue
            }
            if reply.isEmpty { throw VMIError("\(target): the stub has no monitor commands (qRcmd)") }
            if let text = RSP.hexDecode(reply), !RSP.isError(reply) {
                return String(decoding: output + text, as: UTF8.self)
            }
            throw VMIError("\(target): monitor command failed: the stub replied \(RSP.describe(reply))")
        }
    }

    /// `D;1` (multiprocess) or `D`: the stub removes its state and lets the target run.
    func detach() throws {
        let reply = try connection.request(multiprocess ? "D;1" : "D")
        if reply != Array("OK".utf8) && multiprocess {
            _ = try connection.request("D")
        }
    }
}
