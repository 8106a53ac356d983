import Testing
import VMICore

/// DR7 bit layout: Intel SDM vol. 3 §18.2.4 (L0 bit 0, G0 bit 1, R/W0 bits 16-17, LEN0 18-19).
@Suite struct X86DebugControlTests {
    @Test func freeSlotPrefersTheHighestAndSkipsEnabledOnes() {
        #expect(X86DebugControl.freeSlot(0x400) == 3)
        // DR3 enabled globally (G3 = bit 7), DR2 locally (L2 = bit 4).
        #expect(X86DebugControl.freeSlot(0x400 | 1 << 7 | 1 << 4) == 1)
        #expect(X86DebugControl.freeSlot(0x400, excluding: [3, 2]) == 1)
        #expect(X86DebugControl.freeSlot(0xff) == nil)
    }

    @Test func enablingAnExecutionBreakpointClearsItsConditionsOnly() {
        // Slot 1 was a 4-byte write watchpoint (R/W1 = 01, LEN1 = 11); slot 0 stays as it is.
        let before: UInt64 = 0x400 | 0b01 | (0b1101 << 16) | (0b1101 << 20)
        let after = X86DebugControl.enablingExecution(before, slot: 1)
        #expect(after == 0x400 | 0b01 | 1 << 2 | (0b1101 << 16))
        #expect(X86DebugControl.isEnabled(after, slot: 1))
        #expect(X86DebugControl.disabling(after, slot: 1) == 0x400 | 0b01 | (0b1101 << 16))
    }

    @Test func disablingKeepsTheReservedBit() {
        #expect(X86DebugControl.disabling(X86DebugControl.enablingExecution(0, slot: 3), slot: 3) == 0x400)
    }
}
