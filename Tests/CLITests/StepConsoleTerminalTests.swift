import Foundation
import Testing
import TestSupport

/// vmi-step's interactive mode on a real terminal: `script` gives it a pseudo-terminal on stdin
/// and stdout, so readline (prompt, tab completion, history) and the text layout are in play.
/// Runs against the QEMU lab's x86_64 gdbstub (`VMI_LAB_GDB_X86_64`, from
/// Tests/Lab/qemu/with-guests.sh): the console is generic over StepSession, so a gdb target
/// exercises the same code as a Xen domain. Skipped without it.
@Suite(.enabled(if: Lab.env("VMI_LAB_GDB_X86_64") != nil, "no QEMU gdbstub (set VMI_LAB_GDB_X86_64)"))
struct StepConsoleTerminalTests {
    @Test func readlineConsoleOnAPseudoTerminal() throws {
        let endpoint = Lab.env("VMI_LAB_GDB_X86_64") ?? ""
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("vmi-step-home-\(getpid())")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let tool = Tools.binDir.appendingPathComponent("vmi-step").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-q", "-e", "-c", "\(tool) gdb:\(endpoint)", "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = home.path
        env["TERM"] = "dumb"
        p.environment = env
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        try p.run()
        // "reg<TAB>" completes to "regs"; then two steps, the help text, quit.
        for line in ["reg\t\n", "step 2\n", "help\n", "quit\n"] {
            input.fileHandleForWriting.write(Data(line.utf8))
            Thread.sleep(forTimeInterval: 1)
        }
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        try input.fileHandleForWriting.close()
        let text = String(decoding: Tools.readAll(output.fileHandleForReading.fileDescriptor), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("(vmi-step) "))
        #expect(text.contains("rip: "))  // the text layout of regs, after completion
        #expect(text.contains("execute N instructions"))
        #expect(!text.contains("\"type\""))  // a terminal gets text, not JSON
        let history = try String(contentsOf: home.appendingPathComponent(".vmi_step_history"), encoding: .utf8)
        #expect(history.contains("regs") && history.contains("step 2"))
    }
}
