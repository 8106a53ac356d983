#if canImport(CXen)
import CXen

/// Turns one vm_event request (xen/include/public/vm_event.h, interface version 7) into the
/// event record vmi-watch writes. Pure: the request's bytes in, a `VMEvent` out; no libxen call.
///
/// Every record carries `rip` (the vCPU's rip when the event was raised, from `data.regs.x86`),
/// the kind's own fields, and `backlog`: requests still waiting in the ring behind this one, so a
/// reader that falls behind sees it (Xen never drops a request: a full ring makes the guest's
/// vCPUs wait for a slot, so a slow reader slows the guest rather than losing events).
public enum VMEventRequest {
    /// The `--event` kind a request answers to, or nil for reasons we never ask for (paging,
    /// sharing, emul_unimplemented).
    public static func kind(of req: UnsafePointer<vm_event_request_t>, ownBreakpoint: Bool = false) -> EventSpec.Kind? {
        switch Int32(req.pointee.reason) {
        case VM_EVENT_REASON_WRITE_CTRLREG:
            switch Int32(req.pointee.u.write_ctrlreg.index) {
            case VM_EVENT_X86_CR0: return .cr0
            case VM_EVENT_X86_CR3: return .cr3
            case VM_EVENT_X86_CR4: return .cr4
            case VM_EVENT_X86_XCR0: return .xcr0
            default: return nil
            }
        case VM_EVENT_REASON_MOV_TO_MSR: return .msr
        case VM_EVENT_REASON_SOFTWARE_BREAKPOINT: return ownBreakpoint ? .breakpoint : .int3
        case VM_EVENT_REASON_CPUID: return .cpuid
        case VM_EVENT_REASON_DEBUG_EXCEPTION: return .debug
        case VM_EVENT_REASON_INTERRUPT: return .interrupt
        case VM_EVENT_REASON_DESCRIPTOR_ACCESS: return .desc
        case VM_EVENT_REASON_GUEST_REQUEST: return .guestRequest
        case VM_EVENT_REASON_VMEXIT: return .vmexit
        case VM_EVENT_REASON_SINGLESTEP: return .singlestep
        case VM_EVENT_REASON_MEM_ACCESS: return .mem
        case VM_EVENT_REASON_PRIVILEGED_CALL: return .privcall
        default: return nil
        }
    }

    /// The record for `req`. `kind` comes from `kind(of:)`.
    public static func event(_ req: UnsafePointer<vm_event_request_t>, kind: EventSpec.Kind, backlog: Int,
        timestamp: Timestamp = .now()) -> VMEvent
    {
        let r = req.pointee
        let regs = r.data.regs.x86
        var fields: [(key: StaticString, value: EventValue)] = []
        fields.reserveCapacity(10)
        fields.append(("rip", .hex(regs.rip)))
        switch kind {
        case .cr0, .cr3, .cr4, .xcr0:
            fields.append(("old", .hex(r.u.write_ctrlreg.old_value)))
            fields.append(("new", .hex(r.u.write_ctrlreg.new_value)))
        case .msr:
            fields.append(("index", .hex(r.u.mov_to_msr.msr)))
            fields.append(("old", .hex(r.u.mov_to_msr.old_value)))
            fields.append(("value", .hex(r.u.mov_to_msr.new_value)))
        case .int3, .breakpoint:
            fields.append(("gfn", .hex(r.u.software_breakpoint.gfn)))
            fields.append(("insn_length", .int(Int(r.u.software_breakpoint.insn_length))))
        case .cpuid:
            // Xen fills the results in before raising the event (hvm_vmexit_cpuid), so the
            // request's rax..rdx are what the guest would get.
            fields.append(("leaf", .hex(UInt64(r.u.cpuid.leaf))))
            fields.append(("subleaf", .hex(UInt64(r.u.cpuid.subleaf))))
            fields.append(("eax", .hex(regs.rax & 0xffff_ffff)))
            fields.append(("ebx", .hex(regs.rbx & 0xffff_ffff)))
            fields.append(("ecx", .hex(regs.rcx & 0xffff_ffff)))
            fields.append(("edx", .hex(regs.rdx & 0xffff_ffff)))
            fields.append(("insn_length", .int(Int(r.u.cpuid.insn_length))))
        case .debug:
            fields.append(("gfn", .hex(r.u.debug_exception.gfn)))
            fields.append(("trap_type", .int(Int(r.u.debug_exception.type))))
            fields.append(("insn_length", .int(Int(r.u.debug_exception.insn_length))))
            fields.append(("pending_dbg", .hex(r.u.debug_exception.pending_dbg)))
            fields.append(("dr6", .hex(regs.dr6)))
            fields.append(("dr7", .hex(regs.dr7)))
        case .interrupt:
            let i = r.u.interrupt.x86
            fields.append(("vector", .int(Int(i.vector))))
            fields.append(("interrupt_type", .int(Int(i.type))))
            fields.append(("error_code", .hex(UInt64(i.error_code))))
            fields.append(("cr2", .hex(i.cr2)))
        case .desc:
            fields.append(("descriptor", .string(descriptorName(r.u.desc_access.descriptor))))
            fields.append(("write", .bool(r.u.desc_access.is_write != 0)))
        case .guestRequest:
            // HVMOP_guest_request_vm_event carries no payload: by convention the guest puts its
            // argument in rax (and more in rbx, rcx, rdx).
            fields.append(("rax", .hex(regs.rax)))
            fields.append(("rbx", .hex(regs.rbx)))
        case .vmexit:
            fields.append(("exit_reason", .hex(r.u.vmexit.arch.vmx.reason)))
            fields.append(("qualification", .hex(r.u.vmexit.arch.vmx.qualification)))
        case .singlestep:
            fields.append(("gfn", .hex(r.u.singlestep.gfn)))
        case .mem:
            let m = r.u.mem_access
            fields.append(("gfn", .hex(m.gfn)))
            fields.append(("offset", .hex(m.offset)))
            if m.flags & UInt32(MEM_ACCESS_GLA_VALID) != 0 { fields.append(("gla", .hex(m.gla))) }
            fields.append(("access", .string(accessString(m.flags))))
            fields.append(("fault_in_gpt", .bool(m.flags & UInt32(MEM_ACCESS_FAULT_IN_GPT) != 0)))
        case .hbreak:
            fields.append(("gfn", .hex(r.u.debug_exception.gfn)))
        case .io, .privcall:
            break
        }
        fields.append(("cr3", .hex(regs.cr3)))
        fields.append(("backlog", .int(backlog)))
        return VMEvent(kind: kind.rawValue, vcpu: Int(r.vcpu_id), timestamp: timestamp, fields: fields)
    }

    /// `VM_EVENT_DESC_*`
    static func descriptorName(_ d: UInt8) -> String {
        switch Int32(d) {
        case VM_EVENT_DESC_IDTR: return "idtr"
        case VM_EVENT_DESC_GDTR: return "gdtr"
        case VM_EVENT_DESC_LDTR: return "ldtr"
        case VM_EVENT_DESC_TR: return "tr"
        default: return "unknown"
        }
    }

    /// The access that faulted, `MEM_ACCESS_R/W/X` bits as "r", "w", "x" in that order.
    static func accessString(_ flags: UInt32) -> String {
        var a: EventSpec.Access = []
        if flags & UInt32(MEM_ACCESS_R) != 0 { a.insert(.read) }
        if flags & UInt32(MEM_ACCESS_W) != 0 { a.insert(.write) }
        if flags & UInt32(MEM_ACCESS_X) != 0 { a.insert(.execute) }
        return a.description
    }
}
#endif
