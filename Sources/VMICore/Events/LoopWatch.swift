/// Notices a stepped vCPU that goes round the same few instructions for a long time.
///
/// On Xen every step deschedules the vCPU, and Xen updates the guest's runstate area each time:
/// Linux's runstate snapshot loop (retry while the area changed) then never finishes while it is
/// stepped (notes/amd-single-step.md). It recovers once stepping stops, so the tool reports the
/// loop instead of hanging silently in it. A real spin loop looks the same: the notice says "may".
public struct LoopWatch: Sendable {
    /// Distinct rips a loop may have.
    public var window = 32
    /// Consecutive steps inside the window before the notice.
    public var threshold = 2000
    private var recent: [UInt64] = []
    private var next = 0
    private var inLoop = 0
    private var reported = false

    public init(window: Int = 32, threshold: Int = 2000) {
        self.window = window
        self.threshold = threshold
    }

    /// Records one stop; returns a notice the first time the threshold is crossed.
    public mutating func observe(_ rip: UInt64, vcpu: Int) -> String? {
        if recent.contains(rip) { inLoop += 1 } else { inLoop = 0 }
        if recent.count < window { recent.append(rip) } else { recent[next] = rip }
        next = (next + 1) % window
        guard inLoop >= threshold, !reported else { return nil }
        reported = true
        let lo = recent.min() ?? rip
        let hi = recent.max() ?? rip
        return "vcpu \(vcpu) has stayed in a loop at \(hex(lo))-\(hex(hi)) for \(inLoop) steps; it may be a loop "
            + "that cannot finish while stepped (Linux's runstate retry loop: a livelock that ends when stepping stops)"
    }
}
