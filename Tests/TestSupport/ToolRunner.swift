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

    public static func run(_ tool: String, _ args: [String], stdin: Data? = nil, timeout: TimeInterval = 60) throws -> ToolResult {
        let p = Process()
        p.executableURL = binDir.appendingPathComponent(tool)
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(stdin) }
        try inp.fileHandleForWriting.close()
        // Read both pipes concurrently so neither fills up.
        var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return ToolResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
