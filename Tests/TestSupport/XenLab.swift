import Foundation

/// Results of a run of the x86 Xen lab (`Tests/Lab/xen/lab.sh run --plan-dir DIR --out OUTDIR`).
///
/// The lab runs each `DIR/NAME.sh` inside dom0 and brings back `OUTDIR/NAME/` holding what the
/// plan wrote to `$OUT`, plus `stdout`, `stderr` and `exit_code`. Tests read those folders when
/// `VMI_XEN_LAB_OUT` names an OUTDIR and skip otherwise: use
/// `@Suite(.enabled(if: XenLab.isAvailable, "...")`.
public enum XenLab {
    /// The OUTDIR of a finished lab run, or nil when `VMI_XEN_LAB_OUT` is unset.
    public static var results: URL? {
        Lab.env("VMI_XEN_LAB_OUT").map { URL(fileURLWithPath: $0, isDirectory: true) }
    }

    public static var isAvailable: Bool { results != nil }

    /// The results of plan `name` (its file name without `.sh`).
    public static func plan(_ name: String) throws -> XenLabPlan {
        guard let root = results else { throw XenLabMissing.noRun }
        let dir = root.appendingPathComponent(name, isDirectory: true)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw XenLabMissing.noPlan(name, root.path)
        }
        return XenLabPlan(name: name, dir: dir)
    }
}

/// One plan's folder in a lab run's OUTDIR.
public struct XenLabPlan {
    public var name: String
    public var dir: URL

    /// The plan's exit status (124 when the lab killed it at its timeout); nil if it never ended.
    public var exitCode: Int32? { text("exit_code").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
    public var stdout: String { text("stdout") ?? "" }
    public var stderr: String { text("stderr") ?? "" }

    /// Path of a file the plan wrote to `$OUT`.
    public func path(_ file: String) -> String { dir.appendingPathComponent(file).path }

    public func data(_ file: String) -> Data? { FileManager.default.contents(atPath: path(file)) }

    /// A file's text, or nil when the plan did not write it.
    public func text(_ file: String) -> String? { data(file).map { String(decoding: $0, as: UTF8.self) } }

    /// A file's lines (without the empty one after a final newline); empty when absent.
    public func lines(_ file: String) -> [Substring] {
        guard let t = text(file) else { return [] }
        return t.split(separator: "\n", omittingEmptySubsequences: false).dropLast(t.hasSuffix("\n") ? 1 : 0).map { $0 }
    }
}

public enum XenLabMissing: Error, CustomStringConvertible {
    case noRun
    case noPlan(String, String)

    public var description: String {
        switch self {
        case .noRun:
            return "VMI_XEN_LAB_OUT is unset (run Tests/Lab/xen/lab.sh run --plan-dir Tests/Lab/xen/plans --out DIR)"
        case .noPlan(let name, let root):
            return "the lab run in \(root) has no results for plan '\(name)' (was \(name).sh in its plan folder?)"
        }
    }
}
