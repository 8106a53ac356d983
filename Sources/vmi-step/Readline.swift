@preconcurrency import CReadline
import VMICLI
import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// Lines for the interactive console. On a terminal: GNU readline through its callback
/// interface, so the wait for a key can poll `Signals.wakeFD` as well (a signal ends the session
/// cleanly instead of leaving readline blocked in read(2)); history in ~/.vmi_step_history; tab
/// completes command names. Elsewhere (a pipe, a test): plain lines from stdin, no prompt.
final class LineReader {
    let terminal: Bool
    let historyPath: String?

    // readline calls back through C function pointers: the state they touch lives here.
    nonisolated(unsafe) static var line: String?
    nonisolated(unsafe) static var gotLine = false
    nonisolated(unsafe) static var completionIndex = 0

    init(prompt: String) {
        terminal = isatty(0) == 1
        historyPath = getenv("HOME").map { String(cString: $0) + "/.vmi_step_history" }
        guard terminal else { return }
        // Prompts and echo on stderr when stdout carries JSON records.
        if isatty(1) == 0 { rl_outstream = stderr }
        rl_readline_name = UnsafePointer(strdup("vmi-step"))
        rl_attempted_completion_function = { text, start, _ in
            guard start == 0 else { return nil }  // only the command word
            LineReader.completionIndex = 0
            return rl_completion_matches(text) { text, state in
                if state == 0 { LineReader.completionIndex = 0 }
                let prefix = text.map { String(cString: $0) } ?? ""
                let names = StepConsole.commandNames
                while LineReader.completionIndex < names.count {
                    let name = names[LineReader.completionIndex]
                    LineReader.completionIndex += 1
                    if name.hasPrefix(prefix) { return strdup(name) }
                }
                return nil
            }
        }
        using_history()
        if let p = historyPath { _ = read_history(p) }
        self.prompt = prompt
    }

    private var prompt = ""

    /// The next line, or nil at end of input or when a stop was requested.
    func next() -> String? {
        guard terminal else {
            if Signals.requested != nil { return nil }
            return readLine(strippingNewline: true)
        }
        LineReader.gotLine = false
        LineReader.line = nil
        rl_callback_handler_install(prompt) { raw in
            LineReader.gotLine = true
            LineReader.line = raw.map { String(cString: $0) }
            free(raw)
            rl_callback_handler_remove()
        }
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: Signals.wakeFD, events: Int16(POLLIN), revents: 0)]
        while !LineReader.gotLine {
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            if n < 0 || fds[1].revents != 0 {
                rl_callback_handler_remove()
                return nil
            }
            if fds[0].revents != 0 { rl_callback_read_char() }
        }
        if let l = LineReader.line, !l.allSatisfy({ $0 == " " }) { add_history(l) }
        return LineReader.line
    }

    /// Saves the history (the last 1000 lines).
    func close() {
        guard terminal else { return }
        rl_callback_handler_remove()
        if let p = historyPath {
            _ = write_history(p)
            _ = history_truncate_file(p, 1000)
        }
    }
}
