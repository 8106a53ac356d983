import Foundation
import TestSupport
import Testing

/// The manual pages against the tools: every long option `--help` shows is in the tool's page,
/// and every record type the tools print is documented in vmi-json(5) (`.Ss <type>`), so the
/// docs cannot drift silently. Record types are taken from real runs on the committed fixtures
/// (and a QEMU-like gdb stub for the live-only tools), and from the sources as a backstop for
/// types no fixture run reaches.
@Suite struct ManPageTests {
    static let tools = ["vmi-regs", "vmi-watch", "vmi-step", "vmi-evtchn", "vmi-gic-dump"]

    static func read(_ relative: String) throws -> String {
        try String(contentsOf: Tools.repoRoot.appendingPathComponent(relative), encoding: .utf8)
    }

    /// `--name` tokens of a help text (options and their long aliases).
    static func longOptions(inHelp help: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"(?<![\w-])--[a-z][a-z0-9-]*"#)
        let range = NSRange(help.startIndex..., in: help)
        return Set(pattern.matches(in: help, range: range).map { String(help[Range($0.range, in: help)!]) })
    }

    /// Long options a man page documents: `.Fl -name` anywhere in it.
    static func longOptions(inPage page: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\bFl -([a-z][a-z0-9-]*)"#)
        let range = NSRange(page.startIndex..., in: page)
        return Set(pattern.matches(in: page, range: range).map { "--" + String(page[Range($0.range(at: 1), in: page)!]) })
    }

    /// Record types vmi-json(5) documents: its `.Ss` headings under RECORDS.
    static func documentedTypes() throws -> Set<String> {
        let page = try read("man/man5/vmi-json.5")
        guard let records = page.range(of: "\n.Sh RECORDS\n") else { return [] }
        return Set(
            page[records.upperBound...].split(separator: "\n").compactMap { line in
                line.hasPrefix(".Ss ") ? String(line.dropFirst(4)) : nil
            })
    }

    static func types(_ r: ToolResult) -> Set<String> {
        Set(
            r.lines.compactMap { line in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    return nil
                }
                return obj["type"] as? String
            })
    }

    @Test(arguments: tools)
    func everyHelpOptionIsInTheManPage(_ tool: String) throws {
        let help = try Tools.run(tool, ["--help"])
        #expect(help.status == 0)
        let options = Self.longOptions(inHelp: help.stdout)
        #expect(options.contains("--help"), "no options found in \(tool) --help")
        let page = try Self.read("man/man1/\(tool).1")
        let documented = Self.longOptions(inPage: page)
        let missing = options.subtracting(documented).sorted()
        #expect(missing.isEmpty, "\(tool)(1) does not mention \(missing.joined(separator: ", ")): run `make man`")
    }

    /// The page's OPTIONS BY TARGET table has a row (`.It Fl -name Ta ...`) for every option the
    /// tool parses, with one cell per target column: an option added to a tool must say which
    /// targets use it.
    @Test(arguments: tools)
    func everyOptionHasARowPerTarget(_ tool: String) throws {
        let help = try Tools.run(tool, ["--help"])
        let options = Self.longOptions(inHelp: help.stdout).subtracting(["--help", "--version"])
        let page = try Self.read("man/man1/\(tool).1")
        guard let start = page.range(of: "\n.Sh \"OPTIONS BY TARGET\"\n"),
            let end = page.range(of: "\n.El\n", range: start.upperBound..<page.endIndex)
        else {
            Issue.record("\(tool)(1) has no OPTIONS BY TARGET table")
            return
        }
        let rows = page[start.upperBound..<end.lowerBound].split(separator: "\n").filter { $0.hasPrefix(".It ") }
        let columns = rows.first.map { $0.components(separatedBy: " Ta ").count } ?? 0
        #expect(columns >= 2)
        var listed: Set<String> = []
        for row in rows.dropFirst() {
            let cells = row.components(separatedBy: " Ta ")
            #expect(cells.count == columns, "\(tool)(1): '\(row)' has \(cells.count) cells, not \(columns)")
            if cells[0].hasPrefix(".It Fl -") { listed.insert("-" + cells[0].dropFirst(".It Fl ".count)) }
        }
        let missing = options.subtracting(listed).sorted()
        #expect(missing.isEmpty, "\(tool)(1) OPTIONS BY TARGET lacks \(missing.joined(separator: ", "))")
        #expect(listed.subtracting(options).isEmpty, "\(tool)(1) lists options the tool lacks")
    }

    /// Every `record(type: "x")` / `JSONLine(type: "x")` in Sources: a type added in code without
    /// a vmi-json(5) section fails here even before a fixture shows it.
    @Test func everyRecordTypeInTheSourcesIsDocumented() throws {
        let documented = try Self.documentedTypes()
        #expect(documented.contains("regs"), "vmi-json(5) has no RECORDS section")
        let pattern = try NSRegularExpression(pattern: #"(?:record|JSONLine)\(type: "([a-z_]+)""#)
        var found: Set<String> = []
        let sources = Tools.repoRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        for case let url as URL in files where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                found.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        #expect(found.count >= 10, "record types not found in Sources: \(found.sorted())")
        let missing = found.subtracting(documented).sorted()
        #expect(missing.isEmpty, "vmi-json(5) has no .Ss for \(missing.joined(separator: ", "))")
    }

    /// Record types of real runs: the committed fixtures, and the live-only tools against a
    /// stub that answers like QEMU's (from its captured target description).
    @Test func everyRecordTypePrintedIsDocumented() throws {
        var seen: [String: Set<String>] = [:]
        func run(_ tool: String, _ args: [String], stdin: Data? = nil) throws {
            let r = try Tools.run(tool, args, stdin: stdin)
            #expect(r.status == 0, "\(tool) \(args.joined(separator: " ")): \(r.stderr)")
            seen[tool, default: []].formUnion(Self.types(r))
        }
        try run("vmi-gic-dump", ["--decode", "ich_lr=0xa0a000000000001b"])
        if let stream = Fixtures.path("qemu/aarch64-el2.migration") {
            try run("vmi-gic-dump", ["vmstate:\(stream)", "--all"])
        }
        if let kvm = Fixtures.path("kvm/vgic-state.txt") { try run("vmi-gic-dump", ["kvm-vgic:\(kvm)"]) }
        if let q = Fixtures.path("xen-arm/debug-keys-q.txt") { try run("vmi-gic-dump", ["console:\(q)"]) }
        if let dump = Fixtures.path("qemu/x86_64.dump.elf") { try run("vmi-regs", ["core:\(dump)"]) }
        if let e = Fixtures.path("xen-x86/evtchn/debug-keys-e.txt") { try run("vmi-evtchn", ["console:\(e)"]) }

        let xml = Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path
        if FileManager.default.fileExists(atPath: xml + "/target.xml") {
            func withStub(_ tool: String, _ args: [String], stdin: Data? = nil, stops: [String] = []) throws {
                let q = try QEMULikeStub(fixtureDir: xml)
                q.stops = stops
                let stub = try FakeGDBStub { c in q.serve(c) }
                defer { stub.finish() }
                try run(tool, [stub.target] + args, stdin: stdin)
            }
            try withStub("vmi-step", ["--count", "2"])
            // rip is 0xffffffff81001000 in the stub, so the one stop it hands out is our breakpoint.
            let commands = "break 0xffffffff81001000\ncontinue\nstep\nregs\nmem 0x1000 4\ndelete\nquit\n"
            try withStub("vmi-step", ["-i"], stdin: Data(commands.utf8), stops: ["T05thread:p01.01;"])
            try withStub("vmi-watch", ["--event", "singlestep", "--count", "1"])
        }

        let documented = try Self.documentedTypes()
        for (tool, types) in seen.sorted(by: { $0.key < $1.key }) {
            let missing = types.subtracting(documented).sorted()
            #expect(missing.isEmpty, "\(tool) printed \(missing.joined(separator: ", ")), not in vmi-json(5)")
            // The tool's own page shows its records too (JSON OUTPUT), by type.
            let page = try Self.read("man/man1/\(tool).1")
            let unshown = types.filter { !page.contains("\"type\":\"\($0)\"") && !page.contains("Cm \($0)") }.sorted()
            #expect(unshown.isEmpty, "\(tool)(1) never names \(unshown.joined(separator: ", "))")
        }
        #expect(seen["vmi-gic-dump"]?.contains("gic_decode") == true)
    }
}
