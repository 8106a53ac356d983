import Foundation
import Testing
import TestSupport

/// Checks what plan 50-faults.sh (Tests/Lab/xen/plans) recorded in a real Xen lab run: vmi-watch
/// and vmi-step on the PVH guest ended at random moments by every way a tool can end, and the
/// guest's state after each. Skipped without `VMI_XEN_LAB_OUT`.
@Suite(.enabled(if: XenLab.isAvailable, "no Xen lab results (set VMI_XEN_LAB_OUT)"))
struct XenFaultsLabTests {
    /// "n tool how delay exit=N verdict" lines, one a trial.
    func trials() throws -> [[Substring]] {
        let plan = try XenLab.plan("50-faults")
        return (plan.text("trials.txt") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
    }

    @Test func everyTrialLeavesTheGuestRunningAndClean() throws {
        let all = try trials()
        #expect(all.count >= 24)
        for t in all { #expect(t.last == "ok", "\(t.joined(separator: " "))") }
        // Every way to end was tried, and each ended as the tool promises.
        let hows = Set(all.compactMap { $0.count > 2 ? String($0[2]) : nil })
        #expect(hows == ["SIGINT", "SIGTERM", "SIGHUP", "head", "timeout", "KILL"])
        let expected = ["SIGINT": "exit=130", "SIGTERM": "exit=143", "SIGHUP": "exit=129", "head": "exit=0", "timeout": "exit=0"]
        for t in all where t.count > 4 {
            if let want = expected[String(t[2])] { #expect(t[4] == want, "\(t.joined(separator: " "))") }
        }
    }

    @Test func aDomainThatVanishesEndsTheListenerWithOneLine() throws {
        let plan = try XenLab.plan("50-faults")
        #expect(plan.text("vanish.exit")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let err = plan.text("vanish.err") ?? ""
        #expect(err.hasPrefix("vmi-watch: "))
        #expect(err.split(separator: "\n").count == 1)
        #expect(plan.text("gone-regs.exit")?.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect((plan.text("gone-regs.err") ?? "").hasPrefix("vmi-regs: "))
    }
}
