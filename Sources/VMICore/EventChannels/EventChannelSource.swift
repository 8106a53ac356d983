/// A target that can list its event channels (`vmi-evtchn`).
public protocol EventChannelSource: TargetDriver {
    /// Open ports in port order. `domain` picks one domain where the source holds several
    /// (console text); nil means all of them.
    func eventChannels(domain: Int?) throws -> [EventChannel]
}

/// A target holding a copy of a domain's shared_info page (an `xl dump-core` file's
/// `.xen_shared_info` section): enough for the 2-level pending and mask bitmaps, though not
/// for port states. A dump reader adopts it in one line and gets `EventChannelSource` for free.
public protocol SharedInfoSource: TargetDriver {
    func sharedInfoPage() throws -> [UInt8]
}

extension SharedInfoSource {
    /// Ports the 2-level bitmaps show in use: pending, or unmasked (a guest masks every port it
    /// has not bound). State, vCPU and peers are not in shared_info and are left out.
    public func eventChannels(domain: Int?) throws -> [EventChannel] {
        let bitmaps = try TwoLevelBitmaps(sharedInfo: try sharedInfoPage())
        if bitmaps.isEmpty {
            throw VMIError("\(address): the event-channel bitmaps in shared_info are all zero: the guest uses "
                + "the FIFO ABI (or never booted), whose event words a dump does not locate")
        }
        return (1..<TwoLevelBitmaps.ports).compactMap { port in
            let pending = bitmaps.isPending(port), masked = bitmaps.isMasked(port)
            guard pending || !masked else { return nil }
            var c = EventChannel(source: recordIdentity, port: port)
            c.pending = pending
            c.masked = masked
            c.abi = .twoLevel
            return c
        }
    }
}

/// The one call `vmi-evtchn` makes: whichever way the target knows its event channels.
public func listEventChannels(_ driver: TargetDriver, domain: Int?) throws -> [EventChannel] {
    if let source = driver as? EventChannelSource { return try source.eventChannels(domain: domain) }
    if let dump = driver as? SharedInfoSource { return try dump.eventChannels(domain: domain) }
    throw VMIError.unsupported(driver.address, "list event channels", because: driver.kindDescription)
}
