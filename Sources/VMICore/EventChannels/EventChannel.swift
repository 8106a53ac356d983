/// What a port is bound to: EVTCHNSTAT_* of xen/include/public/event_channel.h (closed ports
/// are never reported).
public enum EventChannelState: String, Sendable, CaseIterable {
    case unbound, interdomain, pirq, virq, ipi

    /// From `evtchn_status.status` (EVTCHNSTAT_unbound 1 ... EVTCHNSTAT_ipi 5); nil for closed (0).
    public init?(evtchnStat: UInt32) {
        switch evtchnStat {
        case 1: self = .unbound
        case 2: self = .interdomain
        case 3: self = .pirq
        case 4: self = .virq
        case 5: self = .ipi
        default: return nil
        }
    }

    /// From Xen's internal `ECS_*` value that the `e` debug key prints as `s=` (xen/include/xen/
    /// sched.h: FREE 0, RESERVED 1, UNBOUND 2, INTERDOMAIN 3, PIRQ 4, VIRQ 5, IPI 6): the same
    /// order as EVTCHNSTAT_*, one higher.
    public init?(ecs: Int) {
        guard ecs >= 2 && ecs <= 6 else { return nil }
        self.init(evtchnStat: UInt32(ecs - 1))
    }
}

/// The event-channel ABI a guest chose: 2-level bitmaps in shared_info, or FIFO event words.
public enum EventChannelABI: String, Sendable {
    case twoLevel = "2-level"
    case fifo
}

/// One open port as a source knows it. Fields a source cannot know stay nil and are left out
/// of the record, never guessed.
public struct EventChannel: Equatable, Sendable {
    public var source: RecordIdentity
    public var port: Int
    public var state: EventChannelState?
    /// The vCPU notified when the port fires.
    public var vcpu: Int?
    public var remoteDomid: Int?
    public var remotePort: Int?
    public var pirq: Int?
    public var virq: Int?
    public var pending: Bool?
    public var masked: Bool?
    public var abi: EventChannelABI?
    /// FIFO queue priority (0 highest .. 15), known only where the control block was walked.
    public var priority: Int?

    public init(source: RecordIdentity, port: Int) {
        self.source = source
        self.port = port
    }

    /// `{"type":"evtchn","domid":5,"port":1,"state":"interdomain","vcpu":0,"remote_domid":0,...}`
    public func record() -> JSONLine {
        var line = JSONLine(type: "evtchn", capacity: 192)
        source.write(to: &line)
        line.field("port", port)
        if let state { line.field("state", state.rawValue) }
        if let vcpu { line.field("vcpu", vcpu) }
        if let remoteDomid { line.field("remote_domid", remoteDomid) }
        if let remotePort { line.field("remote_port", remotePort) }
        if let pirq { line.field("pirq", pirq) }
        if let virq { line.field("virq", virq) }
        if let pending { line.field("pending", pending) }
        if let masked { line.field("masked", masked) }
        if let abi { line.field("abi", abi.rawValue) }
        if let priority { line.field("priority", priority) }
        line.finish()
        return line
    }

    /// An lsevtchn-like line: `   1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 26 pending`.
    public func textLine() -> String {
        let number = String(port)
        var out = String(repeating: " ", count: max(0, 4 - number.count)) + number + ":"
        if let vcpu { out += " VCPU \(vcpu):" }
        switch state {
        case .unbound: out += " Interdomain (Waiting connection) - Remote Domain \(remoteDomid.map(String.init) ?? "?")"
        case .interdomain:
            out += " Interdomain (Connected) - Remote Domain \(remoteDomid.map(String.init) ?? "?"), "
                + "Port \(remotePort.map(String.init) ?? "?")"
        case .pirq: out += " Physical IRQ \(pirq.map(String.init) ?? "?")"
        case .virq: out += " Virtual IRQ \(virq.map(String.init) ?? "?")"
        case .ipi: out += " IPI"
        case nil: break
        }
        if pending == true { out += " pending" }
        if masked == true { out += " masked" }
        return out + "\n"
    }
}

extension EventChannel {
    /// The line `--text` prints before the ports of each source: `domain 5 (fifo):`.
    public func textHeader() -> String {
        let who: String
        switch source {
        case .domid(let d): who = "domain \(d)"
        case .target(let t): who = t
        }
        return abi.map { "\(who) (\($0.rawValue)):\n" } ?? "\(who):\n"
    }
}
