#if canImport(CXen)
/// Execution breakpoints in one HVM vCPU's debug registers (DR0-DR3 + DR7, written through
/// the HVM CPU record). The stepper's stops use them instead of 0xCC: they touch no guest memory
/// (other vCPUs never meet them), and a guest left with one by a crash sees at worst a #DB, not
/// a corrupted instruction. (Xen nested in QEMU 7.2's TCG sees neither: that TCG loads an SVM
/// guest's DR7 without arming its breakpoints, svm_helper.c `helper_vmrun`, and raises INT3
/// without checking the #BP intercept, excp_helper.c `raise_interrupt2`.)
///
/// Only slots the guest leaves disabled in DR7 are taken; each one's previous address is
/// written back when it is freed. The hit is a fault: rip is the breakpoint's address and the
/// instruction there has not run yet.
final class DebugRegisterBreakpoints {
    let target: XenDomainTarget
    let vcpu: Int
    let ledger: GuestChangeLedger
    private struct Slot {
        var index: Int
        var previous: UInt64
    }
    private var slots: [UInt64: Slot] = [:]

    init(target: XenDomainTarget, vcpu: Int, ledger: GuestChangeLedger) {
        self.target = target
        self.vcpu = vcpu
        self.ledger = ledger
    }

    var addresses: [UInt64] { slots.keys.sorted() }

    func contains(_ address: UInt64) -> Bool { slots[address] != nil }

    /// Arms an execution breakpoint at `address` (a no-op when one is there already).
    func insert(_ address: UInt64) throws {
        if slots[address] != nil { return }
        let taken = Set(slots.values.map(\.index))
        var slot: Slot?
        try target.updateRegisters(vcpu: vcpu) { regs in
            let dr7 = regs["dr7"] ?? 0
            guard let n = X86DebugControl.freeSlot(dr7, excluding: taken) else {
                throw VMIError("no free debug register on vcpu \(vcpu) for a breakpoint at \(hex(address)) "
                    + "(DR7 \(hex(dr7)): the guest or earlier breakpoints use all four)")
            }
            slot = Slot(index: n, previous: regs["dr\(n)"] ?? 0)
            return [("dr\(n)", address), ("dr7", X86DebugControl.enablingExecution(dr7, slot: n))]
        }
        guard let slot else { return }
        slots[address] = slot
        ledger.recordDebugRegister(vcpu: vcpu, slot: slot.index, address: address)
    }

    /// Frees the slot of `address`: DR7 loses only our bits, the slot gets its old address back.
    func remove(_ address: UInt64) throws {
        guard let slot = slots.removeValue(forKey: address) else { return }
        try target.updateRegisters(vcpu: vcpu) { regs in
            [("dr\(slot.index)", slot.previous), ("dr7", X86DebugControl.disabling(regs["dr7"] ?? 0, slot: slot.index))]
        }
        ledger.forgetDebugRegister(vcpu: vcpu, slot: slot.index)
    }

    /// Every slot back (teardown); errors are ignored so the rest still runs.
    func removeAll() {
        for address in addresses { try? remove(address) }
    }
}
#endif
