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
        guard let dump = try Self.open(arch), let text = GroundTruth.text("qemu/\(arch).info-registers.txt") else { return }
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
            for row in rows { if let pa = row.pa, let b = row.physicalBytes { #expect(try dump.readPhysical(pa, count: b.count) == b) } }
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
