import Foundation
import TestSupport
import Testing

@testable import VMICore

/// Target descriptions captured from QEMU 7.2's stubs (Tests/Fixtures/qemu/gdb/README.md).
@Suite struct TargetDescriptionTests {
    func load(_ dir: String) throws -> TargetDescription {
        let base = Fixtures.sourceDir.appendingPathComponent("qemu/gdb/\(dir)")
        return try TargetDescription.load { name in
            Array(try Data(contentsOf: base.appendingPathComponent(name)))
        }
    }

    @Test func x86_64FromQEMU() throws {
        let d = try load("x86_64")
        #expect(d.architecture == "i386:x86-64")
        #expect(d.arch == .x86_64)
        #expect(d.registers.count == 66)  // the commented-out ss_base, ds_base, es_base are not registers
        #expect(!d.registers.contains { $0.name == "ss_base" })
        #expect(d.registers[16].name == "rip" && d.registers[16].regnum == 16 && d.registers[16].bitsize == 64)
        #expect(d.registers[17].name == "eflags" && d.registers[17].bitsize == 32)
        let map = try RegisterMap(d)
        let names = map.entries.map(\.name)
        #expect(
            Array(names.prefix(17)) == [
                "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
                "r12", "r13", "r14", "r15", "rip",
            ])
        for n in [
            "rflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "k_gs_base", "cr0", "cr2", "cr3",
            "cr4", "cr8", "efer",
        ] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(
            !names.contains("eflags") && !names.contains("st0") && !names.contains("xmm0") && !names.contains("fctrl"))
    }

    @Test func aarch64WithEL2FromQEMU() throws {
        let d = try load("aarch64-el2")
        #expect(d.arch == .aarch64)
        let map = try RegisterMap(d)
        let names = map.entries.map(\.name)
        #expect(Array(names.prefix(34)) == (0...30).map { "x\($0)" } + ["sp", "pc", "pstate"])
        for n in ["ttbr0_el1", "ttbr1_el1", "vbar_el2", "vttbr_el2", "hcr_el2", "sctlr_el1", "tcr_el1"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(!names.contains { ($0.hasPrefix("z") && $0.count <= 3) || $0 == "p1" || $0 == "vg" || $0 == "ffr" })
        #expect(!names.contains("sctlr") && !names.contains("id_pfr0") && names.contains("id_pfr0_el1"))
        #expect(names.count > 200)
        // regnums from the XML: the first system register follows the SVE block.
        #expect(map.entry(named: "x0")?.register.regnum == 0)
        #expect(map.entry(named: "pstate")?.register.regnum == 33)
        #expect((map.entry(named: "ttbr0_el1")?.register.regnum ?? 0) > 85)
        #expect(Set(names).count == names.count)
    }

    @Test func decodesAGBlockInRegnumOrder() throws {
        let map = try RegisterMap(try load("x86_64"))
        // rax=1, then 15 zero GPRs, rip, eflags=0x246: and the block may stop early.
        let g = "0100000000000000" + String(repeating: "0000000000000000", count: 15) + "0010a081ffffffff" + "46020000"
        let values = try map.decodeG(Array(g.utf8))
        #expect(values[0] == 1 && values[16] == 0xffff_ffff_81a0_1000 && values[17] == 0x246)
        #expect(values[18] == nil)
        #expect(throws: RSPError.self) { try map.decodeG(Array("012".utf8)) }
        // The step path: a short block goes through the general decoder, same names and values.
        let core = try map.decodeCore(Array(g.utf8))
        #expect(
            core.names == [
                "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
                "r13", "r14", "r15", "rip", "rflags",
            ])
        #expect(core["rax"] == 1 && core["rflags"] == 0x246)
        let full = g + String(repeating: "0", count: 2000)
        let fast = try map.decodeCore(Array(full.utf8))
        #expect(fast["rip"] == 0xffff_ffff_81a0_1000 && fast["cr3"] == 0 && fast.names.count == 33)
        #expect(Array(fast.names.prefix(18)) == core.names)
    }

    /// Damaged copies of the real descriptions parse or fail with RSPError: never a crash or a hang.
    @Test func survivesDamagedDescriptions() throws {
        let base = Fixtures.sourceDir.appendingPathComponent("qemu/gdb")
        let originals = try [
            "x86_64/i386-64bit.xml", "aarch64-el2/system-registers.xml", "aarch64-el2/aarch64-core.xml",
        ].map {
            Array(try Data(contentsOf: base.appendingPathComponent($0)))
        }
        var rng = SystemRandomNumberGenerator()
        for i in 0..<300 {
            var b = originals[i % originals.count]
            switch i % 3 {
            case 0: b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            case 1:
                for _ in 0..<8 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            default:
                let cut = Int.random(in: 0..<b.count, using: &rng)
                b.insert(contentsOf: Array("<xi:include href=\"target.xml\"/><!--".utf8), at: cut)
            }
            let damaged = b
            _ = try? TargetDescription.load { _ in damaged }
        }
    }

    @Test func followsIncludesAndRejectsBadXML() throws {
        let files: [String: String] = [
            "target.xml": "<target><architecture>aarch64</architecture><xi:include href='a.xml'/></target>",
            "a.xml":
                "<!DOCTYPE feature SYSTEM \"gdb-target.dtd\"><feature name=\"x\"><reg name=\"x30\" bitsize=\"64\" regnum=\"30\"/><reg name=\"cpsr\" bitsize=\"32\"/></feature>",
        ]
        let d = try TargetDescription.load { try #require(files[$0]).utf8.map { $0 } }
        #expect(d.registers.map(\.regnum) == [30, 31])
        #expect(d.registers.first?.feature == "x")
        for bad in [
            "<reg name=\"a\"/>", "<reg name=\"a\" bitsize=\"-1\"/>", "<reg name=\"a\" bitsize=\"64\" regnum=\"x\"/>",
            "<!-- unterminated", "<reg name=\"a", "<reg name=a bitsize=8/>", "<xi:include/>",
        ] {
            #expect(throws: RSPError.self, "\(bad)") { try TargetDescription.load { _ in Array(bad.utf8) } }
        }
        // An include cycle ends in an error, not a loop.
        #expect(throws: RSPError.self) {
            try TargetDescription.load { _ in Array("<xi:include href=\"target.xml\"/>".utf8) }
        }
    }
}
