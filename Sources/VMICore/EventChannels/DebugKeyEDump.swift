/// Parser for the hypervisor's own event-channel view: the text debug key `e` prints
/// (`xl debug-keys e; xl dmesg`, or `xc_send_debug_keys` + `xc_readconsolering`).
///
/// Format (xen/common/event_channel.c, domain_dump_evtchn_info, Xen 4.17):
/// ```
/// (XEN) 'e' pressed -> dumping event-channel info
/// (XEN) Event channel information for domain 1:
/// (XEN) Polling vCPUs: {}
/// (XEN)     port [p/m/s]
/// (XEN)        1 [0/0/  -   ]: s=3 n=0 x=0 d=0 p=33
/// ```
/// A port line is `%4u [%d/%d/` + the ABI's print_state + `]: s=%d n=%d x=%d` + `d=%d`
/// (unbound), `d=%d p=%d` (interdomain), `p=%d i=%d` (pirq), `v=%d` (virq), then ` Z=...` under
/// XSM. print_state is the selector bit (`%d`, one character) for 2-level (event_2l.c) and six
/// characters for FIFO (event_fifo.c): `?     ` (no event word), `%c %-4u` (linked: busy flag
/// and LINK), `%c -   ` (not linked). `s=` is Xen's ECS_* state, `n=` the notified vCPU, `x=`
/// non-zero for ports Xen itself consumes.
public struct DebugKeyEDump: Equatable, Sendable {
    public var domains: [Domain]

    public struct Domain: Equatable, Sendable {
        public var domid: Int
        public var ports: [Port]

        /// The ABI the print_state column shows; nil when the domain has no port to show it.
        public var abi: EventChannelABI? {
            for p in ports {
                switch p.column {
                case .twoLevel: return .twoLevel
                case .fifo, .fifoNoWord: return .fifo
                }
            }
            return nil
        }

        public func port(_ n: Int) -> Port? { ports.first { $0.port == n } }
    }

    /// The print_state column.
    public enum Column: Equatable, Sendable {
        /// 2-level: the port's selector bit in evtchn_pending_sel.
        case twoLevel(selector: Bool)
        /// FIFO with an event word: BUSY, and LINK when LINKED.
        case fifo(busy: Bool, link: Int?)
        /// FIFO, but the event array page for this port is not there yet.
        case fifoNoWord
    }

    public struct Port: Equatable, Sendable {
        public var port: Int
        public var pending: Bool
        public var masked: Bool
        public var column: Column
        /// ECS_* (`s=`).
        public var ecs: Int
        public var notifyVCPU: Int
        /// Non-zero when Xen consumes the port (`x=`): not the guest's.
        public var xenConsumer: Int
        public var remoteDomid: Int?
        public var remotePort: Int?
        public var pirq: Int?
        public var irq: Int?
        public var virq: Int?

        public var state: EventChannelState? { EventChannelState(ecs: ecs) }
    }

    /// Parses every `e` dump in `text`. A domain shown by several dumps keeps its last one (a
    /// console ring holds every press since boot). Lines that do not belong to a dump are
    /// skipped; a malformed port line inside one is an error that names its line number.
    public static func parse(_ text: Substring) throws -> DebugKeyEDump {
        var order: [Int] = []
        var latest: [Int: Domain] = [:]
        var current: Domain?
        func flush() {
            if let d = current {
                if latest[d.domid] == nil { order.append(d.domid) }
                latest[d.domid] = d
            }
            current = nil
        }
        var lineNumber = 0
        for rawLine in XenConsoleText.lines(text) {
            lineNumber += 1
            let line = XenConsoleText.message(rawLine)
            if line.hasBytePrefix("'e' pressed") {
                flush()
                continue
            }
            if let rest = line.droppingBytes(prefix: "Event channel information for domain ") {
                flush()
                guard rest.utf8.last == UInt8(ascii: ":"), let id = Int(Substring(rest.utf8.dropLast())), id >= 0 else {
                    throw VMIError("line \(lineNumber): bad domain header '\(line)'")
                }
                current = Domain(domid: id, ports: [])
                continue
            }
            guard current != nil else { continue }
            let trimmed = Substring(line.utf8.drop { $0 == UInt8(ascii: " ") })
            if trimmed.hasBytePrefix("Polling vCPUs") || trimmed.hasBytePrefix("port [") { continue }
            guard let first = trimmed.utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
                // Anything else (another key's output, a guest message) ends the domain.
                flush()
                continue
            }
            if trimmed.hasByteSuffix("in flux") { continue }  // a port locked at dump time (Xen >= 4.15)
            current!.ports.append(try parsePort(trimmed, lineNumber))
        }
        flush()
        return DebugKeyEDump(domains: order.map { latest[$0]! })
    }

    public func domain(_ domid: Int) -> Domain? { domains.first { $0.domid == domid } }

    static func parsePort(_ s: Substring, _ lineNumber: Int) throws -> Port {
        func bad(_ why: String) -> VMIError { VMIError("line \(lineNumber): \(why): '\(s)'") }
        let u = s.utf8
        guard let open = u.firstIndex(of: UInt8(ascii: "[")),
            let close = Substring(u[open...]).firstByteRange(of: "]: ")
        else {
            throw bad("not an event-channel line")
        }
        guard let port = Int(Substring(u[..<open]).trimmingSpaces) else { throw bad("bad port number") }
        let bracket = u[u.index(after: open)..<close.lowerBound]
        let parts = bracket.split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: false).map(
            Substring.init)
        guard parts.count == 3, let p = flag(parts[0]), let m = flag(parts[1]) else { throw bad("bad [p/m/s] column") }
        guard let column = Self.column(parts[2]) else { throw bad("bad print_state column '\(parts[2])'") }
        var ecs: Int?
        var n: Int?
        var x: Int?
        var d: Int?
        var pv: Int?
        var i: Int?
        var v: Int?
        for field in u[close.upperBound...].split(separator: UInt8(ascii: " ")) {
            guard let eq = field.firstIndex(of: UInt8(ascii: "=")) else { throw bad("bad field '\(Substring(field))'") }
            let key = field[..<eq]
            if key.elementsEqual("Z".utf8) { break }  // XSM label, free text, last
            guard let value = Int(Substring(field[field.index(after: eq)...])) else {
                throw bad("bad value in '\(Substring(field))'")
            }
            guard key.count == 1 else { continue }
            switch key.first! {
            case UInt8(ascii: "s"): ecs = value
            case UInt8(ascii: "n"): n = value
            case UInt8(ascii: "x"): x = value
            case UInt8(ascii: "d"): d = value
            case UInt8(ascii: "p"): pv = value
            case UInt8(ascii: "i"): i = value
            case UInt8(ascii: "v"): v = value
            default: break
            }
        }
        guard let ecs, let n, let x else { throw bad("missing s=, n= or x=") }
        var out = Port(port: port, pending: p, masked: m, column: column, ecs: ecs, notifyVCPU: n, xenConsumer: x)
        switch EventChannelState(ecs: ecs) {
        case .unbound: out.remoteDomid = d
        case .interdomain:
            out.remoteDomid = d
            out.remotePort = pv
        case .pirq:
            out.pirq = pv
            out.irq = i
        case .virq: out.virq = v
        case .ipi, nil: break
        }
        return out
    }

    static func flag(_ s: Substring) -> Bool? {
        switch s {
        case "0": return false
        case "1": return true
        default: return nil
        }
    }

    static func column(_ s: Substring) -> Column? {
        let u = s.utf8
        if u.count == 1 { return flag(s).map { .twoLevel(selector: $0) } }
        guard u.count >= 6, let lead = u.first else { return nil }
        let after = u.dropFirst()
        if lead == UInt8(ascii: "?") { return after.allSatisfy { $0 == UInt8(ascii: " ") } ? .fifoNoWord : nil }
        guard lead == UInt8(ascii: "B") || lead == UInt8(ascii: " "), after.first == UInt8(ascii: " ") else {
            return nil
        }
        let busy = lead == UInt8(ascii: "B")
        let rest = Substring(after.dropFirst()).trimmingSpaces
        if rest == "-" { return .fifo(busy: busy, link: nil) }
        guard let link = Int(rest), link >= 0 else { return nil }
        return .fifo(busy: busy, link: link)
    }
}
