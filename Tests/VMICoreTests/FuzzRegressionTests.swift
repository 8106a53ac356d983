import Foundation
import TestSupport
import Testing
@testable import VMICore

/// Inputs the libFuzzer targets (Tests/Fuzz) found crashing, replayed through the same checks as
/// the fuzz target: each must now end in an error or a consistent value, never a trap.
@Suite struct FuzzRegressionTests {
    static func inputs(_ target: String) -> [(String, [UInt8])] {
        let dir = Tools.repoRoot.appendingPathComponent("Tests/Fuzz/regressions/\(target)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().compactMap { name in
            (try? Data(contentsOf: dir.appendingPathComponent(name))).map { (name, Array($0)) }
        }
    }

    /// fuzz-spec: `mem:rw@0x100-0xf1fffff8e1000000` trapped in `description` (ClosedRange.count
    /// overflows Int); such ranges are now refused (Xen takes a 32-bit frame count anyway).
    @Test func eventSpecFrameRange() throws {
        #expect(throws: VMIError.self) { try EventSpec(parsing: "mem:rw@0x100-0xf1fffff8e1000000") }
        #expect(throws: VMIError.self) { try EventSpec(parsing: "mem:r@0x0-0xffffffffffffffff") }
        let widest = try EventSpec(parsing: "mem:r@0x0-0xfffffffe")
        #expect(widest.description == "mem:r@0x0-0xfffffffe")
        let inputs = Self.inputs("fuzz-spec")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs {
            let text = String(decoding: bytes, as: UTF8.self)
            if let spec = try? EventSpec(parsing: text) {
                #expect(try EventSpec(parsing: spec.description) == spec, "\(name)")
            }
        }
    }
}
