#if canImport(CXen)
import CXen

/// One vm_event source switched on in Xen, as `xc_monitor_*` and `xc_set_mem_access` name them,
/// with the call that switches it off again. Several specs can share one (every
/// `breakpoint@ADDR` needs `softwareBreakpoint` and `debugExceptions`).
enum MonitorEvent: Hashable {
    case controlRegister(index: Int32, sync: Bool)
    case msr(UInt32)
    case softwareBreakpoint
    case debugExceptions(sync: Bool)
    case cpuid
    case descriptorAccess
    case guestRequest(sync: Bool)
    case vmexit(sync: Bool)
    /// Intel MTF, per vCPU (`xc_domain_debug_control` SINGLE_STEP_ON) once the monitor is on.
    case singlestep(vcpus: [UInt32])
    /// Frames whose access is restricted to `allowed` (XENMEM_access_*: r=1, w=2, x=4).
    case memAccess(first: UInt64, count: UInt32, allowed: UInt32)

    /// The system MSRs `msr` without an index watches: writes that change how the kernel runs
    /// (Intel SDM vol. 4; AMD APM vol. 2 appendix A). Xen keeps one monitor bit per MSR, so
    /// "every MSR" would be ~24,000 domctls; these are the ones an introspection user asks for.
    static let systemMSRs: [UInt32] = [
        0x1b,  // APIC_BASE
        0x174, 0x175, 0x176,  // SYSENTER_CS/ESP/EIP
        0x277,  // PAT
        0xc000_0080,  // EFER
        0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084,  // STAR, LSTAR, CSTAR, SFMASK
        0xc000_0100, 0xc000_0101, 0xc000_0102,  // FS_BASE, GS_BASE, KERNEL_GS_BASE
    ]

    /// `xc_monitor_get_capabilities` bit (XEN_DOMCTL_MONITOR_EVENT_*) each kind needs.
    static func capabilityBit(_ kind: EventSpec.Kind) -> Int32? {
        switch kind {
        case .cr0, .cr3, .cr4, .xcr0: return XEN_DOMCTL_MONITOR_EVENT_WRITE_CTRLREG
        case .msr: return XEN_DOMCTL_MONITOR_EVENT_MOV_TO_MSR
        case .int3: return XEN_DOMCTL_MONITOR_EVENT_SOFTWARE_BREAKPOINT
        case .breakpoint: return XEN_DOMCTL_MONITOR_EVENT_SOFTWARE_BREAKPOINT
        case .cpuid: return XEN_DOMCTL_MONITOR_EVENT_CPUID
        case .debug, .hbreak: return XEN_DOMCTL_MONITOR_EVENT_DEBUG_EXCEPTION
        case .interrupt: return XEN_DOMCTL_MONITOR_EVENT_INTERRUPT
        case .desc: return XEN_DOMCTL_MONITOR_EVENT_DESC_ACCESS
        case .guestRequest: return XEN_DOMCTL_MONITOR_EVENT_GUEST_REQUEST
        case .vmexit: return XEN_DOMCTL_MONITOR_EVENT_VMEXIT
        case .singlestep: return XEN_DOMCTL_MONITOR_EVENT_SINGLESTEP
        case .privcall: return XEN_DOMCTL_MONITOR_EVENT_PRIVILEGED_CALL
        case .mem, .io: return nil
        }
    }

    static func controlRegisterIndex(_ kind: EventSpec.Kind) -> Int32 {
        switch kind {
        case .cr0: return VM_EVENT_X86_CR0
        case .cr4: return VM_EVENT_X86_CR4
        case .xcr0: return VM_EVENT_X86_XCR0
        default: return VM_EVENT_X86_CR3
        }
    }

    /// Switches the source on (`enable`) or off.
    func set(_ on: Bool, control: XenControl, domid: UInt32) throws {
        let xch = control.handle
        switch self {
        case .controlRegister(let index, let sync):
            // bitmask 0: every bit; onchangeonly: a write of the same value is no news.
            try XenCall.check("xc_monitor_write_ctrlreg") {
                xc_monitor_write_ctrlreg(xch, domid, UInt16(index), on, sync, 0, true)
            }
        case .msr(let index):
            try XenCall.check("xc_monitor_mov_to_msr") { xc_monitor_mov_to_msr(xch, domid, index, on, false) }
        case .softwareBreakpoint:
            try XenCall.check("xc_monitor_software_breakpoint") { xc_monitor_software_breakpoint(xch, domid, on) }
        case .debugExceptions(let sync):
            try XenCall.check("xc_monitor_debug_exceptions") { xc_monitor_debug_exceptions(xch, domid, on, sync) }
        case .cpuid:
            try XenCall.check("xc_monitor_cpuid") { xc_monitor_cpuid(xch, domid, on) }
        case .descriptorAccess:
            try XenCall.check("xc_monitor_descriptor_access") { xc_monitor_descriptor_access(xch, domid, on) }
        case .guestRequest(let sync):
            try XenCall.check("xc_monitor_guest_request") { xc_monitor_guest_request(xch, domid, on, sync, true) }
        case .vmexit(let sync):
            try XenCall.check("xc_monitor_vmexit") { xc_monitor_vmexit(xch, domid, on, sync) }
        case .singlestep(let vcpus):
            if on { try XenCall.check("xc_monitor_singlestep") { xc_monitor_singlestep(xch, domid, true) } }
            let op = UInt32(on ? XEN_DOMCTL_DEBUG_OP_SINGLE_STEP_ON : XEN_DOMCTL_DEBUG_OP_SINGLE_STEP_OFF)
            for v in vcpus {
                try XenCall.check("xc_domain_debug_control") { xc_domain_debug_control(xch, domid, op, v) }
            }
            if !on { try XenCall.check("xc_monitor_singlestep") { xc_monitor_singlestep(xch, domid, false) } }
        case .memAccess(let first, let count, let allowed):
            let access = on ? xenmem_access_t(rawValue: allowed) : XENMEM_access_rwx
            try XenCall.check("xc_set_mem_access") { xc_set_mem_access(xch, domid, access, first, count) }
        }
    }
}
#endif
