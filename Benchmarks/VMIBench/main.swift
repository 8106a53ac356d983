// vmi-bench: release-mode benchmarks for the figures DESIGN.md names.
// Usage: swift run -c release --package-path Benchmarks vmi-bench [NAME...]
//   names: encoder evtchn watch gdb   (no names: every benchmark that needs no lab)
//   gdb needs a live stub: VMI_BENCH_GDB=127.0.0.1:PORT (the QEMU lab prints one).
//   VMI_BENCH_EVENTS=N, VMI_BENCH_RECORDS=N: watch's events, encoder's records per run
//   (1,000,000 each; fewer under callgrind).
import Foundation

let requested = Set(CommandLine.arguments.dropFirst())
func wanted(_ name: String) -> Bool { requested.isEmpty || requested.contains(name) }

let environment = ProcessInfo.processInfo.environment
if wanted("encoder") { benchEncoder(records: environment["VMI_BENCH_RECORDS"].flatMap { Int($0) } ?? 1_000_000) }
if wanted("evtchn") { benchEventChannels() }
if wanted("watch") {
    benchWatchPerEvent(events: environment["VMI_BENCH_EVENTS"].flatMap { Int($0) } ?? 1_000_000)
}
if requested.contains("gdb") {
    guard let spec = ProcessInfo.processInfo.environment["VMI_BENCH_GDB"],
        let colon = spec.lastIndex(of: ":"), let port = UInt16(spec[spec.index(after: colon)...])
    else {
        print("gdb: set VMI_BENCH_GDB=HOST:PORT to a live gdbstub")
        exit(2)
    }
    do { try benchGDBStep(host: String(spec[..<colon]), port: port) } catch { print("gdb: \(error)"); exit(1) }
}
