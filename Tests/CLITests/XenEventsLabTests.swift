import Foundation
import Testing
import TestSupport
import VMICore

/// Checks what plans 30-events.sh and 40-step.sh (Tests/Lab/xen/plans) recorded in a real Xen
/// lab run: `VMI_XEN_LAB_OUT` is the OUTDIR of `Tests/Lab/xen/lab.sh run`. Skipped without it.
@Suite(.enabled(if: Lab.env("VMI_XEN_LAB_OUT") != nil, "no Xen lab results (set VMI_XEN_LAB_OUT)"))
struct XenEventsLabTests {
    static let out = URL(fileURLWithPath: Lab.env("VMI_XEN_LAB_OUT") ?? "/nonexistent")

    func text(_ plan: String, _ name: String) throws -> String {
        let url = Self.out.appendingPathComponent(plan).appendingPathComponent(name)
        return try String(contentsOf: url, encoding: .utf8)
    }

    func exit(_ plan: String, _ name: String) throws -> Int {
        Int(try text(plan, "\(name).exit").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func records(_ plan: String, _ name: String) throws -> [JSONValue] {
        try text(plan, "\(name).json").split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
    }

    func hex(_ v: JSONValue?) -> UInt64? { v?.stringValue.flatMap(parseUInt64) }

    /// Whether debug-register breakpoints fire in this lab. QEMU 7.2's TCG loads an SVM guest's
    /// DR7 on VMRUN by plain assignment, without arming its breakpoints (target/i386/tcg/sysemu/
    /// svm_helper.c, `helper_vmrun`; later QEMUs call cpu_x86_update_dr7), and its INT3 never
    /// checks the #BP intercept: no breakpoint of any kind reaches Xen there. What depends on one
    /// (hbreak hits, `break`/`continue`, `--until`, the step over an instruction Xen completes)
    /// is then a known issue of the lab, not a pass; on a host where they fire it must hold.
    static let debugRegistersFire: Bool = (try? XenEventsLabTests().records("30-events", "hbreak").isEmpty == false) ?? false

    func needingBreakpoints(_ body: () throws -> Void) {
        if Self.debugRegistersFire {
            do { try body() } catch { Issue.record(error) }
        } else {
            withKnownIssue("QEMU 7.2 TCG: guest debug-register breakpoints never reach Xen", isIntermittent: true) {
                try body()
            }
        }
    }

    func int(_ v: JSONValue?) -> Int? {
        if case .number(let n)? = v { return Int(n) }
        return nil
    }

    /// Every "check NAME: ok" line the plan printed held.
    @Test(arguments: ["30-events", "40-step"]) func planChecksHeld(plan: String) throws {
        let checks = try text(plan, "stdout").split(separator: "\n").filter { $0.hasPrefix("check ") }
        #expect(!checks.isEmpty)
        for c in checks { #expect(c.hasSuffix(": ok"), "\(c)") }
        #expect(try text(plan, "exit_code").hasPrefix("0"))
    }

    @Test func cr3EventsChainOldToNew() throws {
        #expect(try exit("30-events", "cr3") == 0)
        let events = try records("30-events", "cr3")
        #expect(events.count == 20)
        for e in events {
            #expect(e["type"]?.stringValue == "event" && e["event"]?.stringValue == "cr3")
            #expect(int(e["domid"]) != nil && int(e["vcpu"]) == 0)
            #expect(hex(e["old"]) != nil && hex(e["new"]) != nil && hex(e["old"]) != hex(e["new"]))
            // A CR3 is a page-aligned frame address (low 12 bits are PCID/flags: 0 without PCID).
            #expect((hex(e["new"]) ?? 1) & 0xfff == 0)
        }
        // One vCPU, every write reported in order: each write starts from the previous value.
        for (a, b) in zip(events, events.dropFirst()) { #expect(hex(a["new"]) == hex(b["old"])) }
    }

    @Test func cpuidEventsCarryRealResults() throws {
        #expect(try exit("30-events", "cpuid") == 0)
        let events = try records("30-events", "cpuid")
        #expect(events.count == 20)
        // cpuid-loop's marker leaf, or leaf 0 of the CPU-feature probes every new process runs.
        let leaves = Set(events.compactMap { hex($0["leaf"]) })
        #expect(leaves.contains(0x1337_1337) || leaves.contains(0))
        for e in events where hex(e["leaf"]) == 0 {
            // Leaf 0: the vendor string in ebx, edx, ecx ("AuthenticAMD" under TCG's -cpu max).
            let words = [e["ebx"], e["edx"], e["ecx"]].compactMap { hex($0) }.map(UInt32.init(truncatingIfNeeded:))
            let vendor = String(decoding: words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } },
                as: UTF8.self)
            #expect(vendor == "AuthenticAMD")
            #expect((hex(e["eax"]) ?? 0) >= 0xd)
        }
        for e in events where hex(e["leaf"]) == 0x1337_1337 {
            #expect(hex(e["eax"]) == 0 && hex(e["ebx"]) == 0)  // a leaf no CPU defines
            #expect(int(e["insn_length"]) == 2)
        }
    }

    /// hbreak@ on a kernel function the guest calls all the time: hits at that address, mixed
    /// with other events, and the debug registers given back (DR7 without our slot) afterwards.
    @Test func hardwareBreakpointOnAKernelFunctionHits() throws {
        let address = try parseUInt64(text("30-events", "breakpoint-address.txt").trimmingCharacters(in: .whitespacesAndNewlines))
        // Debug registers given back (DR7 without our slot) whether or not they fired.
        let regs = try records("30-events", "regs-after-hbreak")
        #expect(regs.count >= 1)
        for r in regs { #expect((hex(r["dr7"]) ?? 0) & 0xff == 0) }
        needingBreakpoints { try hardwareBreakpointHits(address ?? 0) }
    }

    func hardwareBreakpointHits(_ address: UInt64) throws {
        #expect(try exit("30-events", "hbreak") == 0)
        let hits = try records("30-events", "hbreak")
        #expect(hits.count == 5)
        for h in hits {
            #expect(h["event"]?.stringValue == "hbreak")
            #expect(hex(h["rip"]) == address)
        }
        let mixed = try records("30-events", "hbreak-cr3")
        #expect(mixed.count == 40)
        #expect(mixed.allSatisfy { $0["event"]?.stringValue == "cr3" || hex($0["rip"]) == address })
        #expect(mixed.contains { $0["event"]?.stringValue == "hbreak" })
    }

    @Test func everyExitPathEndsCleanly() throws {
        #expect(try exit("30-events", "timeout") == 0)
        #expect(try exit("30-events", "head") == 0)
        #expect(try records("30-events", "head").count == 3)
        #expect(try exit("30-events", "sigINT") == 130)
        #expect(try exit("30-events", "sigTERM") == 143)
        #expect(try exit("30-events", "sigHUP") == 129)
        for name in ["timeout", "head", "sigINT", "sigTERM", "sigHUP"] {
            #expect(try text("30-events", "\(name).err").isEmpty, "\(name)")
        }
    }

    @Test func oneMonitorPerDomainAndForce() throws {
        let busy = try text("30-events", "busy.err")
        #expect(try exit("30-events", "busy") == 1)
        #expect(busy.hasPrefix("vmi-watch: another monitor holds domain "))
        #expect(busy.contains("if it was killed, rerun with --force"))
        #expect(busy.split(separator: "\n").count == 1)
        #expect(try exit("30-events", "stale") == 1)
        #expect(try text("30-events", "stale.err").contains("another monitor holds"))
        #expect(try exit("30-events", "force") == 0)
        #expect(try records("30-events", "force").count == 5)
    }

    @Test func unsupportedKindsSayWhy() throws {
        let expected = [
            ("no-mem", "cannot watch mem: mem_access needs Intel EPT"),
            ("no-singlestep", "cannot watch singlestep: single-step events need the VMX monitor trap flag"),
            ("no-vmexit", "cannot watch vmexit: vmexit events come from Intel VMX only"),
            ("no-io", "cannot watch io:"),
            ("pv", "PV guests have no vm_event monitor"),
        ]
        for (name, message) in expected {
            #expect(try exit("30-events", name) == 1, "\(name)")
            let err = try text("30-events", "\(name).err")
            #expect(err.hasPrefix("vmi-watch: ") && err.contains(message), "\(name): \(err)")
        }
    }

    @Test func twoHundredConsecutiveSteps() throws {
        let steps = try records("40-step", "count200")
        #expect(try exit("40-step", "count200") == 0)
        #expect(steps.count == 200)
        for (i, s) in steps.enumerated() {
            #expect(s["type"]?.stringValue == "step" && int(s["n"]) == i + 1 && int(s["vcpu"]) == 0)
            #expect(hex(s["rip"]) != nil)
        }
        // Each step ends where the next one starts: the new rip is among the changed registers,
        // or absent when it did not change (one iteration of a rep string instruction).
        for (a, b) in zip(steps, steps.dropFirst()) {
            #expect((hex(a["regs"]?["rip"]) ?? hex(a["rip"])) == hex(b["rip"]), "step \(int(a["n"]) ?? 0)")
        }
        // Fell-through steps: rip advanced by exactly the length of the bytes recorded.
        let fellThrough = zip(steps, steps.dropFirst()).filter { a, b in
            guard let r = hex(a["rip"]), let n = hex(b["rip"]), let insn = a["insn"]?.stringValue else { return false }
            return n > r && n - r == UInt64(insn.count / 2)
        }
        #expect(fellThrough.count * 2 > steps.count)
        // A gap (the vCPU ran on unseen) only ever follows an instruction Xen completes, whose
        // step-over breakpoint did not fire: never an ordinary step.
        let gaps = steps.filter { $0["gap"] == .bool(true) }
        for g in gaps {
            let bytes = (g["insn"]?.stringValue).map(Self.bytes) ?? []
            #expect(TrapFlagHazard.classify(bytes) != nil, "gap after \(g["insn"]?.stringValue ?? "?")")
        }
        if !gaps.isEmpty {
            #expect(try text("40-step", "count200.err").contains("did not fire"))
            #expect(!Self.debugRegistersFire)
        }
    }

    static func bytes(_ hexString: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hexString.startIndex
        while let j = hexString.index(i, offsetBy: 2, limitedBy: hexString.endIndex), i < j {
            if let b = UInt8(hexString[i..<j], radix: 16) { out.append(b) }
            i = j
        }
        return out
    }

    @Test func stepExitPathsAndForce() throws {
        #expect(try exit("40-step", "timeout") == 0)
        #expect(try exit("40-step", "head") == 0)
        #expect(try records("40-step", "head").count == 5)
        for (name, status) in [("sigINT", 130), ("sigTERM", 143)] {
            // A step over an instruction Xen completes may end the run first (no breakpoint fires).
            let got = try exit("40-step", name)
            if try text("40-step", "\(name).err").contains("did not stop within") {
                needingBreakpoints { #expect(got == status) }
            } else {
                #expect(try exit("40-step", name) == status)
            }
        }
        #expect(try exit("40-step", "stale") == 1)
        #expect(try text("40-step", "stale.err").contains("another monitor holds"))
        #expect(try exit("40-step", "force") == 0)
        #expect(try records("40-step", "force").count == 5)
        #expect(try exit("40-step", "pv") == 1)
        #expect(try text("40-step", "pv.err").contains("cannot single-step: PV guests have no vm_event monitor"))
    }

    @Test func consoleThroughStdin() throws {
        #expect(try text("40-step", "console.err").contains("vmi-step: unknown command 'bogus'") || !Self.debugRegistersFire)
        needingBreakpoints { try consoleBreakpoints() }
    }

    /// `break`, `continue` and `--until` stop at a debug-register breakpoint.
    func consoleBreakpoints() throws {
        #expect(try exit("40-step", "console") == 0)
        let address = try parseUInt64(text("40-step", "console-break.txt").trimmingCharacters(in: .whitespacesAndNewlines))
        let recs = try records("40-step", "console")
        let types = recs.compactMap { $0["type"]?.stringValue }
        #expect(types == ["regs", "step", "step", "step", "mem", "breakpoints", "breakpoints", "stop", "step", "breakpoints"])
        let stop = recs.first { $0["type"]?.stringValue == "stop" }
        #expect(hex(stop?["rip"]) == address)
        // mem shows the guest's byte, not our 0xCC (the breakpoint went in after it, anyway).
        let mem = recs.first { $0["type"]?.stringValue == "mem" }
        #expect(mem?["bytes"]?.stringValue?.count == 32)
        #expect(try text("40-step", "console.err").contains("vmi-step: unknown command 'bogus'"))
        #expect(try exit("40-step", "until") == 0)
        let until = try records("40-step", "until")
        #expect(until.count == 5 && hex(until.first?["rip"]) == address)
    }
}
