/// `console:FILE`: event channels from the `e` debug-key dump the text holds.
extension ConsoleTarget: EventChannelSource {
    public func eventChannelDump() throws -> DebugKeyEDump {
        do {
            return try DebugKeyEDump.parse(Substring(text))
        } catch let e as VMIError {
            throw VMIError("\(address): \(e.description)")
        }
    }

    public func eventChannels(domain: Int?) throws -> [EventChannel] {
        let dump = try eventChannelDump()
        if dump.domains.isEmpty { throw VMIError("\(address): no 'e' debug-key output (event channel information) in it") }
        let chosen = try domain.map { d -> [DebugKeyEDump.Domain] in
            guard let one = dump.domain(d) else {
                throw VMIError("\(address): no event channel information for domain \(d) "
                    + "(domains: \(dump.domains.map { String($0.domid) }.joined(separator: ", ")))")
            }
            return [one]
        } ?? dump.domains
        return chosen.flatMap { d in d.ports.compactMap { EventChannel(dumped: $0, domid: d.domid, abi: d.abi) } }
    }
}

extension EventChannel {
    /// A port as the `e` dump shows it; nil for ports Xen consumes itself (EVTCHNOP_status
    /// refuses those too) or in a state the guest cannot see (reserved).
    public init?(dumped p: DebugKeyEDump.Port, domid: Int, abi: EventChannelABI?) {
        guard p.xenConsumer == 0, let state = p.state else { return nil }
        self.init(source: .domid(domid), port: p.port)
        self.state = state
        vcpu = p.notifyVCPU
        remoteDomid = p.remoteDomid
        remotePort = p.remotePort
        pirq = p.pirq
        virq = p.virq
        pending = p.pending
        masked = p.masked
        self.abi = abi
    }
}
