import Foundation
import TestSupport
import Testing

@testable import VMICore

/// Real QEMU `dump-guest-memory` dumps from the lab (Tests/Fixtures/qemu/README.md), checked
/// against `info registers` and the lab's `gva2gpa`/`x`/`xp` reads taken at the same stop.
@Suite struct QEMUDumpFixtureTests {
    static let arches = ["x86_64", "aarch64"]

    static func open(_ arch: String) throws -> QEMUDump? {
        guard let path = Fixtures.path("qemu/\(arch).dump.elf") else {
            print("skipped: fixture 'qemu/\(arch).dump.elf' is absent (make it with the QEMU lab)")
            return nil
        }
        return try #require(try openCoreDump(path: path) as? QEMUDump)
    }

    @Test(arguments: arches) func registersMatchInfoRegisters(arch: String) throws {
        guard let dump = try Self.open(arch), let text = GroundTruth.text("qemu/\(arch).info-registers.txt") else {
            return
        }
        let truth = GroundTruth.qemuInfoRegisters(text)
        let regs = try dump.registers(vcpu: 0)
        #expect(regs.arch.rawValue == arch)
        #expect(truth.count >= (arch == "x86_64" ? 40 : 34))
        var compared = 0
        for (name, value) in truth.sorted(by: { $0.key < $1.key }) {
            // QEMU's dump has no EFER; `info registers` prints more than the notes hold.
            guard let mine = regs[name] else { continue }
            #expect(mine == value, "\(name): dump \(hex(mine)), info registers \(hex(value))")
            compared += 1
        }
        #expect(compared >= (arch == "x86_64" ? 40 : 34))
    }

    @Test(arguments: arches) func virtualReadsMatchTheLab(arch: String) throws {
        guard let dump = try Self.open(arch), let text = GroundTruth.text("qemu/\(arch).translate.txt") else { return }
        let rows = GroundTruth.translations(text)
        #expect(!rows.isEmpty)
        let vm: VirtualMemory
        do { vm = try dump.virtualMemory(vcpu: 0) } catch {
            // AArch64 dumps without VMCOREINFO hold no TTBR: physical reads are still checked.
            #expect(arch == "aarch64", "\(error)")
            print("skipped virtual reads of qemu/\(arch): \(error)")
            for row in rows {
                if let pa = row.pa, let b = row.physicalBytes {
                    #expect(try dump.readPhysical(pa, count: b.count) == b)
                }
            }
            return
        }
        for row in rows {
            if let pa = row.pa {
                #expect(try vm.translate(row.va) == pa, "\(row.name)")
                if let b = row.virtualBytes { #expect(try vm.read(row.va, count: b.count) == b, "\(row.name)") }
                if let b = row.physicalBytes { #expect(try dump.readPhysical(pa, count: b.count) == b, "\(row.name)") }
            } else {
                #expect(throws: TranslationFault.self, "\(row.name) should not translate") { try vm.translate(row.va) }
            }
        }
    }
}

/// Page tables of a real dump made hostile: every PML4 entry points back at the PML4, or at
/// memory the dump does not hold. Walks end with an answer or an error after a bounded number
/// of reads.
@Suite struct HostilePageTableTests {
    final class Counting: PhysicalMemory {
        let inner: PhysicalMemory
        var reads = 0
        init(_ inner: PhysicalMemory) { self.inner = inner }
        func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
            reads += 1
            return try inner.readPhysical(address, count: count)
        }
    }

    /// A copy of the x86_64 dump whose top-level table entries are all `entry`.
    static func patchedCopy(entry: (UInt64) -> UInt64) throws -> (QEMUDump, UInt64)? {
        guard let path = Fixtures.path("qemu/x86_64.dump.elf") else {
            print("skipped: fixture 'qemu/x86_64.dump.elf' is absent (make it with the QEMU lab)")
            return nil
        }
        let original = try #require(try openCoreDump(path: path) as? QEMUDump)
        let cr3 = try #require(try original.registers(vcpu: 0)["cr3"]) & ~0xfff
        let seg = try #require(original.layout.segment(containing: cr3))
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("vmi-cyclic-\(UUID().uuidString).core")
        try FileManager.default.copyItem(atPath: path, toPath: copy.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy.path)
        let h = try FileHandle(forWritingTo: copy)
        try h.seek(toOffset: seg.offset + (cr3 - seg.paddr))
        var table = [UInt8]()
        for _ in 0..<512 { table += Synthetic.le(entry(cr3)) }
        try h.write(contentsOf: Data(table))
        try h.close()
        let dump = try #require(try openCoreDump(path: copy.path) as? QEMUDump)
        try? FileManager.default.removeItem(at: copy)  // the mapping keeps the data alive
        return (dump, cr3)
    }

    @Test func selfReferencingTablesEnd() throws {
        guard let (dump, cr3) = try Self.patchedCopy(entry: { $0 | 0x3 }) else { return }
        let counting = Counting(dump)
        let vm = VirtualMemory(physical: counting, mode: try dump.virtualMemory(vcpu: 0).mode)
        let t = try vm.walk(0xffff_ffff_8100_0123)
        #expect(t.physical == cr3 | 0x123)
        #expect(counting.reads == 4)
    }

    @Test func tablesPointingOutsideTheDumpFail() throws {
        guard let (dump, _) = try Self.patchedCopy(entry: { _ in 0x7_0000_0000 | 0x3 }) else { return }
        let vm = try dump.virtualMemory(vcpu: 0)
        let e = #expect(throws: TranslationFault.self) { try vm.read(0xffff_ffff_8100_0000, count: 16) }
        #expect(
            e?.description
                == "virtual address 0xffffffff81000000 does not translate: PDPT entry at 0x700000ff0: guest-physical address 0x700000ff0 is not in the dump"
        )
    }
}
