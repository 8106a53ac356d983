#if canImport(Glibc)
import Glibc
#endif

/// An operational failure, printed by the CLI as `prog: <description>` with exit status 1.
///
/// Messages are lowercase, one line, and say what failed and why, in the words of coreutils:
/// `cannot attach to domain 'web01': no such domain`.
public struct VMIError: Error, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }

    /// `cannot open 'x.core': No such file or directory`
    public static func cannotOpen(_ path: String, errno err: Int32) -> VMIError {
        VMIError("cannot open '\(path)': \(strerrorString(err))")
    }

    /// `core:web01.core cannot single-step: offline dump`
    public static func unsupported(_ target: TargetAddress, _ action: String, because reason: String) -> VMIError {
        VMIError("\(target) cannot \(action): \(reason)")
    }

    /// `'x.core': not a dump: <why>` for files whose content does not parse.
    public static func badInput(_ what: String, _ why: String) -> VMIError {
        VMIError("\(what): \(why)")
    }
}

public func strerrorString(_ err: Int32) -> String { String(cString: strerror(err)) }
