// vmi-bench: release-mode benchmarks for the figures DESIGN.md names.
// Usage: swift run -c release --package-path Benchmarks vmi-bench [NAME...]   (no names: every benchmark that needs no lab)
let requested = Set(CommandLine.arguments.dropFirst())
func wanted(_ name: String) -> Bool { requested.isEmpty || requested.contains(name) }

if wanted("encoder") { benchEncoder(records: 5_000_000) }
if wanted("evtchn") { benchEventChannels() }
