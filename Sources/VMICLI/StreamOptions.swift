import ArgumentParser
import VMICore

/// Options every streaming tool shares (vmi-watch, vmi-step): how long, how many, which vCPU.
public struct StreamOptions: ParsableArguments {
    @Option(help: "Only this vCPU.")
    public var vcpu: Int?

    @Option(help: "Stop after N records.")
    public var count: Int?

    @Option(help: ArgumentHelp("Stop after this long: 10s, 500ms, 2m (plain numbers are seconds).", valueName: "duration"))
    public var timeout: String?

    @Flag(help: "Reclaim a monitor left behind by a killed listener (Xen).")
    public var force = false

    public init() {}

    public func validate() throws {
        if let c = count, c <= 0 { throw ValidationError("--count must be > 0") }
        if let v = vcpu, v < 0 { throw ValidationError("--vcpu must be >= 0") }
        if let t = timeout, parseDuration(t) == nil {
            throw ValidationError("--timeout expects a duration such as 10s, 500ms or 2m, got '\(t)'")
        }
    }

    /// The listen options for a loop starting now: deadline from --timeout, stop fd from Signals.
    public func listenOptions(sync: Bool = false) -> ListenOptions {
        ListenOptions(
            vcpu: vcpu, sync: sync,
            deadline: timeout.flatMap(parseDuration).map { monotonicSeconds() + $0 },
            stopFD: Signals.wakeFD, force: force)
    }
}

/// `10s`, `500ms`, `2m`, `1h`, `1.5` (seconds) -> seconds.
public func parseDuration(_ text: String) -> Double? {
    let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        guard let v = Double(text.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
        return v * scale
    }
    guard let v = Double(text), v >= 0, v.isFinite else { return nil }
    return v
}
