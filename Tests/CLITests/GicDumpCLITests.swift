import Foundation
import TestSupport
import Testing

/// vmi-gic-dump spawned as users run it: stdout, stderr, exit status.
@Suite struct GicDumpCLITests {
    let tool = "vmi-gic-dump"

    func records(_ r: ToolResult) throws -> [[String: Any]] {
        try r.lines.map { line in
            #expect(line.hasPrefix("{\"type\":\"gic_"), "first key is type: \(line)")
            return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test func decodesRawWords() throws {
        let r = try Tools.run(tool, ["--decode", "ich_lr=0xa0a0001b0000001b", "--decode", "ich_vmcr=0xf04c000a"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        #expect(
            r.lines.first
                == #"{"type":"gic_decode","register":"ich_lr_el2","raw":"0xa0a0001b0000001b","vintid":27,"kind":"ppi","pintid":27,"state":"active","priority":160,"group":0,"hw":true,"nmi":false,"name":"virt_timer"}"#
        )
        #expect(
            r.lines.last
                == #"{"type":"gic_decode","register":"ich_vmcr_el2","raw":"0xf04c000a","veng0":false,"veng1":true,"vackctl":false,"vfiqen":true,"vcbpr":false,"veoim":false,"vbpr1":3,"vbpr0":2,"vpmr":240}"#
        )
    }

    @Test func usageErrors() throws {
        let bad = try Tools.run(tool, ["--decode", "ich_lr=zz"])
        #expect(bad.status == 2 && bad.stdout.isEmpty)
        #expect(bad.stderr.hasPrefix("vmi-gic-dump: --decode expects NAME=WORD"))
        let none = try Tools.run(tool, [])
        #expect(none.status == 2 && none.stderr.contains("missing TARGET"))
        let unknown = try Tools.run(tool, ["--decode", "ich_nope=1"])
        #expect(unknown.status == 1 && unknown.stderr.hasPrefix("vmi-gic-dump: unknown register 'ich_nope'"))
    }

    @Test func kvmVGICState() throws {
        let path = try Fixtures.require("kvm/vgic-state.txt")
        let r = try Tools.run(tool, ["kvm-vgic:\(path)"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let recs = try records(r)
        let types: [String] = recs.map { $0["type"] as? String ?? "" }
        let targets: [String] = recs.map { $0["target"] as? String ?? "" }
        #expect(types.first == "gic_dist" && recs.first?["nr_spis"] as? Int == 32)
        // 16 SGIs + the timer on each vCPU, SPIs 33, 48, 49, LPI 8192.
        #expect(types.filter { $0 == "gic_irq" }.count == 2 * 17 + 3 + 1)
        #expect(targets.allSatisfy { $0 == "kvm-vgic:\(path)" })
        let one = try Tools.run(tool, ["kvm-vgic:\(path)", "--vcpu", "1", "--all"])
        let vcpus: [Int] = try records(one).compactMap { $0["vcpu"] as? Int }
        #expect(!vcpus.isEmpty && vcpus.allSatisfy { $0 == 1 })
    }

    @Test func garbageConsoleOnStdin() throws {
        let r = try Tools.run(tool, ["console:-"], stdin: Data("no debug keys here\n\u{1b}[31m\n".utf8))
        #expect(r.status == 1 && r.stdout.isEmpty)
        #expect(
            r.stderr == "vmi-gic-dump: 'console:-': no 'GICH_LRs' lines: not the output of Xen on Arm's 'q' debug key\n"
        )
    }

    @Test func notAStream() throws {
        let path = try Fixtures.require("kvm/vgic-state.txt")
        let r = try Tools.run(tool, ["vmstate:\(path)"])
        #expect(r.status == 1 && r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("vmi-gic-dump: '\(path)': not a QEMU migration stream"))
    }

    /// The lab's Xen on Arm capture: dom0's vCPU 1 ran the handler (HW_LR), the guest's vCPU is
    /// shown from Xen's saved copy; both hold the virtual timer PPI.
    @Test func xenConsoleCapture() throws {
        guard let path = Fixtures.path("xen-arm/debug-keys-q.txt") else { return }  // lab absent: skipped
        let r = try Tools.run(tool, ["console:\(path)"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let lrs = try records(r).filter { $0["type"] as? String == "gic_lr" }
        #expect(!lrs.isEmpty)
        #expect(lrs.allSatisfy { $0["state"] as? String != "invalid" })
        #expect(lrs.contains { $0["origin"] as? String == "hardware" })
        #expect(lrs.contains { $0["name"] as? String == "virt_timer" && $0["vintid"] as? Int == 27 })
        let all = try Tools.run(tool, ["console:\(path)", "--all", "--text"])
        #expect(all.status == 0 && all.stdout.contains("virt_timer"))
    }

    @Test(arguments: ["aarch64", "aarch64-el2"])
    func migrationStream(guest: String) throws {
        guard let path = Fixtures.path("qemu/\(guest).migration") else { return }  // lab absent: skipped
        let r = try Tools.run(tool, ["vmstate:\(path)"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let recs = try records(r)
        let dist = try #require(recs.first)
        #expect(dist["type"] as? String == "gic_dist")
        #expect((dist["ctlr"] as? [String: Any])?["raw"] as? String == "0x53")
        let cpu = try #require(recs.first { $0["type"] as? String == "gic_cpu" })
        #expect((cpu["ich_hcr_el2"] != nil) == (guest == "aarch64-el2"))
        #expect(
            recs.contains {
                $0["type"] as? String == "gic_irq" && $0["intid"] as? Int == 27 && $0["enabled"] as? Bool == true
            })
        let text = try Tools.run(tool, ["vmstate:\(path)", "--text", "--vcpu", "0"])
        #expect(text.status == 0 && text.stdout.hasPrefix("distributor  ctlr 0x53"))
    }
}
