import ArgumentParser
import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// The shared entry point: every tool's `main` is one call to `ToolMain.run(Command.self)`.
///
/// It owns what no tool should repeat (uutils' uucore does the same): the exit-status policy
/// (0 success, 1 failure, 2 usage), `prog: message` diagnostics on stderr, SIGPIPE/EPIPE as a
/// silent normal end, signals turned into a clean unwind, and the final stdout flush.
public enum ToolMain {
    public static func run<C: ParsableCommand>(_ type: C.Type) -> Never {
        let name = C.configuration.commandName ?? "vmi"
        Diagnostics.programName = name
        Signals.install()
        let status: Int32
        do {
            var command = try C.parseAsRoot()
            try command.run()
            status = 0
        } catch {
            status = exitStatus(for: error, C.self)
        }
        Signals.finish()
        exit(status)
    }

    static func exitStatus<C: ParsableCommand>(for error: Error, _ type: C.Type) -> Int32 {
        switch error {
        case OutputError.consumerGone:
            return 0  // `| head`: the reader has all it wanted
        case let interrupted as Interrupted:
            return 128 + interrupted.signal
        case let exit as ExitCode:
            return exit.rawValue
        default:
            break
        }
        let code = C.exitCode(for: error)
        if code.isSuccess {
            // --help, --version, --generate-completion-script: stdout, status 0.
            print(C.fullMessage(for: error))
            return 0
        }
        if code == .validationFailure {
            Diagnostics.error(lowercasedFirst(C.message(for: error)))
            Diagnostics.line("Try '\(Diagnostics.programName) --help' for more information.")
            return 2
        }
        Diagnostics.error(C.message(for: error))
        return 1
    }

    static func lowercasedFirst(_ s: String) -> String {
        guard let first = s.first, first.isUppercase, s.dropFirst().first?.isUppercase != true else { return s }
        return first.lowercased() + s.dropFirst()
    }
}

/// The one owner of stderr: `prog: message`, one line each.
public enum Diagnostics {
    nonisolated(unsafe) public static var programName = "vmi"

    public static func error(_ message: String) { line("\(programName): \(message)") }

    public static func warning(_ message: String) { line("\(programName): warning: \(message)") }

    public static func line(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(2, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }
}
