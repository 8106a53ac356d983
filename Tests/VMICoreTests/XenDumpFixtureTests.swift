import Foundation
import TestSupport
import Testing

@testable import VMICore

/// The Xen lab's `xl dump-core` of a PV guest (Tests/Fixtures/xen-x86/README.md), checked
/// against `xenctx -a -C` taken with the domain paused, and against the code bytes xenctx read
/// through Xen's own translation (xc_translate_foreign_address).
@Suite struct XenDumpFixtureTests {
    static func open() throws -> XenDumpCore? {
        guard let path = Fixtures.path("xen-x86/pvguest.core") else {
            print("skipped: fixture 'xen-x86/pvguest.core' is absent (make it with the Xen lab)")
            return nil
        }
        return try #require(try openCoreDump(path: path) as? XenDumpCore)
    }

    @Test func layoutIsAPVDump() throws {
        guard let dump = try Self.open() else { return }
        #expect(dump.layout.isPV)
        #expect(dump.layout.pageSize == 4096)
        #expect(dump.layout.vcpuCount >= 1)
        #expect(dump.layout.xenVersion?.hasPrefix("4.") == true)
        #expect(dump.sharedInfo?.count == 4096)
    }

    @Test func registersMatchXenctx() throws {
        guard let dump = try Self.open(), let text = GroundTruth.text("xen-x86/pvguest.xenctx.txt") else { return }
        let truth = GroundTruth.xenctx(text)
        #expect(truth.count == dump.layout.vcpuCount)
        for (vcpu, want) in truth.enumerated() where vcpu < dump.layout.vcpuCount {
            let regs = try dump.registers(vcpu: vcpu)
            #expect(want.count >= 30, "xenctx parse of vcpu \(vcpu): \(want.keys.sorted())")
            for (name, value) in want where !name.hasPrefix("gs_base") {
                #expect(
                    regs[name] == value,
                    "vcpu \(vcpu) \(name): dump \(regs[name].map(hex) ?? "none"), xenctx \(hex(value))")
            }
            // xenctx prints gs_base_kernel/gs_base_user; records name the live one gs_base.
            let bases = [regs["gs_base"], regs["kernel_gs_base"]].compactMap { $0 }
            #expect(Set(bases) == Set([want["gs_base_kernel"], want["gs_base_user"]].compactMap { $0 }))
        }
    }

    @Test func codeBytesMatchXensOwnTranslation() throws {
        guard let dump = try Self.open(), let text = GroundTruth.text("xen-x86/pvguest.xenctx.txt") else { return }
        let code = GroundTruth.xenctxCode(text)
        #expect(!code.isEmpty)
        for (vcpu, c) in code.enumerated() where vcpu < dump.layout.vcpuCount {
            let vm = try dump.virtualMemory(vcpu: vcpu)
            #expect(try vm.read(c.address, count: c.bytes.count) == c.bytes, "vcpu \(vcpu) code at \(hex(c.address))")
        }
    }

    /// The words xenctx printed from vcpu 0's stack (its "Stack:" rows start at rsp), through a
    /// vmalloc'd kernel stack: a walk through other tables than the kernel image's.
    @Test func stackWordsMatchXenctx() throws {
        guard let dump = try Self.open(), let text = GroundTruth.text("xen-x86/pvguest.xenctx.txt") else { return }
        let words = try #require(GroundTruth.xenctxWords(text, header: "Stack:"))
        #expect(words.count >= 32)
        let rsp = try #require(try dump.registers(vcpu: 0)["rsp"])
        #expect(try dump.virtualMemory(vcpu: 0).read(rsp, count: words.count) == words)
    }


    /// `xenctx -d linux_banner -b 16 -l 8 -D` (memory printed as a stack from the symbol's
    /// address, through Xen's translation) against the dump's own walk, when xenctx printed any.
    @Test func bannerBytesMatchXenctx() throws {
        guard let dump = try Self.open(), let symbols = GroundTruth.text("xen-x86/pvguest.symbols.txt") else { return }
        let banner = try #require(GroundTruth.labSymbols(symbols)["linux_banner"])
        let vm = try dump.virtualMemory(vcpu: 0)
        // The guest printed its own version line from /proc/version: the banner must start with it.
        let version = try #require(symbols.split(separator: "\n").first { $0.hasPrefix("version ") }?.dropFirst(8))
        #expect(String(decoding: try vm.read(banner, count: version.utf8.count), as: UTF8.self) == String(version))
        guard let text = GroundTruth.text("xen-x86/pvguest.xenctx-d-banner.txt"),
            let words = GroundTruth.xenctxWords(text, header: "Stack:"), !words.isEmpty else {
            print("skipped: xenctx printed no words from linux_banner")
            return
        }
        #expect(try vm.read(banner, count: words.count) == words)
    }
}
