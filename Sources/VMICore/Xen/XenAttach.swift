#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Finds a domain by name, id or uuid and attaches to it, optionally waiting for it to appear
/// (`--wait`: a xenstore watch on `@introduceDomain`).
enum XenAttach {
    static let notDom0 = "not a Xen dom0: run this in dom0 as root, or use core:/gdb: targets"

    static func open(_ ref: TargetAddress.XenDomainRef, address: TargetAddress, options: AttachOptions) throws
        -> XenDomainTarget
    {
        let label = "cannot attach to domain '\(ref)'"
        do {
            let control = try XenControl()
            // Names and uuids need xenstore; an id does not (and xenstored may be absent).
            let store: XenStore? = {
                if case .id = ref, options.waitSeconds == nil { return nil }
                return try? XenStore()
            }()
            if store == nil, !isID(ref) { throw VMIError("\(label): cannot connect to xenstore") }
            let deadline = options.waitSeconds.map { monotonicSeconds() + $0 }
            var watching = false
            while true {
                // While waiting, a domain counts once it is built: its name is in xenstore before
                // that, while vCPU 0 is still down with no context. (Not xs_is_domain_introduced:
                // Debian's 4.17 libxenstore dereferences a failed reply there and crashes.)
                var building = false
                if let (info, name) = try resolve(ref, control: control, store: store) {
                    building = deadline != nil && (try? control.vcpuOnline(UInt32(info.domain), 0)) != true
                    if !building {
                        if info.isDying { throw VMIError("\(label): domain is dying") }
                        return XenDomainTarget(address: address, domid: UInt32(info.domain), name: name, info: info,
                            control: control)
                    }
                }
                guard let deadline, let store else { throw VMIError("\(label): no such domain") }
                let remaining = deadline - monotonicSeconds()
                if remaining <= 0 {
                    let why = building ? "still being built" : "no such domain"
                    throw VMIError("\(label): \(why) (waited \(formatSeconds(options.waitSeconds!)))")
                }
                if !watching {
                    try store.watch("@introduceDomain")
                    watching = true
                }
                // Re-check at least twice a second: a name is written after the introduction.
                _ = try store.waitForWatch(seconds: min(remaining, 0.5))
            }
        } catch let e as XenCallError {
            switch e.errno {
            case ENOENT where e.call == "xc_interface_open": throw VMIError(notDom0)
            case EACCES, EPERM: throw VMIError("\(label): permission denied: run this as root in dom0 (\(e.call))")
            default: throw VMIError("\(label): \(e)")
            }
        }
    }

    static func isID(_ ref: TargetAddress.XenDomainRef) -> Bool {
        if case .id = ref { return true }
        return false
    }

    /// The domain's info and xenstore name, or nil when no domain matches.
    static func resolve(_ ref: TargetAddress.XenDomainRef, control: XenControl, store: XenStore?) throws
        -> (xc_domaininfo_t, String?)?
    {
        func name(_ id: UInt16) throws -> String? { try store?.read("/local/domain/\(id)/name") }
        switch ref {
        case .id(let id):
            guard let info = try control.domainInfo(id) else { return nil }
            return (info, try name(info.domain))
        case .name(let wanted):
            for info in try allDomains(control) where try name(info.domain) == wanted {
                return (info, wanted)
            }
            return nil
        case .uuid(let wanted):
            for info in try allDomains(control) where uuidString(info.handle) == wanted {
                return (info, try name(info.domain))
            }
            return nil
        }
    }

    static func allDomains(_ control: XenControl) throws -> [xc_domaininfo_t] {
        var out: [xc_domaininfo_t] = []
        var next: UInt32 = 0
        while next < 0x7FF0 {
            let batch = try control.domainInfo(from: next, count: 256)
            out += batch
            guard let last = batch.last, batch.count == 256 else { break }
            next = UInt32(last.domain) + 1
        }
        return out
    }

    /// `xen_domain_handle_t` (16 bytes) as the lowercase 8-4-4-4-12 form xl prints.
    static func uuidString(_ handle: xen_domain_handle_t) -> String {
        let bytes = withUnsafeBytes(of: handle) { Array($0) }
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}
#endif
