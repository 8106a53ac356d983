/// A GDB remote stub as a target (QEMU `-gdb`, Xen gdbsx): every vCPU is a thread.
///
/// Attaching stops the VM (QEMU does so on connect); `close()` removes every breakpoint and
/// watchpoint we inserted, restores the stub modes we changed and detaches (`D;1`), which lets
/// the VM run. Note that QEMU stops a running VM on any byte it receives, so nothing is ever
/// sent to a running target but the interrupt.
public final class GDBTarget: TargetDriver, RegisterReader, RegisterWriter, PhysicalMemory {
    public let address: TargetAddress
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "gdb remote stub" }

    let client: GDBClient
    /// vCPUs in the stub's thread order: vCPU n is `threads[n]`.
    public private(set) var threads: [RSPThreadID]
    /// Whether the target runs (we resumed it and saw no stop since).
    var running = false
    /// Breakpoints and watchpoints we inserted, removed on close.
    var inserted: [Point] = []
    /// QEMU step flags before we changed them.
    var savedStepFlags: UInt64?
    private var closed = false

    struct Point: Equatable {
        var kind: GDBClient.PointKind
        var address: UInt64
        var length: UInt64
    }

    init(_ endpoint: TargetAddress.GDBEndpoint, address: TargetAddress, timeout: Double) throws {
        self.address = address
        let transport = try RSPTransport(endpoint, timeout: timeout)
        client = GDBClient(connection: RSPConnection(target: address, transport: transport, timeout: timeout))
        threads = []
        do {
            try client.handshake()
            threads = try client.threads()
        } catch {
            close()
            throw error
        }
    }

    public var arch: Architecture { client.registerMap.arch }

    /// The stub's packet size and memory-read piece (for benchmarks and messages).
    public var packetSize: Int { client.packetSize }
    public var readChunk: Int { client.readChunk }

    // MARK: lifecycle

    public func close() {
        guard !closed else { return }
        closed = true
        let c = client.connection
        c.teardownDeadline = monotonicSeconds() + c.timeout
        if c.dead == nil {
            // Each step is best effort: a stub that fails one still gets the others.
            if running {
                _ = try? client.interrupt()
                running = false
            }
            for p in inserted.reversed() {
                try? client.setPoint(p.kind, p.address, length: p.length, insert: false)
            }
            inserted = []
            if let flags = savedStepFlags { try? client.setStepFlags(flags) }
            if client.physicalMode { try? c.expectOK("Qqemu.PhyMemMode:0") }
            try? client.detach()
            try? c.flushAck()
        }
        c.transport.close()
    }

    deinit { close() }

    func ensureOpen() throws {
        if closed { throw VMIError("\(address): the connection is closed") }
    }

    /// Stops the target if we let it run (so packets can be sent again).
    func ensureStopped() throws {
        try ensureOpen()
        if running {
            _ = try client.interrupt()
            running = false
        }
    }

    func thread(ofVCPU vcpu: Int) throws -> RSPThreadID {
        guard threads.indices.contains(vcpu) else {
            throw VMIError(
                "\(address) has no vcpu \(vcpu) (vcpus: \(threads.indices.map(String.init).joined(separator: ", ")))")
        }
        return threads[vcpu]
    }

    /// The vCPU a stop names (the first when it names none or one we do not know).
    func vcpu(of stop: StopReply.Stop) -> Int {
        guard let t = stop.thread.flatMap({ RSPThreadID(parsing: Array($0.utf8)) }) else { return 0 }
        return threads.firstIndex { $0.tid == t.tid && ($0.pid == nil || t.pid == nil || $0.pid == t.pid) } ?? 0
    }

    // MARK: registers

    public func vcpus() throws -> [Int] { Array(threads.indices) }

    public func registers(vcpu: Int) throws -> RegisterSet {
        try ensureStopped()
        try client.select(try thread(ofVCPU: vcpu))
        var set = try client.readRegisters()
        set.vcpu = vcpu
        return set
    }

    /// The `g` block only: one round trip (what a step record needs).
    func coreRegisters(vcpu: Int) throws -> RegisterSet {
        try client.select(try thread(ofVCPU: vcpu))
        var set = try client.readRegisters(coreOnly: true)
        set.vcpu = vcpu
        return set
    }

    public func setRegisters(vcpu: Int, _ values: [(name: String, value: UInt64)]) throws {
        try ensureStopped()
        try client.select(try thread(ofVCPU: vcpu))
        try client.writeRegisters(values)
    }

    // MARK: memory

    public func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        try ensureStopped()
        return try client.readMemory(address, count: count, physical: true)
    }

    /// Guest-virtual memory as `vcpu` sees it (its page tables).
    public func readVirtual(_ address: UInt64, count: Int, vcpu: Int = 0) throws -> [UInt8] {
        try ensureStopped()
        try client.select(try thread(ofVCPU: vcpu))
        return try client.readMemory(address, count: count, physical: false)
    }

    /// A monitor command (QEMU: HMP through `qRcmd`), its output as text.
    public func monitorCommand(_ command: String) throws -> String {
        try ensureStopped()
        return try client.monitor(command)
    }

    // MARK: points

    /// Breakpoint "length" in Z0/Z1 is the instruction kind: 1 byte on x86, 4 on AArch64.
    var breakpointKind: UInt64 { arch == .x86_64 ? 1 : 4 }

    func insert(_ p: Point) throws {
        try client.setPoint(p.kind, p.address, length: p.length, insert: true)
        inserted.append(p)
    }

    func remove(_ p: Point) throws {
        guard let i = inserted.firstIndex(of: p) else { return }
        try client.setPoint(p.kind, p.address, length: p.length, insert: false)
        inserted.remove(at: i)
    }

    func breakpoints(at address: UInt64) -> [Point] {
        inserted.filter { ($0.kind == .software || $0.kind == .hardware) && $0.address == address }
    }

    /// Moves `vcpu` past a breakpoint of ours it sits on: remove, step, reinsert (a plain
    /// continue would report the same breakpoint again).
    func stepOverBreakpoints(vcpu: Int, pc: UInt64) throws -> StopReply.Stop? {
        let here = breakpoints(at: pc)
        guard !here.isEmpty else { return nil }
        for p in here { try remove(p) }
        let stop = try client.step(try thread(ofVCPU: vcpu))
        for p in here { try insert(p) }
        return stop
    }

    func enableStepFlags() throws {
        if savedStepFlags == nil { savedStepFlags = try client.configureStepFlags() }
    }
}
