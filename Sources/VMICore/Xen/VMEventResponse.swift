#if canImport(CXen)
import CXen

/// Answers to vm_event requests (xen/include/public/vm_event.h; how Xen reads them:
/// xen/common/vm_event.c `vm_event_resume`). Pure: a request in, the response's bytes out.
///
/// Every answer echoes `vcpu_id` and `reason`, carries `VM_EVENT_INTERFACE_VERSION`, and keeps
/// `VM_EVENT_FLAG_VCPU_PAUSED` when the request had it: that flag is what unpauses a vCPU that
/// waits for us (sync events). `VM_EVENT_FLAG_SET_REGISTERS` loads rax..r15, rflags and rip
/// from `data.regs.x86` before the vCPU runs again.
public enum VMEventResponse {
    /// Resume as if nothing happened (Xen completes what it was doing).
    public static func resume(_ req: vm_event_request_t) -> vm_event_response_t {
        var rsp = vm_event_response_t()
        rsp.version = UInt32(VM_EVENT_INTERFACE_VERSION)
        rsp.vcpu_id = req.vcpu_id
        rsp.reason = req.reason
        rsp.flags = req.flags & UInt32(VM_EVENT_FLAG_VCPU_PAUSED)
        return rsp
    }

    /// Resume with registers set from the request's, after `edit` changed them.
    static func settingRegisters(_ req: vm_event_request_t, _ edit: (inout vm_event_regs_x86) -> Void)
        -> vm_event_response_t
    {
        var rsp = resume(req)
        rsp.flags |= UInt32(VM_EVENT_FLAG_SET_REGISTERS)
        rsp.data = req.data
        edit(&rsp.data.regs.x86)
        return rsp
    }

    /// A monitored CPUID is not completed by Xen (`hvm_vmexit_cpuid` returns to the monitor with
    /// the results already in the registers): we must set them and step rip past the
    /// instruction, or the guest executes the same CPUID forever.
    public static func completeCPUID(_ req: vm_event_request_t, trapFlag: Bool? = nil) -> vm_event_response_t {
        settingRegisters(req) { regs in
            regs.rip &+= UInt64(req.u.cpuid.insn_length)
            if let tf = trapFlag { regs.rflags = X86Flags.withTrap(regs.rflags, tf) }
        }
    }

    /// Sets or clears RFLAGS.TF as the vCPU resumes (single-stepping on AMD).
    static func trapFlag(_ req: vm_event_request_t, _ on: Bool) -> vm_event_response_t {
        settingRegisters(req) { $0.rflags = X86Flags.withTrap($0.rflags, on) }
    }

    /// Asks Xen for a VM_EVENT_REASON_INTERRUPT event at the next interrupt this vCPU takes:
    /// the only way Xen 4.17 offers interrupt events (VM_EVENT_FLAG_GET_NEXT_INTERRUPT).
    static func nextInterrupt(_ rsp: vm_event_response_t) -> vm_event_response_t {
        var r = rsp
        r.flags |= UInt32(VM_EVENT_FLAG_GET_NEXT_INTERRUPT)
        return r
    }

    /// A mem_access violation: let Xen emulate the access so the guest makes progress while
    /// the restriction stays in place.
    static func emulate(_ req: vm_event_request_t) -> vm_event_response_t {
        var rsp = resume(req)
        rsp.flags |= UInt32(VM_EVENT_FLAG_EMULATE)
        return rsp
    }

    /// An answer to no request: resumes `vcpu` if a killed listener left it paused on a sync
    /// event. Xen applies response flags only to a vCPU that is paused for vm_event
    /// (`vm_event_resume` checks `vm_event_pause_count`), so for any other vCPU it does nothing.
    static func release(vcpu: UInt32) -> vm_event_response_t {
        var rsp = vm_event_response_t()
        rsp.version = UInt32(VM_EVENT_INTERFACE_VERSION)
        rsp.vcpu_id = vcpu
        rsp.flags = UInt32(VM_EVENT_FLAG_VCPU_PAUSED)
        return rsp
    }
}

/// RFLAGS bits the stepper touches (Intel SDM vol. 3, 2.3 "System flags").
enum X86Flags {
    static let trap: UInt64 = 1 << 8

    static func withTrap(_ rflags: UInt64, _ on: Bool) -> UInt64 { on ? rflags | trap : rflags & ~trap }
}
#endif
