import Foundation

/// Wall time of `body` in seconds (CLOCK_MONOTONIC).
func measure(_ body: () -> Void) -> Double {
    var a = timespec(), b = timespec()
    clock_gettime(CLOCK_MONOTONIC, &a)
    body()
    clock_gettime(CLOCK_MONOTONIC, &b)
    return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
}

/// Best of `runs` timings: the least disturbed by whatever else the machine is doing.
func best(of runs: Int, _ body: () -> Void) -> Double {
    (0..<runs).map { _ in measure(body) }.min() ?? 0
}

/// One line per benchmark: `name key=value ...`, easy to grep into a closing note.
func report(_ name: String, _ pairs: [(String, String)]) {
    print(([name] + pairs.map { "\($0)=\($1)" }).joined(separator: " "))
}
