import Foundation

/// Spawns a built tool and collects stdout, stderr and the exit status.
public struct ToolResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// stdout split into lines (without the final empty one).
    public var lines: [Substring] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast(stdout.hasSuffix("\n") ? 1 : 0).map { $0 } }
}

public enum Tools {
    /// The folder holding the built executables (the test bundle sits beside them).
    public static let binDir: URL = {
        if let dir = ProcessInfo.processInfo.environment["VMI_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("vmi-regs").path) { return url }
        }
        return URL(fileURLWithPath: ".build/debug")
    }()

    /// The repository root (for fixtures).
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `tool` with `args`, feeding `stdin`, and kills it (SIGKILL) if it is still running after
    /// `timeout` seconds, so a hanging tool fails its test instead of hanging the suite.
    public static func run(_ tool: String, _ args: [String], stdin: Data? = nil, timeout: TimeInterval = 60) throws -> ToolResult {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
        return try collect(p, stdin: stdin, timeout: timeout)
    }

    /// Runs `script` with `/bin/sh -c` in `directory`, the built tools first on PATH (how a user's
    /// shell finds installed tools), under the same timeout as `run`.
    public static func shell(_ script: String, in directory: URL, timeout: TimeInterval = 120) throws -> ToolResult {
        let p = Process()
        // Process starts every child in a process group of its own (CookbookTests checks it), so
        // the watchdog ends the whole pipeline by signalling the group.
        // SIGPIPE back to its default, as in a user's shell: this process ignores it (see
        // `collect`), children inherit that, and then `sort | head` has sort report "Broken pipe"
        // on stderr instead of ending quietly.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["--default-signal=PIPE", "/bin/sh", "-c", script]
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = binDir.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        return try collect(p, stdin: nil, timeout: timeout, killGroup: true)
    }

    /// Starts `p` with piped stdio and collects its output and exit status.
    static func collect(_ p: Process, stdin: Data?, timeout: TimeInterval, killGroup: Bool = false) throws -> ToolResult {
        ignoreSIGPIPE
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        let watchdog = DispatchWorkItem {
            if p.isRunning { kill(killGroup ? -p.processIdentifier : p.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        if let stdin { writeAll(inp.fileHandleForWriting.fileDescriptor, stdin) }
        try inp.fileHandleForWriting.close()
        // Read both pipes concurrently so neither fills up.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = readAll(err.fileHandleForReading.fileDescriptor)
            group.leave()
        }
        let outData = readAll(out.fileHandleForReading.fileDescriptor)
        group.wait()
        p.waitUntilExit()
        return ToolResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Everything until end of file; read(2) retried on EINTR (FileHandle traps on it).
    public static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return data }
            data.append(buffer, count: n)
        }
    }

    /// Writes all of `data`, retrying EINTR; a reader that went away (EPIPE) ends it quietly.
    static func writeAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }

    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN) }()
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}
