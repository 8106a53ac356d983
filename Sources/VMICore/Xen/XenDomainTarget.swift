#if canImport(CXen)
import CXen
#if canImport(Glibc)
import Glibc
#endif

/// A live Xen domain, attached from dom0: registers of every vCPU (PV: `xc_vcpu_getcontext`;
/// HVM/PVH: the CPU save record), register writes, and guest memory through foreign mappings.
///
/// dom0 itself can be named (its event channels are listed) but its registers and memory are
/// refused: they belong to the kernel running this tool.
public final class XenDomainTarget: TargetDriver, RegisterReader, RegisterWriter, PhysicalMemory {
    public let address: TargetAddress
    public let domid: UInt32
    public let name: String?
    /// HVM or PVH (`XEN_DOMINF_hvm_guest`); PV otherwise.
    public let isHVM: Bool
    /// `shared_info_frame` of the domain info: a machine frame for PV, a guest frame for HVM.
    public let sharedInfoFrame: UInt64
    let control: XenControl
    private var memory: ForeignMemory?

    public var recordIdentity: RecordIdentity { .domid(Int(domid)) }
    public var kindDescription: String { "Xen domain" }

    init(address: TargetAddress, domid: UInt32, name: String?, info: xc_domaininfo_t, control: XenControl) {
        self.address = address
        self.domid = domid
        self.name = name
        self.isHVM = info.flags & UInt32(XEN_DOMINF_hvm_guest) != 0
        self.sharedInfoFrame = info.shared_info_frame
        self.control = control
    }

    public func close() { memory = nil }

    /// How messages name the domain: `'web01'` (as the user wrote it) or its id.
    var label: String { "domain '\(address.xenLabel)'" }

    // MARK: registers

    public func vcpus() throws -> [Int] {
        let info = try xen("list vcpus") { try control.domainInfo(domid) }
        guard let info else { throw gone() }
        if info.max_vcpu_id == UInt32.max { return [] }
        return try (0...info.max_vcpu_id).filter { v in try xen("list vcpus") { try control.vcpuOnline(domid, v) } }
            .map(Int.init)
    }

    public func registers(vcpu: Int) throws -> RegisterSet {
        try refuseDom0("read registers")
        let v = try vcpuNumber(vcpu)
        return try xen("read registers of vcpu \(vcpu)") {
            if isHVM {
                let record = try control.hvmRecord(domid, typecode: cxen_hvm_save_code_cpu, instance: v,
                    size: XenX86Context.hvmCPUSize)
                return try XenX86Context.hvmRegisters(record, vcpu: vcpu)
            }
            try requireSixtyFourBitPV()
            return try XenX86Context.pvRegisters(try control.vcpuContext(domid, UInt32(v)), vcpu: vcpu)
        }
    }

    /// Pauses the domain, writes, and unpauses it whatever happened in between.
    public func setRegisters(vcpu: Int, _ values: [(name: String, value: UInt64)]) throws {
        try refuseDom0("write registers")
        let v = try vcpuNumber(vcpu)
        try xen("write registers of vcpu \(vcpu)") {
            try control.pause(domid)
            do {
                if isHVM { try writeHVM(v, values) } else { try writePV(v, values) }
            } catch {
                try? control.unpause(domid)
                throw error
            }
            try control.unpause(domid)
        }
    }

    /// Reads the vCPU's registers and writes what `change` makes of them, the domain paused
    /// throughout: a value computed from a register (DR7, RFLAGS) cannot undo what the guest
    /// wrote there in between. Writes nothing when `change` returns no values.
    func updateRegisters(vcpu: Int, _ change: (RegisterSet) throws -> [(name: String, value: UInt64)]) throws {
        try xen("pause to write registers of vcpu \(vcpu)") { try control.pause(domid) }
        defer { try? control.unpause(domid) }
        let values = try change(try registers(vcpu: vcpu))
        if !values.isEmpty { try setRegisters(vcpu: vcpu, values) }
    }

    private func writePV(_ vcpu: UInt16, _ values: [(name: String, value: UInt64)]) throws {
        try requireSixtyFourBitPV()
        var context = try control.vcpuContext(domid, UInt32(vcpu))
        try XenX86Context.setPV(&context, values)
        try control.setVCPUContext(domid, UInt32(vcpu), context)
    }

    /// Loads HEADER + this vCPU's CPU record + END, never the whole image (see HVMSaveImage).
    /// The guest TSC in the record is carried forward by the time the round trip took (measured
    /// from before the save, so it errs forward, never back).
    private func writeHVM(_ vcpu: UInt16, _ values: [(name: String, value: UInt64)]) throws {
        let saved = monotonicNanoseconds()
        let records = try HVMSaveImage.records(try control.hvmContext(domid))
        let header = try HVMSaveImage.find(records, typecode: HVMSaveImage.header, instance: 0)
        var cpu = try HVMSaveImage.find(records, typecode: HVMSaveImage.cpu, instance: vcpu)
        try XenX86Context.setHVM(&cpu.payload, values)
        try XenX86Context.advanceTSC(&cpu.payload, nanoseconds: monotonicNanoseconds() - saved,
            khz: try HVMSaveImage.guestTSCkHz(header: header))
        try control.setHVMContext(domid, HVMSaveImage.build([header, cpu]))
    }

    private func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private func requireSixtyFourBitPV() throws {
        var width: UInt32 = 0
        try XenCall.check("xc_domain_get_guest_width") { xc_domain_get_guest_width(control.handle, domid, &width) }
        if width != 8 { throw VMIError.unsupported(address, "read registers", because: "32-bit PV guest") }
    }

    // MARK: memory

    /// Guest-physical bytes; for a PV guest the addresses are machine addresses (what its cr3
    /// and page tables hold).
    public func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        try refuseDom0("read memory")
        return try xen("read memory at \(hex(address))") { try foreignMemory().read(address, count: count) }
    }

    func foreignMemory() throws -> ForeignMemory {
        if let m = memory { return m }
        let m = try ForeignMemory(domid: domid)
        memory = m
        return m
    }

    // MARK: errors

    private func vcpuNumber(_ vcpu: Int) throws -> UInt16 {
        guard let v = UInt16(exactly: vcpu) else { throw VMIError("\(label) has no vcpu \(vcpu)") }
        return v
    }

    private func refuseDom0(_ action: String) throws {
        if domid == 0 { throw VMIError.unsupported(address, action, because: "dom0 is the domain running this tool") }
    }

    func gone() -> VMIError { VMIError("\(label) is gone") }

    /// Throws `gone()` once the domain no longer exists or is being destroyed. A destroyed
    /// domain's monitor channel just goes quiet (Xen leaves our end unbound, it never signals),
    /// so a listener with nothing to read asks.
    func requireAlive() throws {
        let info = try xen("look up the state") { try control.domainInfo(domid) }
        guard let info, !info.isDying else { throw gone() }
    }

    /// Runs libxen calls, turning their errors into one line that says what was being done.
    @discardableResult
    func xen<T>(_ action: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as XenCallError {
            switch e.errno {
            case ESRCH: throw gone()
            case EACCES, EPERM: throw VMIError("cannot \(action) of \(label): permission denied (\(e.call))")
            default: throw VMIError("cannot \(action) of \(label): \(e)")
            }
        }
    }
}

extension TargetAddress {
    /// The domain as the user named it, for messages.
    var xenLabel: String {
        if case .xen(let d) = self { return d.description }
        return description
    }
}
#endif
