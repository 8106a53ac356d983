#if canImport(CXen)
import CXen
import Testing
@testable import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// vm_event requests and answers in the real C layout (xen/vm_event.h through CXen), the ring
/// helpers of vm_event_shim.h on a ring in ordinary memory, and the pure pieces around them.
@Suite struct XenEventTests {
    static func request(_ reason: Int32, vcpu: UInt32 = 0, paused: Bool = true, _ fill: (inout vm_event_request_t) -> Void)
        -> vm_event_request_t
    {
        var r = vm_event_request_t()
        r.version = UInt32(VM_EVENT_INTERFACE_VERSION)
        r.reason = UInt32(reason)
        r.vcpu_id = vcpu
        r.flags = paused ? UInt32(VM_EVENT_FLAG_VCPU_PAUSED) : 0
        fill(&r)
        return r
    }

    static func decode(_ r: vm_event_request_t, backlog: Int = 0) -> (EventSpec.Kind?, VMEvent?) {
        var req = r
        return withUnsafePointer(to: &req) { p in
            guard let k = VMEventRequest.kind(of: p) else { return (nil, nil) }
            return (k, VMEventRequest.event(p, kind: k, backlog: backlog))
        }
    }

    @Test func layoutMatchesTheNotes() {
        #expect(MemoryLayout<vm_event_request_t>.size == 400)
        #expect(MemoryLayout<vm_event_request_t>.offset(of: \vm_event_request_t.u) == 24)
        #expect(MemoryLayout<vm_event_request_t>.offset(of: \vm_event_request_t.data) == 56)
    }

    @Test func controlRegisterWrite() {
        let r = Self.request(VM_EVENT_REASON_WRITE_CTRLREG, vcpu: 1, paused: false) {
            $0.u.write_ctrlreg.index = UInt32(VM_EVENT_X86_CR3)
            $0.u.write_ctrlreg.old_value = 0x1f4_5000
            $0.u.write_ctrlreg.new_value = 0x2a8_1000
            $0.data.regs.x86.rip = 0xffff_ffff_8100_4d2e
        }
        let (kind, event) = Self.decode(r, backlog: 3)
        #expect(kind == .cr3)
        #expect(event?.vcpu == 1)
        #expect(event?.value("old") == .hex(0x1f4_5000))
        #expect(event?.value("new") == .hex(0x2a8_1000))
        #expect(event?.value("rip") == .hex(0xffff_ffff_8100_4d2e))
        #expect(event?.value("backlog") == .int(3))
        var line = JSONLine(type: "event")
        event?.write(identity: .domid(5), to: &line)
        line.finish()
        let text = String(decoding: line.bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"type":"event","ts":""#))
        #expect(text.contains(#""domid":5,"vcpu":1,"event":"cr3","rip":"0xffffffff81004d2e","old":"0x1f45000","new":"0x2a81000""#))
        #expect(text.hasSuffix("\n"))
    }

    @Test func everyControlRegisterIndex() {
        for (index, kind) in [(VM_EVENT_X86_CR0, EventSpec.Kind.cr0), (VM_EVENT_X86_CR4, .cr4), (VM_EVENT_X86_XCR0, .xcr0)] {
            let r = Self.request(VM_EVENT_REASON_WRITE_CTRLREG) { $0.u.write_ctrlreg.index = UInt32(index) }
            #expect(Self.decode(r).0 == kind)
        }
        let bad = Self.request(VM_EVENT_REASON_WRITE_CTRLREG) { $0.u.write_ctrlreg.index = 9 }
        #expect(Self.decode(bad).0 == nil)
    }

    @Test func cpuidCarriesTheResultsAndIsCompletedByTheAnswer() {
        let r = Self.request(VM_EVENT_REASON_CPUID) {
            $0.u.cpuid.leaf = 0
            $0.u.cpuid.subleaf = 0
            $0.u.cpuid.insn_length = 2
            $0.data.regs.x86.rip = 0x401000
            $0.data.regs.x86.rax = 0xffff_ffff_0000_0010  // upper half is not part of the result
            $0.data.regs.x86.rbx = 0x6874_7541
            $0.data.regs.x86.rcx = 0x444d_4163
            $0.data.regs.x86.rdx = 0x6974_6e65
            $0.data.regs.x86.rflags = 0x246
        }
        let (kind, event) = Self.decode(r)
        #expect(kind == .cpuid)
        #expect(event?.value("leaf") == .hex(0))
        #expect(event?.value("eax") == .hex(0x10))
        #expect(event?.value("ebx") == .hex(0x6874_7541))
        #expect(event?.value("insn_length") == .int(2))
        let rsp = VMEventResponse.completeCPUID(r)
        #expect(rsp.version == 7)
        #expect(rsp.reason == r.reason && rsp.vcpu_id == r.vcpu_id)
        #expect(rsp.flags == UInt32(VM_EVENT_FLAG_VCPU_PAUSED | VM_EVENT_FLAG_SET_REGISTERS))
        #expect(rsp.data.regs.x86.rip == 0x401002)
        #expect(rsp.data.regs.x86.rbx == 0x6874_7541)
        #expect(rsp.data.regs.x86.rflags == 0x246)
        #expect(VMEventResponse.completeCPUID(r, trapFlag: true).data.regs.x86.rflags == 0x346)
    }

    /// The fixed bound a line reserves for a request's fields holds for every kind, with every
    /// payload byte and register at its widest (0xff...: the longest hex strings, the mem flags
    /// that add "gla").
    @Test func fieldsStayWithinTheirFixedBound() {
        var r = vm_event_request_t()
        withUnsafeMutableBytes(of: &r) { $0.initializeMemory(as: UInt8.self, repeating: 0xff) }
        for kind in EventSpec.Kind.allCases {
            let fields = withUnsafePointer(to: &r) { XenEventFields(request: $0, kind: kind, backlog: .min) }
            var bound = FieldsMaxCount()
            fields.visitFields(&bound)
            #expect(bound.count <= XenEventFields.maxCount, "\(kind)")
            var line = JSONLine(type: "event")
            VMEvent(kind: kind.rawValue, vcpu: .max, timestamp: .now(), details: .xen(fields))
                .write(identity: .domid(.min), to: &line)
            line.finish()
            #expect(line.bytes.last == UInt8(ascii: "\n"), "\(kind)")
        }
    }

    @Test func answersKeepOnlyThePausedFlag() {
        let async = Self.request(VM_EVENT_REASON_WRITE_CTRLREG, paused: false) { $0.flags |= UInt32(VM_EVENT_FLAG_FOREIGN) }
        #expect(VMEventResponse.resume(async).flags == 0)
        let sync = Self.request(VM_EVENT_REASON_DEBUG_EXCEPTION) { $0.data.regs.x86.rflags = 0x346 }
        #expect(VMEventResponse.resume(sync).flags == UInt32(VM_EVENT_FLAG_VCPU_PAUSED))
        let off = VMEventResponse.trapFlag(sync, false)
        #expect(off.data.regs.x86.rflags == 0x246)
        #expect(off.flags & UInt32(VM_EVENT_FLAG_SET_REGISTERS) != 0)
        #expect(VMEventResponse.nextInterrupt(VMEventResponse.resume(sync)).flags & UInt32(VM_EVENT_FLAG_GET_NEXT_INTERRUPT) != 0)
        let release = VMEventResponse.release(vcpu: 3)
        #expect(release.vcpu_id == 3 && release.flags == UInt32(VM_EVENT_FLAG_VCPU_PAUSED) && release.version == 7)
    }

    @Test func otherKindsFields() {
        let msr = Self.request(VM_EVENT_REASON_MOV_TO_MSR) {
            $0.u.mov_to_msr.msr = 0xc000_0082
            $0.u.mov_to_msr.old_value = 1
            $0.u.mov_to_msr.new_value = 0xffff_ffff_8200_0040
        }
        #expect(Self.decode(msr).1?.value("index") == .hex(0xc000_0082))
        #expect(Self.decode(msr).1?.value("value") == .hex(0xffff_ffff_8200_0040))
        let irq = Self.request(VM_EVENT_REASON_INTERRUPT) {
            $0.u.interrupt.x86.vector = 14
            $0.u.interrupt.x86.type = 3
            $0.u.interrupt.x86.error_code = 2
            $0.u.interrupt.x86.cr2 = 0x7fff_0000
        }
        let e = Self.decode(irq).1
        #expect(e?.kind == "interrupt" && e?.value("vector") == .int(14) && e?.value("cr2") == .hex(0x7fff_0000))
        let mem = Self.request(VM_EVENT_REASON_MEM_ACCESS) {
            $0.u.mem_access.gfn = 0x1234
            $0.u.mem_access.gla = 0xffff_8880_0123_4000
            $0.u.mem_access.flags = UInt32(MEM_ACCESS_W | MEM_ACCESS_R | MEM_ACCESS_GLA_VALID)
        }
        let m = Self.decode(mem).1
        #expect(m?.value("access") == .string("rw") && m?.value("gla") == .hex(0xffff_8880_0123_4000))
        let desc = Self.request(VM_EVENT_REASON_DESCRIPTOR_ACCESS) {
            $0.u.desc_access.descriptor = UInt8(VM_EVENT_DESC_IDTR)
            $0.u.desc_access.is_write = 1
        }
        #expect(Self.decode(desc).1?.value("descriptor") == .string("idtr"))
        #expect(Self.decode(desc).1?.value("write") == .bool(true))
        let bp = Self.request(VM_EVENT_REASON_SOFTWARE_BREAKPOINT) { $0.u.software_breakpoint.insn_length = 1 }
        var copy = bp
        #expect(withUnsafePointer(to: &copy) { VMEventRequest.kind(of: $0, ownBreakpoint: true) } == .breakpoint)
        #expect(Self.decode(bp).0 == .int3)
        #expect(Self.decode(Self.request(VM_EVENT_REASON_MEM_PAGING) { _ in }).0 == nil)
    }

    /// The shim's ring helpers, with the shim's producer standing in for Xen.
    @Test func ringRoundTrip() {
        let page = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { page.deallocate() }
        let ring = UnsafeMutablePointer<vm_event_back_ring_t>.allocate(capacity: 1)
        defer { ring.deallocate() }
        cxen_vm_event_ring_init(ring, page)
        #expect(cxen_vm_event_ring_size(ring) == 8)
        #expect(cxen_vm_event_unconsumed(ring) == 0)
        var out = vm_event_request_t()
        #expect(cxen_vm_event_take_request(ring, &out) == 0)
        for i in 0..<8 {
            var r = Self.request(VM_EVENT_REASON_CPUID, vcpu: UInt32(i)) { $0.u.cpuid.leaf = UInt32(100 + i) }
            #expect(cxen_vm_event_test_produce(page, &r) == 1)
        }
        var extra = Self.request(VM_EVENT_REASON_CPUID) { _ in }
        #expect(cxen_vm_event_test_produce(page, &extra) == 0)  // full: 8 slots
        #expect(cxen_vm_event_unconsumed(ring) == 8)
        for i in 0..<8 {
            #expect(cxen_vm_event_take_request(ring, &out) == 1)
            #expect(out.vcpu_id == UInt32(i) && out.u.cpuid.leaf == UInt32(100 + i))
            var rsp = VMEventResponse.completeCPUID(out)
            cxen_vm_event_put_response(ring, &rsp)
        }
        #expect(cxen_vm_event_unconsumed(ring) == 0)
        let sring = page.assumingMemoryBound(to: vm_event_sring_t.self)
        #expect(sring.pointee.rsp_prod == 8)
        #expect(sring.pointee.req_event == 9)
        // Slots are reused once answered.
        #expect(cxen_vm_event_test_produce(page, &extra) == 1)
    }

    @Test func capabilitiesOfTheAMDLab() {
        // xc_monitor_get_capabilities of the lab's PVH guest (notes/xen-lab.md).
        let caps = MonitorCapabilities(bits: 0x1f7b, isHVM: true)
        #expect(!caps.hasVMX)
        for kind in [EventSpec.Kind.cr0, .cr3, .cr4, .xcr0, .msr, .int3, .breakpoint, .cpuid, .debug, .interrupt, .desc,
            .guestRequest]
        {
            #expect(caps.reason(kind) == nil, "\(kind)")
        }
        #expect(caps.reason(.mem) == "mem_access needs Intel EPT; this host has none (AMD SVM)")
        #expect(caps.reason(.singlestep)?.contains("monitor trap flag") == true)
        #expect(caps.reason(.vmexit)?.contains("VMX") == true)
        #expect(caps.reason(.io)?.contains("I/O") == true)
        #expect(caps.reason(.privcall)?.contains("Arm") == true)
        let intel = MonitorCapabilities(bits: 0x1f7f, isHVM: true)
        #expect(intel.reason(.singlestep) == nil && intel.reason(.mem) == nil && intel.reason(.vmexit) == nil)
        let pv = MonitorCapabilities(bits: 0, isHVM: false)
        #expect(pv.reason(.cr3)?.contains("PV guests") == true)
        #expect(MonitorCapabilities(bits: 0x1, isHVM: true).reason(.cpuid)?.contains("does not offer cpuid") == true)
    }

    @Test func registersFromTheRequest() {
        let r = Self.request(VM_EVENT_REASON_DEBUG_EXCEPTION) {
            $0.data.regs.x86.rip = 0xffff_ffff_8100_0010
            $0.data.regs.x86.rflags = 0x346
            $0.data.regs.x86.cs_sel = 0x10
            $0.data.regs.x86.shadow_gs = 0x7f00
        }
        let set = VMEventRegisters.registerSet(r.data.regs.x86, vcpu: 2)
        #expect(set.pc == 0xffff_ffff_8100_0010 && set["rflags"] == 0x346 && set["cs"] == 0x10)
        #expect(set["kernel_gs_base"] == 0x7f00 && set.vcpu == 2)
        // The same names as the HVM CPU record gives vmi-regs (a subset of them).
        let hvm = Set(XenX86Context.hvmFields.map(\.name))
        #expect(set.names.allSatisfy { hvm.contains($0) })
        let cpuid = Self.request(VM_EVENT_REASON_CPUID) {
            $0.data.regs.x86.rip = 0x1000
            $0.u.cpuid.insn_length = 2
        }
        #expect(XenStepSession.stopRegisters(cpuid, vcpu: 0).pc == 0x1002)
    }
}

@Suite struct TrapFlagHazardTests {
    @Test func instructionsXenCompletes() {
        #expect(TrapFlagHazard.classify([0xf4]) == .completedByXen(length: 1))
        #expect(TrapFlagHazard.classify([0x0f, 0xa2, 0x90]) == .cpuid)
        #expect(TrapFlagHazard.classify([0x0f, 0x30]) == .completedByXen(length: 2))
        #expect(TrapFlagHazard.classify([0x0f, 0x32]) == .completedByXen(length: 2))
        #expect(TrapFlagHazard.classify([0x0f, 0x01, 0xd9]) == .completedByXen(length: 3))  // vmmcall
        #expect(TrapFlagHazard.classify([0x0f, 0x01, 0xd1]) == .completedByXen(length: 3))  // xsetbv
        #expect(TrapFlagHazard.classify([0xe6, 0x80]) == .completedByXen(length: 2))  // out 0x80, al
        #expect(TrapFlagHazard.classify([0x66, 0xef]) == .completedByXen(length: 2))  // out dx, ax
        #expect(TrapFlagHazard.classify([0xf3, 0x6e]) == .completedByXen(length: 2))  // rep outsb
        #expect(TrapFlagHazard.classify([0x0f, 0x22, 0xd8]) == .completedByXen(length: 3))  // mov cr3, rax
        #expect(TrapFlagHazard.classify([0x41, 0x0f, 0x22, 0xe0]) == .completedByXen(length: 4))  // mov cr4, r8
        // Linux's safe_halt: sti; hlt is one unit (the trap after STI is held back).
        #expect(TrapFlagHazard.classify([0xfb, 0xf4, 0xc3]) == .completedByXen(length: 2))
    }

    @Test func ordinaryInstructions() {
        #expect(TrapFlagHazard.classify([0x90]) == nil)
        #expect(TrapFlagHazard.classify([0xfb, 0x90]) == nil)
        #expect(TrapFlagHazard.classify([0x0f, 0x1f, 0x44, 0x00, 0x00]) == nil)
        #expect(TrapFlagHazard.classify([0x0f, 0x01, 0xf8]) == nil)  // swapgs: not intercepted
        #expect(TrapFlagHazard.classify([]) == nil)
        #expect(TrapFlagHazard.classify([0x66, 0x66]) == nil)
        #expect(TrapFlagHazard.classify([0x0f]) == nil)
        #expect(TrapFlagHazard.classify([UInt8](repeating: 0x66, count: 20)) == nil)
    }
}

@Suite struct LoopWatchTests {
    @Test func reportsALongTightLoopOnce() {
        var w = LoopWatch(window: 8, threshold: 50)
        var notices: [String] = []
        for i in 0..<200 {
            if let n = w.observe(0x1000 + UInt64(i % 5) * 4, vcpu: 0) { notices.append(n) }
        }
        #expect(notices.count == 1)
        #expect(notices.first?.contains("0x1000-0x1010") == true)
    }

    @Test func straightLineCodeIsNoLoop() {
        var w = LoopWatch(window: 8, threshold: 50)
        for i in 0..<10_000 { #expect(w.observe(UInt64(i) * 3, vcpu: 0) == nil) }
    }
}
#endif

#if canImport(CXen)
@Suite struct TrapFlagHazardLengthTests {
    @Test func lengthsIncludePrefixes() {
        #expect(TrapFlagHazard.length([0x0f, 0xa2]) == 2)
        #expect(TrapFlagHazard.length([0x66, 0x0f, 0xa2]) == 3)
        #expect(TrapFlagHazard.length([0xf4]) == 1)
        #expect(TrapFlagHazard.length([0x90]) == nil)
        #expect(TrapFlagHazard.prefixLength([0xf3, 0x48, 0xa5]) == 2)
    }
}
#endif
