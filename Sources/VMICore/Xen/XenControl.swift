#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// Owns an `xc_interface` (the privileged control interface, /dev/xen/privcmd) and the quiet
/// logger it reports through; both are released by `deinit`. Every method wraps one libxenctrl
/// call through `XenCall`.
final class XenControl {
    let handle: OpaquePointer
    let logger: UnsafeMutablePointer<xentoollog_logger>

    /// `xc_interface_open`. ENOENT: not a Xen dom0; EACCES/EPERM: not root.
    init() throws {
        let logger = cxen_quiet_logger()!
        do {
            handle = try XenCall.pointer("xc_interface_open") { xc_interface_open(logger, logger, 0) }
        } catch {
            cxen_logger_destroy(logger)
            throw error
        }
        self.logger = logger
    }

    deinit {
        xc_interface_close(handle)
        cxen_logger_destroy(logger)
    }

    /// `xc_domain_getinfolist`: up to `count` domains from `first` on, in domid order.
    func domainInfo(from first: UInt32, count: Int) throws -> [xc_domaininfo_t] {
        var infos = [xc_domaininfo_t](repeating: xc_domaininfo_t(), count: count)
        let n = try XenCall.check("xc_domain_getinfolist") {
            xc_domain_getinfolist(handle, first, UInt32(count), &infos)
        }
        return Array(infos.prefix(Int(n)))
    }

    /// One domain's info, or nil when no domain has that id.
    func domainInfo(_ domid: UInt32) throws -> xc_domaininfo_t? {
        try domainInfo(from: domid, count: 1).first { UInt32($0.domain) == domid }
    }

    /// `xc_vcpu_getinfo`: whether the vCPU is online.
    func vcpuOnline(_ domid: UInt32, _ vcpu: UInt32) throws -> Bool {
        var info = xc_vcpuinfo_t()
        try XenCall.check("xc_vcpu_getinfo") { xc_vcpu_getinfo(handle, domid, vcpu, &info) }
        return info.online != 0
    }

    /// `xc_vcpu_getcontext`: a PV vCPU's `vcpu_guest_context` as bytes.
    func vcpuContext(_ domid: UInt32, _ vcpu: UInt32) throws -> [UInt8] {
        var ctx = vcpu_guest_context_any_t()
        try XenCall.check("xc_vcpu_getcontext") { xc_vcpu_getcontext(handle, domid, vcpu, &ctx) }
        return withUnsafeBytes(of: &ctx) { Array($0.prefix(XenX86Context.pvContextSize)) }
    }

    /// `xc_vcpu_setcontext` with a context previously read and edited.
    func setVCPUContext(_ domid: UInt32, _ vcpu: UInt32, _ bytes: [UInt8]) throws {
        var ctx = vcpu_guest_context_any_t()
        withUnsafeMutableBytes(of: &ctx) { raw in
            raw.copyBytes(from: bytes.prefix(min(bytes.count, raw.count)))
        }
        try XenCall.check("xc_vcpu_setcontext") { xc_vcpu_setcontext(handle, domid, vcpu, &ctx) }
    }

    /// `xc_domain_hvm_getcontext_partial`: one save record (typecode, instance).
    func hvmRecord(_ domid: UInt32, typecode: UInt16, instance: UInt16, size: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: size)
        try XenCall.check("xc_domain_hvm_getcontext_partial") {
            xc_domain_hvm_getcontext_partial(handle, domid, typecode, instance, &buffer, UInt32(size))
        }
        return buffer
    }

    /// `xc_domain_hvm_getcontext`: the whole HVM save image (size asked first).
    func hvmContext(_ domid: UInt32) throws -> [UInt8] {
        let size = try XenCall.check("xc_domain_hvm_getcontext") { xc_domain_hvm_getcontext(handle, domid, nil, 0) }
        var buffer = [UInt8](repeating: 0, count: Int(size))
        let used = try XenCall.check("xc_domain_hvm_getcontext") {
            xc_domain_hvm_getcontext(handle, domid, &buffer, UInt32(size))
        }
        return Array(buffer.prefix(Int(used)))
    }

    /// `xc_domain_hvm_setcontext`.
    func setHVMContext(_ domid: UInt32, _ image: [UInt8]) throws {
        var image = image
        try XenCall.check("xc_domain_hvm_setcontext") {
            xc_domain_hvm_setcontext(handle, domid, &image, UInt32(image.count))
        }
    }

    func pause(_ domid: UInt32) throws { try XenCall.check("xc_domain_pause") { xc_domain_pause(handle, domid) } }

    func unpause(_ domid: UInt32) throws { try XenCall.check("xc_domain_unpause") { xc_domain_unpause(handle, domid) } }

    /// `xc_evtchn_status` (EVTCHNOP_status) of one port.
    func evtchnStatus(_ domid: UInt32, port: UInt32) throws -> xc_evtchn_status_t {
        var status = xc_evtchn_status_t()
        status.dom = domid_t(truncatingIfNeeded: domid)
        status.port = port
        try XenCall.check("xc_evtchn_status") { xc_evtchn_status(handle, &status) }
        return status
    }

    /// `xc_send_debug_keys`.
    func sendDebugKeys(_ keys: String) throws {
        try XenCall.check("xc_send_debug_keys") { xc_send_debug_keys(handle, keys) }
    }

    /// `xc_readconsolering`, incremental from `index`: the text written since, and the index to
    /// continue from. Reads in chunks until the ring has nothing more, at most `limit` bytes.
    func readConsole(from index: UInt32, limit: Int = 64 << 20) throws -> (text: [UInt8], index: UInt32) {
        var out: [UInt8] = []
        var idx = index
        let chunk = 1 << 20
        var buffer = [CChar](repeating: 0, count: chunk)
        while out.count < limit {
            var count = UInt32(chunk)
            try XenCall.check("xc_readconsolering") { xc_readconsolering(handle, &buffer, &count, 0, 1, &idx) }
            if count == 0 { break }
            out.append(contentsOf: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) })
            if count < UInt32(chunk) { break }
        }
        return (out, idx)
    }
}

extension xc_domaininfo_t {
    /// Being destroyed: gone for every purpose of ours, though Xen still lists it.
    var isDying: Bool { flags & UInt32(XEN_DOMINF_dying) != 0 }
}
#endif
