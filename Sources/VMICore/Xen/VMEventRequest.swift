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
        VMEvent(kind: kind.rawValue, vcpu: Int(req.pointee.vcpu_id), timestamp: timestamp,
            details: .xen(XenEventFields(request: req, kind: kind, backlog: backlog)))
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

/// What a record needs of a vm_event request, kept in its event (`VMEvent.Details.xen`) and
/// decoded each time it is read: written straight into the JSON line on vmi-watch's hot path.
/// The reason's payload and the few registers the records show, not the whole 400-byte request:
/// an event is copied a few times on its way to the line.
struct XenEventFields: Sendable {
    /// The request's payload union (`vm_event_request_t.u`), read as `kind` says.
    var u: vm_event_st.__Unnamed_union_u
    var regs: Registers
    var kind: EventSpec.Kind
    /// Requests still waiting in the ring behind this one.
    var backlog: Int

    /// The most bytes `visitFields` writes into a line, for every kind: at most 12 fields,
    /// keys of at most 16 bytes, values of at most 20 (hex, decimal; the strings are shorter).
    /// XenEventTests checks each kind against it; past it a write traps, never overflows.
    static var maxCount: Int { 12 * (4 + 16 + 20) }

    struct Registers: Sendable {
        var rip, rax, rbx, rcx, rdx, dr6, dr7, cr3: UInt64
    }

    /// Reads the request where it lies (the ring's copy), field by field.
    init(request: UnsafePointer<vm_event_request_t>, kind: EventSpec.Kind, backlog: Int) {
        let x = request.pointee.data.regs.x86
        u = request.pointee.u
        regs = Registers(rip: x.rip, rax: x.rax, rbx: x.rbx, rcx: x.rcx, rdx: x.rdx, dr6: x.dr6, dr7: x.dr7, cr3: x.cr3)
        self.kind = kind
        self.backlog = backlog
    }

    func visitFields<V: EventFieldVisitor>(_ v: inout V) {
        v.visit("rip", .hex(regs.rip))
        switch kind {
        case .cr0, .cr3, .cr4, .xcr0:
            v.visit("old", .hex(u.write_ctrlreg.old_value))
            v.visit("new", .hex(u.write_ctrlreg.new_value))
        case .msr:
            v.visit("index", .hex(u.mov_to_msr.msr))
            v.visit("old", .hex(u.mov_to_msr.old_value))
            v.visit("value", .hex(u.mov_to_msr.new_value))
        case .int3, .breakpoint:
            v.visit("gfn", .hex(u.software_breakpoint.gfn))
            v.visit("insn_length", .int(Int(u.software_breakpoint.insn_length)))
        case .cpuid:
            // Xen fills the results in before raising the event (hvm_vmexit_cpuid), so the
            // request's rax..rdx are what the guest would get.
            v.visit("leaf", .hex(UInt64(u.cpuid.leaf)))
            v.visit("subleaf", .hex(UInt64(u.cpuid.subleaf)))
            v.visit("eax", .hex(regs.rax & 0xffff_ffff))
            v.visit("ebx", .hex(regs.rbx & 0xffff_ffff))
            v.visit("ecx", .hex(regs.rcx & 0xffff_ffff))
            v.visit("edx", .hex(regs.rdx & 0xffff_ffff))
            v.visit("insn_length", .int(Int(u.cpuid.insn_length)))
        case .debug:
            v.visit("gfn", .hex(u.debug_exception.gfn))
            v.visit("trap_type", .int(Int(u.debug_exception.type)))
            v.visit("insn_length", .int(Int(u.debug_exception.insn_length)))
            v.visit("pending_dbg", .hex(u.debug_exception.pending_dbg))
            v.visit("dr6", .hex(regs.dr6))
            v.visit("dr7", .hex(regs.dr7))
        case .interrupt:
            let i = u.interrupt.x86
            v.visit("vector", .int(Int(i.vector)))
            v.visit("interrupt_type", .int(Int(i.type)))
            v.visit("error_code", .hex(UInt64(i.error_code)))
            v.visit("cr2", .hex(i.cr2))
        case .desc:
            v.visit("descriptor", .string(VMEventRequest.descriptorName(u.desc_access.descriptor)))
            v.visit("write", .bool(u.desc_access.is_write != 0))
        case .guestRequest:
            // HVMOP_guest_request_vm_event carries no payload: by convention the guest puts its
            // argument in rax (and more in rbx, rcx, rdx).
            v.visit("rax", .hex(regs.rax))
            v.visit("rbx", .hex(regs.rbx))
        case .vmexit:
            v.visit("exit_reason", .hex(u.vmexit.arch.vmx.reason))
            v.visit("qualification", .hex(u.vmexit.arch.vmx.qualification))
        case .singlestep:
            v.visit("gfn", .hex(u.singlestep.gfn))
        case .mem:
            let m = u.mem_access
            v.visit("gfn", .hex(m.gfn))
            v.visit("offset", .hex(m.offset))
            if m.flags & UInt32(MEM_ACCESS_GLA_VALID) != 0 { v.visit("gla", .hex(m.gla)) }
            v.visit("access", .string(VMEventRequest.accessString(m.flags)))
            v.visit("fault_in_gpt", .bool(m.flags & UInt32(MEM_ACCESS_FAULT_IN_GPT) != 0))
        case .hbreak:
            v.visit("gfn", .hex(u.debug_exception.gfn))
        case .io, .privcall:
            break
        }
        v.visit("cr3", .hex(regs.cr3))
        v.visit("backlog", .int(backlog))
    }
}
#endif
