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
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = consoleMessage(rawLine)
            if line.hasPrefix("'e' pressed") {
                flush()
                continue
            }
            if let rest = line.stripping(prefix: "Event channel information for domain ") {
                flush()
                guard rest.hasSuffix(":"), let id = Int(rest.dropLast()), id >= 0 else {
                    throw VMIError("line \(lineNumber): bad domain header '\(line)'")
                }
                current = Domain(domid: id, ports: [])
                continue
            }
            guard current != nil else { continue }
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("Polling vCPUs") || trimmed.hasPrefix("port [") { continue }
            guard let first = trimmed.first, first.isASCIIDigit else {
                // Anything else (another key's output, a guest message) ends the domain.
                flush()
                continue
            }
            if trimmed.hasSuffix("in flux") { continue }  // a port locked at dump time (Xen >= 4.15)
            current!.ports.append(try parsePort(trimmed, lineNumber))
        }
        flush()
        return DebugKeyEDump(domains: order.map { latest[$0]! })
    }

    public func domain(_ domid: Int) -> Domain? { domains.first { $0.domid == domid } }

    /// The text after Xen's `(XEN) ` prefix and optional `[  12.345678] ` timestamp; the line
    /// itself when it has no prefix (text pasted from elsewhere).
    static func consoleMessage(_ line: Substring) -> Substring {
        var s = line
        if s.hasSuffix("\r") { s = s.dropLast() }
        if let r = s.firstRange(of: "(XEN) ") { s = s[r.upperBound...] }
        if s.hasPrefix("["), let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(" ") {
            let stamp = s[s.index(after: s.startIndex)..<close]
            if stamp.allSatisfy({ $0 == " " || $0 == "." || $0.isASCIIDigit }) { s = s[s.index(close, offsetBy: 2)...] }
        }
        return s
    }

    static func parsePort(_ s: Substring, _ lineNumber: Int) throws -> Port {
        func bad(_ why: String) -> VMIError { VMIError("line \(lineNumber): \(why): '\(s)'") }
        guard let open = s.firstIndex(of: "["), let close = s[open...].firstRange(of: "]: ") else {
            throw bad("not an event-channel line")
        }
        guard let port = Int(s[..<open].trimmingSpaces) else { throw bad("bad port number") }
        let bracket = s[s.index(after: open)..<close.lowerBound]
        let parts = bracket.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let p = flag(parts[0]), let m = flag(parts[1]) else { throw bad("bad [p/m/s] column") }
        guard let column = Self.column(parts[2]) else { throw bad("bad print_state column '\(parts[2])'") }
        var values: [Substring: Int] = [:]
        for token in s[close.upperBound...].split(separator: " ") {
            guard let eq = token.firstIndex(of: "=") else { throw bad("bad field '\(token)'") }
            let key = token[..<eq]
            if key == "Z" { break }  // XSM label, free text, last
            guard let v = Int(token[token.index(after: eq)...]) else { throw bad("bad value in '\(token)'") }
            values[key] = v
        }
        guard let ecs = values["s"], let n = values["n"], let x = values["x"] else { throw bad("missing s=, n= or x=") }
        var out = Port(port: port, pending: p, masked: m, column: column, ecs: ecs, notifyVCPU: n, xenConsumer: x)
        switch EventChannelState(ecs: ecs) {
        case .unbound: out.remoteDomid = values["d"]
        case .interdomain: out.remoteDomid = values["d"]; out.remotePort = values["p"]
        case .pirq: out.pirq = values["p"]; out.irq = values["i"]
        case .virq: out.virq = values["v"]
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
        if s.count == 1 { return flag(s).map { .twoLevel(selector: $0) } }
        guard s.count >= 6 else { return nil }
        if s.first == "?" { return s.dropFirst().allSatisfy { $0 == " " } ? .fifoNoWord : nil }
        let chars = Array(s)
        guard chars[0] == "B" || chars[0] == " ", chars[1] == " " else { return nil }
        let rest = String(chars[2...]).trimmingSpaces
        if rest == "-" { return .fifo(busy: chars[0] == "B", link: nil) }
        guard let link = Int(rest), link >= 0 else { return nil }
        return .fifo(busy: chars[0] == "B", link: link)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
