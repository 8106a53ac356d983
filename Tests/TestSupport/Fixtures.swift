import Foundation

/// Real fixtures made by the lab (Tests/Fixtures/<area>/README.md says how each was made).
///
/// Large ones are committed xz-compressed; `Fixtures.path` decompresses them once into
/// `.build/fixtures/` and returns the plain file. Returns nil when the fixture is absent, so a
/// test can skip with a clear message instead of failing on a machine without it.
public enum Fixtures {
    public static let sourceDir = Tools.repoRoot.appendingPathComponent("Tests/Fixtures")
    public static let cacheDir = Tools.repoRoot.appendingPathComponent(".build/fixtures")

    /// Tests run in parallel: one decompression at a time, so a second caller waits for the
    /// first instead of racing it on the same temporary file (and wrongly reporting "absent").
    static let lock = NSLock()

    public static func path(_ name: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let fm = FileManager.default
        let plain = sourceDir.appendingPathComponent(name).path
        if fm.fileExists(atPath: plain) { return plain }
        let xz = plain + ".xz"
        guard fm.fileExists(atPath: xz) else { return nil }
        let out = cacheDir.appendingPathComponent(name)
        if let a = try? fm.attributesOfItem(atPath: out.path), let b = try? fm.attributesOfItem(atPath: xz),
            let ta = a[.modificationDate] as? Date, let tb = b[.modificationDate] as? Date, ta >= tb
        {
            return out.path
        }
        try? fm.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = out.path + ".tmp.\(getpid())"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "xz -dc \"$0\" > \"$1\" && mv \"$1\" \"$2\"", xz, tmp, out.path]
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? out.path : nil
    }

    /// Like `path`, but for tests that cannot run without it: the message names the fixture.
    public static func require(_ name: String) throws -> String {
        guard let p = path(name) else { throw FixtureMissing(name: name) }
        return p
    }
}

public struct FixtureMissing: Error, CustomStringConvertible {
    public var name: String
    public var description: String { "fixture '\(name)' is absent (make it with the lab: see Tests/Fixtures)" }
}

/// Where a running lab says its live endpoints are (set by `make lab-test`); nil outside the lab.
public enum Lab {
    public static func env(_ name: String) -> String? {
        let v = ProcessInfo.processInfo.environment[name]
        return (v?.isEmpty ?? true) ? nil : v
    }
}
