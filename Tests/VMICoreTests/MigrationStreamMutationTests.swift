import Foundation
import TestSupport
import Testing

@testable import VMICore

/// Hostile streams made from a real one (the lab's AArch64 EL2 guest): truncated, corrupted, and
/// with a vmdesc that lies. Each must end in one VMIError; none may crash or allocate without bound.
/// The mutations touch only the stream's tail (the GIC section onwards), so one scratch copy is
/// patched and restored in place instead of writing 45 MB per case.
@Suite(.serialized) struct MigrationStreamMutationTests {
    static let fixture = "qemu/aarch64-el2.migration"

    final class Scratch {
        let original: Data
        let path: String
        let handle: FileHandle
        /// Offsets of the vmdesc JSON and of the arm_gicv3 FULL section header.
        let jsonStart: Int
        let gicStart: Int

        init?() throws {
            guard let src = Fixtures.path(MigrationStreamMutationTests.fixture) else { return nil }
            original = try Data(contentsOf: URL(fileURLWithPath: src), options: .alwaysMapped)
            path = NSTemporaryDirectory() + "vmi-gic-mutation-\(getpid()).mig"
            try original.write(to: URL(fileURLWithPath: path))
            handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            let nul = original.lastIndex(of: 0)!
            jsonStart = original[nul...].firstIndex(of: UInt8(ascii: "{"))!
            let marker = Data([0x09] + Array("arm_gicv3".utf8) + [0, 0, 0, 0])
            gicStart = original.range(of: marker, options: .backwards, in: 0..<jsonStart)!.lowerBound - 5
        }

        deinit {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: path)
        }

        var json: String { String(decoding: original[jsonStart...], as: UTF8.self) }

        /// The stream cut at `offset`, then EOF and `json` as a well-formed vmdesc.
        func write(cutAt offset: Int, json: String) throws {
            var tail = Data([0x00, 0x06])
            let j = Data(json.utf8)
            withUnsafeBytes(of: UInt32(j.count).bigEndian) { tail.append(contentsOf: $0) }
            tail.append(j)
            try handle.seek(toOffset: UInt64(offset))
            handle.write(tail)
            try handle.truncate(atOffset: UInt64(offset + tail.count))
        }

        func patch(at offset: Int, _ bytes: [UInt8]) throws {
            try handle.seek(toOffset: UInt64(offset))
            handle.write(Data(bytes))
        }

        func restore() throws {
            let from = gicStart - 8192
            try handle.seek(toOffset: UInt64(from))
            handle.write(original[from...])
            try handle.truncate(atOffset: UInt64(original.count))
            try patch(at: 0, Array(original[0..<8]))
        }

        func decode() throws -> GICSnapshot {
            try MigrationStreamTarget(path: path, address: .vmstate(path: path)).gicSnapshot()
        }
    }

    func expectError(_ scratch: Scratch, _ label: String, _ message: String? = nil) throws {
        defer { try? scratch.restore() }
        do {
            _ = try scratch.decode()
            Issue.record("\(label): decoded without error")
        } catch let e as VMIError {
            if let m = message { #expect(e.description.contains(m), "\(label): \(e.description)") }
        }
    }

    @Test func vmdescLies() throws {
        guard let s = try Scratch() else { return }  // lab fixture absent: skipped
        let json = s.json
        let lies: [(String, String, String, String)] = [
            (
                "array_len huge", #""name": "gicd_irouter", "array_len": 1020"#,
                #""name": "gicd_irouter", "array_len": 100000000"#, "out of range"
            ),
            (
                "array_len past the stream", #""name": "gicd_irouter", "array_len": 1020"#,
                #""name": "gicd_irouter", "array_len": 10000000"#, "more than the stream holds"
            ),
            (
                "negative count", #""name": "gicd_irouter", "array_len": 1020"#,
                #""name": "gicd_irouter", "array_len": -1"#, "out of range"
            ),
            (
                "element size", #""name": "gicd_ipriority", "array_len": 1020, "type": "uint8", "size": 1"#,
                #""name": "gicd_ipriority", "array_len": 1020, "type": "uint8", "size": 2"#, ""
            ),
            (
                "size beyond the file", #""name": "gicd_ipriority", "array_len": 1020, "type": "uint8", "size": 1"#,
                #""name": "gicd_ipriority", "array_len": 1020, "type": "uint8", "size": 99999999999"#,
                "size 99999999999 out of range"
            ),
            ("struct size", #""size": 571"#, #""size": 572"#, "vmdesc says 572"),
            ("page size", #""page_size": 4096"#, #""page_size": 3000"#, "page_size is not a power of two"),
            ("page size disagrees", #""page_size": 4096"#, #""page_size": 8192"#, "disagrees"),
            (
                "no gic", #""name": "arm_gicv3", "instance_id": 0"#, #""name": "arm_gicv3x", "instance_id": 0"#,
                "has no arm_gicv3 section"
            ),
            ("not JSON", #""devices": ["#, #""devices": [[["#, "invalid"),
        ]
        for (label, from, to, message) in lies {
            guard json.contains(from) else {
                Issue.record("\(label): vmdesc lacks \(from)")
                continue
            }
            try s.write(cutAt: s.jsonStart - 2, json: json.replacingOccurrences(of: from, with: to))
            try expectError(s, label, message.isEmpty ? nil : message)
        }
        // A struct that contains itself, 200 levels deep: the JSON reader's depth cap stops it.
        var nested = #"{"vmsd_name": "x", "version": 1, "fields": []}"#
        for _ in 0..<200 {
            nested =
                #"{"vmsd_name": "x", "version": 1, "fields": [{"name": "x", "type": "struct", "size": 1, "struct": "#
                + nested + "}]}"
        }
        try s.write(
            cutAt: s.jsonStart - 2,
            json:
                #"{"page_size": 4096, "devices": [{"name": "arm_gicv3", "instance_id": 0, "fields": [{"name": "cpu", "type": "struct", "size": 1, "struct": "#
                + nested + "}]}]}")
        try expectError(s, "self-nesting", "nested too deeply")
    }

    @Test func truncatedAndCorrupted() throws {
        guard let s = try Scratch() else { return }
        let json = s.json
        // Cut inside the last RAM pages, the GIC section header, its body, its per-CPU part, the footer.
        for cut in [s.gicStart - 4000, s.gicStart + 3, s.gicStart + 20, s.gicStart + 3000, s.gicStart + 9000] {
            try s.write(cutAt: cut, json: json)
            try expectError(s, "cut at \(cut)")
        }
        // A second EOF + vmdesc after the real one: the one that runs to the end of the file wins.
        try s.write(cutAt: s.original.count, json: json)
        #expect(try s.decode().distributor?.ctlr == 0x53)
        try s.restore()
        // A tail of EOF + VMDESCRIPTION bytes whose lengths run nowhere: searched, not found.
        try s.write(cutAt: s.gicStart + 100, json: "")
        try s.patch(at: s.gicStart + 106, Array(repeating: [0x00, 0x06, 0, 0, 0, 2, UInt8(ascii: "{")], count: 3000).flatMap { $0 })
        try expectError(s, "decoy vmdescs", "no vmdesc")
        // No vmdesc at all (a plain truncation).
        try s.handle.truncate(atOffset: UInt64(s.gicStart + 100))
        try expectError(s, "plain cut", "no vmdesc")
        try s.patch(at: 0, Array("QEVN".utf8))
        do {
            _ = try MigrationStreamTarget(path: s.path, address: .vmstate(path: s.path))
            Issue.record("bad magic accepted")
        } catch let e as VMIError {
            #expect(e.description.contains("not a QEMU migration stream"))
        }
        try s.restore()
        try s.patch(at: 4, [0, 0, 0, 2])
        try expectError(s, "version", "unsupported migration stream version 2")
        try s.patch(at: s.gicStart, [0x42])
        try expectError(s, "section type", "unknown section type 0x42")
        try s.patch(at: s.gicStart - 5, [0x7e, 0, 0, 0, 9])  // the RAM section's footer names another
        try expectError(s, "footer", "footer names section 9")
        // Sanity: the restored scratch decodes.
        #expect(try s.decode().distributor?.ctlr == 0x53)
    }

    /// Seeded byte flips over the GIC section and the vmdesc: each run ends in a snapshot or in
    /// one VMIError (a crash would take the test process down).
    @Test func randomFlips() throws {
        guard let s = try Scratch() else { return }
        var rng = SplitMix64(seed: 0x6716_0003)
        let region = s.gicStart..<s.original.count
        var errors = 0
        for _ in 0..<60 {
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let at = region.lowerBound + Int(rng.next() % UInt64(region.count))
                try s.patch(at: at, [UInt8(truncatingIfNeeded: rng.next())])
            }
            do { _ = try s.decode() } catch is VMIError { errors += 1 }
            try s.restore()
        }
        #expect(errors > 0)
    }

    @Test func notStreams() throws {
        let dir = NSTemporaryDirectory()
        for (name, bytes) in [("empty", [UInt8]()), ("short", [0x51, 0x45]), ("text", Array("hello world\n".utf8))] {
            let p = dir + "vmi-gic-\(name)-\(getpid())"
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            defer { try? FileManager.default.removeItem(atPath: p) }
            #expect(throws: VMIError.self) { try MigrationStreamTarget(path: p, address: .vmstate(path: p)) }
        }
        #expect {
            try MigrationStreamTarget(path: "/nonexistent/x.mig", address: .vmstate(path: "/nonexistent/x.mig"))
        } throws: { ($0 as? VMIError)?.description == "cannot open '/nonexistent/x.mig': No such file or directory" }
    }
}

/// A small deterministic generator for the flips (Steele, Lea, Flood: SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
