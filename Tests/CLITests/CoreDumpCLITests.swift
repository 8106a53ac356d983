import Foundation
import TestSupport
import Testing

/// `vmi-regs` on offline dumps: real lab fixtures, and hostile copies of them.
@Suite struct CoreDumpCLITests {
    static let dumps = ["qemu/x86_64.dump.elf", "qemu/aarch64.dump.elf", "xen-x86/pvguest.core"]

    static func fixture(_ name: String) -> String? {
        let p = Fixtures.path(name)
        if p == nil { print("skipped: fixture '\(name)' is absent (make it with the lab)") }
        return p
    }

    @Test(arguments: dumps) func regsRecordsParse(dump: String) throws {
        guard let path = Self.fixture(dump) else { return }
        let r = try Tools.run("vmi-regs", ["core:\(path)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        #expect(!r.lines.isEmpty)
        for line in r.lines {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(line.hasPrefix("{\"type\":\"regs\",\"target\":\"core:\(path)\",\"vcpu\":"))
            #expect(obj["arch"] as? String != nil)
            #expect(obj["domid"] == nil)
        }
    }

    @Test(arguments: dumps) func textLayoutAndBarePath(dump: String) throws {
        guard let path = Self.fixture(dump) else { return }
        let r = try Tools.run("vmi-regs", [path, "--vcpu", "0", "--text"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("vcpu 0 ("))
        #expect(r.stdout.contains(dump.hasPrefix("qemu/aarch64") ? "pc: " : "rip: "))
        let none = try Tools.run("vmi-regs", [path, "--vcpu", "99"])
        #expect(none.status == 1)
        #expect(none.stderr.hasPrefix("vmi-regs: core:\(path) has no vcpu 99"))
    }

    @Test func jsonMatchesInfoRegisters() throws {
        guard let path = Self.fixture("qemu/x86_64.dump.elf"),
            let text = GroundTruth.text("qemu/x86_64.info-registers.txt")
        else { return }
        let truth = GroundTruth.qemuInfoRegisters(text)
        let r = try Tools.run("vmi-regs", ["core:\(path)"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.lines[0].utf8)) as? [String: Any])
        for key in ["rip", "rsp", "rflags", "rax", "r15", "cr3", "cr4", "gs_base", "gdtr_base", "tr"] {
            let want = try #require(truth[key], "\(key) in info registers")
            #expect(obj[key] as? String == "0x" + String(want, radix: 16), "\(key)")
        }
    }

    @Test(arguments: dumps) func offlineDumpsCannotWriteRegisters(dump: String) throws {
        guard let path = Self.fixture(dump) else { return }
        let r = try Tools.run("vmi-regs", ["core:\(path)", "--set", "rax=1"])
        #expect(r.status == 1)
        #expect(r.stderr == "vmi-regs: core:\(path) cannot write registers: offline dump\n")
    }

    @Test func missingAndNonDumpFiles() throws {
        let r = try Tools.run("vmi-regs", ["core:x.core"])
        #expect(r.status == 1)
        #expect(r.stderr == "vmi-regs: cannot open 'x.core': No such file or directory\n")
        let path = try Hostile.write(Array("just text\n".utf8))
        let t = try Tools.run("vmi-regs", [path])
        #expect(t.status == 1)
        #expect(t.stderr == "vmi-regs: '\(path)': not a dump: no ELF header\n")
    }

    /// Copies of a real dump with one thing broken: each must end in one `vmi-regs:` line and
    /// exit 1, without a crash or a hang.
    @Test(arguments: dumps) func hostileCopies(dump: String) throws {
        guard let path = Self.fixture(dump) else { return }
        for (what, mutated) in try Hostile.mutations(of: path) {
            defer { try? FileManager.default.removeItem(atPath: mutated) }
            let r = try Tools.run("vmi-regs", ["core:\(mutated)"])
            #expect(r.status == 1, "\(what): status \(r.status), stderr \(r.stderr)")
            #expect(r.stderr.hasPrefix("vmi-regs: '\(mutated)': "), "\(what): \(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(what): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(what)")
        }
    }
}

/// Broken copies of real dumps. Copies are sparse: the head of the file (headers, notes) is
/// copied and patched; the file is then extended to its size (or cut short) without writing RAM.
enum Hostile {
    static func write(_ bytes: [UInt8], size: Int? = nil) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vmi-hostile-\(UUID().uuidString).core")
        try Data(bytes).write(to: url)
        if let size {
            let h = try FileHandle(forWritingTo: url)
            try h.truncate(atOffset: UInt64(size))
            try h.close()
        }
        return url.path
    }

    static func le64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }
    static func put64(_ v: UInt64, _ o: Int, _ b: inout [UInt8]) {
        for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    static func put32(_ v: UInt32, _ o: Int, _ b: inout [UInt8]) {
        for i in 0..<4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    static func put16(_ v: UInt16, _ o: Int, _ b: inout [UInt8]) {
        for i in 0..<2 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }

    /// (what was broken, path of the broken copy).
    static func mutations(of path: String) throws -> [(String, String)] {
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? h.close() }
        let size = Int(try h.seekToEnd())
        try h.seek(toOffset: 0)
        let head = [UInt8](try h.read(upToCount: 1 << 16) ?? Data())
        let phoff = Int(le64(head, 32))
        let phnum = Int(head[56]) | Int(head[57]) << 8
        let shoff = Int(le64(head, 40))
        let shnum = Int(head[60]) | Int(head[61]) << 8
        var out: [(String, String)] = []
        func add(_ what: String, size s: Int = size, _ patch: (inout [UInt8]) -> Void) throws {
            var b = head
            patch(&b)
            out.append((what, try write(Array(b.prefix(s)), size: s)))
        }
        try add("truncated header", size: 40) { _ in }
        try add("cut after the headers", size: min(size, 1 << 16)) { _ in }
        try add("cut in the middle", size: size / 2) { _ in }
        try add("bad ELF class") { $0[4] = 9 }
        try add("absurd program header count") {
            put16(0xfffe, 56, &$0)
            put64(64, 32, &$0)
        }
        try add("program headers past the end") { put64(UInt64(size) - 8, 32, &$0) }
        if phnum > 0 {
            // Every segment and note pointing past the end, absurd sizes.
            try add("segments past the end") { b in
                for i in 0..<phnum { put64(UInt64(size) + 4096, phoff + 56 * i + 8, &b) }
            }
            try add("absurd segment sizes") { b in
                for i in 0..<phnum {
                    put64(UInt64.max - 7, phoff + 56 * i + 32, &b)
                    put64(UInt64.max - 7, phoff + 56 * i + 40, &b)
                }
            }
            let loads = (0..<phnum).filter { le64(head, phoff + 56 * $0) & 0xffff_ffff == 1 }
            if loads.count >= 2 {
                try add("overlapping segments") { b in
                    for i in loads { put64(0x1000, phoff + 56 * i + 24, &b) }
                }
            }
            try add("no notes") { b in
                for i in 0..<phnum where le64(b, phoff + 56 * i) & 0xffff_ffff == 4 { put32(0, phoff + 56 * i, &b) }
            }
            try add("absurd note size") { b in
                for i in 0..<phnum where le64(b, phoff + 56 * i) & 0xffff_ffff == 4 {
                    let o = Int(le64(b, phoff + 56 * i + 8))
                    if o + 8 <= b.count { put32(0xffff_fff0, o + 4, &b) }
                }
            }
        }
        if phnum == 0 && shnum > 1 && shoff + 64 * shnum <= head.count {
            try add("sections past the end") { b in
                for i in 1..<shnum { put64(UInt64(size) + 4096, shoff + 64 * i + 24, &b) }
            }
            try add("overlapping sections") { b in
                for i in 1..<shnum { put64(0x40, shoff + 64 * i + 24, &b) }
            }
            try add("absurd section sizes") { b in
                for i in 1..<shnum { put64(UInt64.max / 2, shoff + 64 * i + 32, &b) }
            }
        } else if phnum == 0 && shnum > 1 {
            // xl dump-core keeps its section table at the end: patch it in a sparse copy.
            // (QEMU dumps carry only a string-table section that the reader needs not.)
            out += try tailMutations(path, size: size, head: head, shoff: shoff, shnum: shnum)
        }
        return out
    }

    /// For files whose section table is at the end (`xl dump-core`): copies head and tail only.
    static func tailMutations(_ path: String, size: Int, head: [UInt8], shoff: Int, shnum: Int) throws -> [(
        String, String
    )] {
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(shoff))
        let table = [UInt8](try h.read(upToCount: 64 * shnum) ?? Data())
        guard table.count == 64 * shnum else { return [] }
        var out: [(String, String)] = []
        // The notes, contexts and shared info sit near the start; copy the first 64 KiB beside the table.
        func add(_ what: String, _ patch: (inout [UInt8]) -> Void) throws {
            var t = table
            patch(&t)
            let p = try write(head, size: size)
            let w = try FileHandle(forWritingTo: URL(fileURLWithPath: p))
            try w.seek(toOffset: UInt64(shoff))
            try w.write(contentsOf: Data(t))
            try w.close()
            out.append((what, p))
        }
        try add("sections past the end") { t in for i in 1..<shnum { put64(UInt64(size) + 4096, 64 * i + 24, &t) } }
        try add("overlapping sections") { t in for i in 1..<shnum { put64(0x40, 64 * i + 24, &t) } }
        try add("absurd section sizes") { t in for i in 1..<shnum { put64(UInt64.max / 2, 64 * i + 32, &t) } }
        try add("section names out of range") { t in for i in 0..<shnum { put32(0xffff_fff0, 64 * i, &t) } }
        return out
    }
}
