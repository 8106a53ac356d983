import Foundation
import Testing
import TestSupport
import VMICore

/// The README's Cookbook, run: each recipe is read from README.md (so the doc and the test cannot
/// drift) and run through /bin/sh with the built tools on PATH and jq, its live Xen domain
/// standing for something this machine really has (`Cookbook.standIns`):
/// - fixtures: the lab's captures (an `xl dump-core`, a migration stream) in place of `web01`,
///   and an `xl` shell function that replays Xen's real `xl dmesg` after a debug key;
/// - the QEMU lab: the x86_64 guest's gdbstub, for the step and watch recipes gdb supports
///   (`CookbookLabTests`, under `make lab-test`);
/// - the Xen lab: recipes only Xen serves (CR3, CPUID events). Their vmi-watch stage is run live
///   in dom0 by plan 30-events.sh (checked here to be the README's command), and the rest of the
///   pipeline on the host over what it recorded (`XenLabCookbookTests`; dom0 has no jq).
enum Cookbook {
    struct Recipe: CustomStringConvertible {
        var title: String
        var command: String
        var description: String { title }
    }

    enum Source: Sendable {
        case fixtures
        case qemuLab
        /// The vmi-watch case of plan 30-events.sh that ran the recipe's first stage in dom0.
        case xenLab(planCase: String)
    }

    /// How a recipe runs here. `replace` pairs are applied to the command in order, and each
    /// must match (a recipe edited in the README fails loudly instead of running something else).
    /// `{fixture:NAME}`, `{gdb}` (the x86_64 lab guest's TARGET) and `{lab-state}` (its state
    /// folder) are resolved when the recipe runs.
    struct StandIn: Sendable {
        var source: Source
        var replace: [(String, String)] = []
        var prelude = ""
        var check: @Sendable (_ lines: [String], _ dir: URL) throws -> Void
    }

    /// `xl` for the recipes that read Xen's console: `debug-keys` does nothing (the capture was
    /// taken right after the key), `dmesg` prints the captured console ring.
    static func xl(replaying fixture: String) -> String {
        """
        xl() { case $1 in debug-keys) ;; dmesg) cat '{fixture:\(fixture)}' ;; \
        *) echo "xl stand-in: $*" >&2; return 1 ;; esac; }

        """
    }

    static let xenEvtchnConsole = "xen-x86/evtchn/debug-keys-e.txt"
    static let hexCount = #"^ *[0-9]+ 0x[0-9a-f]+$"#

    static let standIns: [String: StandIn] = [
        "Audit the event channels of every domain into a dated NDJSON file (/etc/cron.d/vmi-evtchn)": StandIn(
            source: .fixtures, replace: [("/var/log/", "./")], prelude: xl(replaying: xenEvtchnConsole)
        ) { lines, dir in
            #expect(lines.isEmpty, "the audit writes to its file only")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".ndjson") }
            #expect(files.count == 1 && files.allSatisfy { matches($0, #"^vmi-evtchn-\d{4}-\d\d-\d\d\.ndjson$"#) }, "\(files)")
            let records = try jsonLines(String(contentsOf: dir.appendingPathComponent(files.first ?? "-"), encoding: .utf8))
            #expect(records.count == 46, "32 + 8 + 6 ports of dom0, pvguest and pvhguest")
            #expect(Set(records.compactMap { $0["domid"].flatMap(int) }) == [0, 1, 2])
            for r in records {
                #expect(r["type"]?.stringValue == "evtchn")
                #expect(r["at"]?.stringValue.map { matches($0, #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#) } == true)
            }
        },
        "Event channels pending but masked: events the guest will not see until it unmasks them": StandIn(
            source: .fixtures, replace: [("web01", "console:{fixture:\(xenEvtchnConsole)}")]
        ) { lines, _ in
            let records = try jsonLines(lines.joined(separator: "\n"))
            // dom0's ports 2 and 12 (IPIs) were pending and masked when Xen printed them.
            #expect(records.map { "\(int($0["domid"]!)!):\(int($0["port"]!)!)" } == ["0:2", "0:12"])
            for r in records { #expect(r["pending"] == .bool(true) && r["masked"] == .bool(true)) }
        },
        "Every domain's ports bound to dom0 (its backends), with the peer port": StandIn(
            source: .fixtures, prelude: xl(replaying: xenEvtchnConsole)
        ) { lines, _ in
            // The guests' xenstore and console rings (lsevtchn shows the same pairs).
            #expect(
                lines == [
                    "dom1 port 1 -> dom0 port 29", "dom1 port 2 -> dom0 port 30", "dom2 port 1 -> dom0 port 31",
                    "dom2 port 2 -> dom0 port 32",
                ])
        },
        "Registers of every vCPU as a table": StandIn(
            source: .fixtures, replace: [("web01", "core:{fixture:xen-x86/pvguest.core}")]
        ) { lines, _ in
            // xenctx -a -C 1 printed rip ffffffff819f6a07, rsp ffffc900405f3c00 at the same pause.
            #expect(lines.count == 1 && lines.first?.hasPrefix("0\t0xffffffff819f6a07\t0xffffc900405f3c00\t0x") == true)
        },
        "CR3 writes of one domain for 10 s, counted per process root (page-table base)": StandIn(
            source: .xenLab(planCase: "rate-cr3")
        ) { lines, _ in
            #expect(!lines.isEmpty && lines.allSatisfy { matches($0, hexCount) }, "\(lines)")
        },
        "Which CPUID leaves a domain asks for, in 10 s": StandIn(source: .xenLab(planCase: "rate-cpuid")) { lines, _ in
            #expect(!lines.isEmpty && lines.allSatisfy { matches($0, hexCount) }, "\(lines)")
        },
        "Registers before and after one instruction: what the step changed": StandIn(
            source: .qemuLab, replace: [("web01", "{gdb}")]
        ) { lines, _ in
            // Every instruction moves rip; each line is "AT NAME: BEFORE -> AFTER" with AT the same.
            let pattern = #"^0x[0-9a-f]+ [a-z0-9_]+: 0x[0-9a-f]+ -> 0x[0-9a-f]+$"#
            #expect(lines.allSatisfy { matches($0, pattern) }, "\(lines)")
            #expect(lines.contains { $0.contains(" rip: ") }, "\(lines)")
            #expect(Set(lines.map { $0.split(separator: " ")[0] }).count == 1)
        },
        "Where vCPU 0 spends its time: the hottest instruction addresses in 1000 steps": StandIn(
            source: .qemuLab, replace: [("web01", "{gdb}")]
        ) { lines, _ in
            #expect((1...5).contains(lines.count) && lines.allSatisfy { matches($0, hexCount) }, "\(lines)")
            #expect(lines.map(count).reduce(0, +) <= 1000)
        },
        "Which code writes a kernel variable (address from the guest kernel's System.map)": StandIn(
            source: .qemuLab, replace: [("web01", "{gdb}")],
            // The guest's own /proc/kallsyms lines, as its /init printed them, in System.map's layout.
            prelude: """
                tr -d '\\r' < '{lab-state}/console.log' | awk '$1 == "vmi-lab" && $2 == "sym" \
                { sub(/^0x/, "", $4); print $4, $5, $3 }' > System.map

                """
        ) { lines, _ in
            #expect(!lines.isEmpty && lines.allSatisfy { matches($0, hexCount) }, "\(lines)")
            #expect(lines.map(count).reduce(0, +) == 5)
        },
        "Enabled SPIs of an Arm guest and where they are routed (Aff3.Aff2.Aff1.Aff0, or \"any\")": StandIn(
            source: .fixtures, replace: [("vmstate:guest.mig", "vmstate:{fixture:xen-arm/vgic.migstream}")]
        ) { lines, _ in
            // Xen on Arm as the guest: its UART, and the virtio-mmio devices of QEMU virt.
            #expect(lines == ["33 0.0.0.0 level", "34 0.0.0.0 level", "39 0.0.0.0 level", "78 0.0.0.0 edge", "79 0.0.0.0 edge"])
        },
        "Xen on Arm: the vCPU holding the most pending list registers": StandIn(
            source: .fixtures, prelude: xl(replaying: "xen-arm/xl-dmesg.txt")
        ) { lines, _ in
            // Dom0's vCPU 1 had the virtual timer (PPI 27) pending in HW_LR[0]; vCPU 0's LRs were empty.
            #expect(lines == [#"{"domid":0,"vcpu":1,"pending":1}"#])
        },
        "Decode a list register by hand (a word from a trace, a crash log or a 'q' dump)": StandIn(source: .fixtures)
        { lines, _ in
            #expect(lines == [#"{"vintid":27,"name":"virt_timer","state":"pending","priority":160,"group":1,"hw":false}"#])
        },
    ]

    /// The recipes of README.md's "## Cookbook": in its ```sh block, a `# title` line, then the
    /// command (one line, or several joined by a trailing backslash).
    static func recipes() throws -> [Recipe] {
        let readme = try String(contentsOf: Tools.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: "\n## Cookbook\n"),
            let open = readme.range(of: "\n```sh\n", range: section.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```\n", range: open.upperBound..<readme.endIndex)
        else { throw CookbookMissing() }
        var recipes: [Recipe] = []
        var title: String?
        var command = ""
        for line in readme[open.upperBound..<close.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# ") {
                title = String(line.dropFirst(2))
            } else if let t = title, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                command += line.hasSuffix("\\") ? String(line.dropLast()) : String(line)
                if !line.hasSuffix("\\") {
                    recipes.append(Recipe(title: t, command: command))
                    title = nil
                    command = ""
                }
            }
        }
        return recipes
    }

    static func recipe(_ title: String) throws -> Recipe {
        guard let r = try recipes().first(where: { $0.title == title }) else { throw CookbookMissing(title: title) }
        return r
    }

    /// The command as a shell runs it: a crontab line loses its schedule and user fields (cron
    /// turns `\%` into `%`; so does the shell), then the stand-in's replacements apply.
    static func script(_ recipe: Recipe, _ standIn: StandIn) throws -> String {
        var command = recipe.command
        if let cron = command.range(of: #"^([0-9*/,-]+ +){5}[a-z_][a-z0-9_-]* +"#, options: .regularExpression) {
            command.removeSubrange(cron)
        }
        for (from, to) in standIn.replace {
            guard command.contains(from) else { throw StandInStale(title: recipe.title, text: from) }
            command = command.replacingOccurrences(of: from, with: to)
        }
        return try resolve(standIn.prelude + command)
    }

    static func resolve(_ text: String) throws -> String {
        var out = text
        while let m = out.range(of: #"\{fixture:[^}]+\}"#, options: .regularExpression) {
            out.replaceSubrange(m, with: try Fixtures.require(String(out[m].dropFirst(9).dropLast())))
        }
        let guest = QEMULab.guest(.x86_64)
        out = out.replacingOccurrences(of: "{gdb}", with: guest?.gdbTarget ?? "gdb:lab-not-running:0")
        out = out.replacingOccurrences(of: "{lab-state}", with: guest?.stateDir ?? "/nonexistent")
        return out
    }

    /// Runs a recipe in a fresh folder and hands its stdout lines to the stand-in's check.
    static func run(_ title: String, stdinFile: URL? = nil, transform: (String) throws -> String = { $0 }) throws {
        guard let standIn = standIns[title] else { throw CookbookMissing(title: title) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cookbook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = try transform(script(try recipe(title), standIn))
        let r = try Tools.shell(script, in: dir, timeout: 180)
        #expect(r.status == 0 && r.stderr.isEmpty, "\(title): exit \(r.status), stderr: \(r.stderr)\nscript: \(script)")
        try standIn.check(r.stdout.isEmpty ? [] : r.lines.map(String.init), dir)
    }

    static func titles(_ where: (Source) -> Bool) -> [String] {
        standIns.filter { `where`($0.value.source) }.keys.sorted()
    }

    static func matches(_ text: String, _ pattern: String) -> Bool {
        text.range(of: pattern, options: .regularExpression) != nil
    }

    static func jsonLines(_ text: String) throws -> [JSONValue] {
        try text.split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
    }

    static func int(_ v: JSONValue) -> Int? {
        if case .number(let n) = v { return Int(n) }
        return nil
    }

    /// The count of a `uniq -c` line.
    static func count(_ line: String) -> Int { Int(line.split(separator: " ").first ?? "") ?? 0 }
}

struct CookbookMissing: Error, CustomStringConvertible {
    var title: String?
    var description: String {
        title.map { "no cookbook recipe or stand-in titled '\($0)'" } ?? "README.md has no '## Cookbook' ```sh block"
    }
}

struct StandInStale: Error, CustomStringConvertible {
    var title: String
    var text: String
    var description: String { "cookbook recipe '\(title)' no longer contains '\(text)': update its stand-in" }
}

@Suite struct CookbookTests {
    /// Every recipe has a stand-in and every stand-in a recipe; there are at least eight.
    @Test func everyRecipeRuns() throws {
        let titles = try Cookbook.recipes().map(\.title)
        #expect(titles.count >= 8)
        #expect(Set(titles).count == titles.count, "duplicate titles")
        #expect(Set(titles) == Set(Cookbook.standIns.keys), "recipes without stand-ins or stand-ins without recipes")
        for t in titles { _ = try Cookbook.script(try Cookbook.recipe(t), Cookbook.standIns[t]!) }
    }

    /// The runner hands back the script's own exit status, and the shell leads its own process
    /// group, which the runner's timeout kills whole.
    @Test func shellRunnerKeepsStatusAndGroup() throws {
        let r = try Tools.shell("echo $$ $(cut -d' ' -f5 /proc/$$/stat); exit 3", in: FileManager.default.temporaryDirectory)
        #expect(r.status == 3)
        let ids = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(ids.count == 2 && ids[0] == ids[1], "pid and process group: \(r.stdout)")
        // SIGPIPE as in a user's shell: a writer whose reader is gone ends quietly (with it
        // ignored, `yes` would say "Broken pipe" on stderr; a recipe's `sort | head` did).
        let pipe = try Tools.shell("yes | head -n 1", in: FileManager.default.temporaryDirectory)
        #expect(pipe.status == 0 && pipe.stdout == "y\n" && pipe.stderr.isEmpty, "\(pipe)")
    }

    @Test(arguments: Cookbook.titles { if case .fixtures = $0 { true } else { false } })
    func onFixtures(title: String) throws {
        try Cookbook.run(title)
    }

    /// The Xen-only recipes' first stage is what plan 30-events.sh runs in dom0: `vmi-watch
    /// web01 ARGS` there as `run CASE "$D" ARGS`.
    @Test(arguments: Cookbook.titles { if case .xenLab = $0 { true } else { false } })
    func xenStageIsThePlans(title: String) throws {
        guard case .xenLab(let planCase) = Cookbook.standIns[title]!.source else { return }
        let stage = try Cookbook.recipe(title).command.components(separatedBy: " | ")[0]
        #expect(stage.hasPrefix("vmi-watch web01 "))
        let line = "run \(planCase) \"$D\" " + stage.dropFirst("vmi-watch web01 ".count)
        let plan = try String(
            contentsOf: Tools.repoRoot.appendingPathComponent("Tests/Lab/xen/plans/30-events.sh"), encoding: .utf8)
        #expect(plan.split(separator: "\n").contains { $0 == line }, "30-events.sh lacks: \(line)")
    }
}

/// The recipes a gdbstub serves, against the QEMU lab's x86_64 guest (`make lab-test`).
@Suite(.enabled(if: QEMULab.guest(.x86_64) != nil, Comment(rawValue: QEMULab.skipReason)))
struct CookbookLabTests {
    @Test(arguments: Cookbook.titles { if case .qemuLab = $0 { true } else { false } })
    func onTheLabGuest(title: String) throws {
        try Cookbook.run(title)
    }
}

/// The Xen-only recipes over what plan 30-events.sh recorded live in dom0 (VMI_XEN_LAB_OUT):
/// the README's pipeline with its vmi-watch stage replaced by that recording.
@Suite(.enabled(if: XenLab.isAvailable, "no Xen lab results (set VMI_XEN_LAB_OUT)"))
struct XenLabCookbookTests {
    @Test(arguments: Cookbook.titles { if case .xenLab = $0 { true } else { false } })
    func overTheLabRecording(title: String) throws {
        guard case .xenLab(let planCase) = Cookbook.standIns[title]!.source else { return }
        let recorded = try XenLab.plan("30-events").path("\(planCase).json")
        try Cookbook.run(title) { script in
            var stages = script.components(separatedBy: " | ")
            stages[0] = "cat '\(recorded)'"
            return stages.joined(separator: " | ")
        }
    }
}
