#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Live event channels of a Xen domain.
///
/// Port states come from EVTCHNOP_status (`xc_evtchn_status`), enumerated from port 0 until
/// EINVAL, skipping EACCES (ports Xen consumes itself). The ABI is read from the hypervisor's
/// own view, debug key `e` (its print_state column differs between 2-level and FIFO), not
/// assumed. Pending/masked then come from the 2-level bitmaps in shared_info (mapped read-only)
/// for a 2-level guest, and from the `e` dump for a FIFO guest, whose event-word pages no
/// hypercall reveals to dom0.
extension XenDomainTarget: EventChannelSource {
    public func eventChannels(domain: Int?) throws -> [EventChannel] {
        if let d = domain, d != Int(domid) {
            throw VMIError("--domain \(d) does not match \(label) (domid \(domid))")
        }
        var ports = try xen("list event channels") { try openPorts() }
        let view = try xen("read the hypervisor's event-channel view (debug key e)") { try hypervisorView() }
        var abi = view?.abi
        var bitmaps: TwoLevelBitmaps?
        if abi == .twoLevel || view == nil {
            bitmaps = try xen("map shared_info") { try TwoLevelBitmaps(sharedInfo: try sharedInfoPage()) }
            // Without the dump (a console ring too small for it), set mask bits are the
            // evidence of a 2-level guest: a FIFO guest never writes them.
            if view == nil, let b = bitmaps, !b.isEmpty { abi = .twoLevel }
        }
        for i in ports.indices {
            ports[i].abi = abi
            switch abi {
            case .twoLevel?:
                ports[i].pending = bitmaps!.isPending(ports[i].port)
                ports[i].masked = bitmaps!.isMasked(ports[i].port)
            case .fifo?:
                if let p = view?.port(ports[i].port) {
                    ports[i].pending = p.pending
                    ports[i].masked = p.masked
                }
            case nil:
                break
            }
        }
        return ports
    }

    /// Every open port's state, vCPU and peer.
    func openPorts() throws -> [EventChannel] {
        var out: [EventChannel] = []
        var port: UInt32 = 0
        while port < UInt32(EventWord.maxPorts) {
            defer { port += 1 }
            let status: xc_evtchn_status_t
            do {
                status = try control.evtchnStatus(domid, port: port)
            } catch let e as XenCallError where e.errno == EINVAL {
                break  // past the highest port
            } catch let e as XenCallError where e.errno == EACCES {
                continue  // consumed by Xen
            }
            guard let state = EventChannelState(evtchnStat: status.status) else { continue }
            var c = EventChannel(source: recordIdentity, port: Int(port))
            c.state = state
            c.vcpu = Int(status.vcpu)
            switch state {
            case .unbound: c.remoteDomid = Int(status.u.unbound.dom)
            case .interdomain:
                c.remoteDomid = Int(status.u.interdomain.dom)
                c.remotePort = Int(status.u.interdomain.port)
            case .pirq: c.pirq = Int(status.u.pirq)
            case .virq: c.virq = Int(status.u.virq)
            case .ipi: break
            }
            out.append(c)
        }
        return out
    }

    /// Presses debug key `e` and parses the last dump in the console ring for this domain;
    /// nil when the ring no longer holds this domain's part of it.
    func hypervisorView() throws -> DebugKeyEDump.Domain? {
        try control.sendDebugKeys("e")
        let ring = try control.readConsole(from: 0).text
        let marker = Array("'e' pressed".utf8)
        let start = lastIndex(of: marker, in: ring) ?? 0
        let text = String(decoding: ring[start...], as: UTF8.self)
        return try DebugKeyEDump.parse(Substring(text)).domain(Int(domid))
    }

    /// The shared_info page: `shared_info_frame` is a machine frame for PV guests and a guest
    /// frame for HVM/PVH ones, which is what the foreign mapping takes for each.
    func sharedInfoPage() throws -> [UInt8] {
        guard sharedInfoFrame != UInt64.max, sharedInfoFrame != UInt64(UInt32.max) else {
            throw VMIError("\(label) has not mapped its shared_info page")
        }
        return try foreignMemory().read(sharedInfoFrame << 12, count: ForeignMemory.pageSize)
    }
}

func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count, let first = needle.first else { return nil }
    var i = haystack.count - needle.count
    while i >= 0 {
        if haystack[i] == first && haystack[i..<i + needle.count].elementsEqual(needle) { return i }
        i -= 1
    }
    return nil
}
#endif
