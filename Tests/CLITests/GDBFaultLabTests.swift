import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Tests/Lab/qemu/fault-trials.sh, short: vmi-watch and vmi-step against the live x86_64
/// gdbstub, ended each way once (signals, closed pipe, --timeout, --count, SIGKILL, a stalled
/// reader, the stub connection cut), each end followed by the script's checks that the guest runs clean. Skipped outside
/// the lab; `fault-trials.sh -n 60 STATEDIR` is the long run.
@Suite(.serialized) struct GDBFaultLabTests {
    @Test func everyEndLeavesTheGuestRunningAndClean() throws {
        guard let guest = QEMULab.guest(.x86_64), let state = guest.stateDir else {
            print("skip: \(QEMULab.skipReason)")
            return
        }
        let script = Tools.repoRoot.appendingPathComponent("Tests/Lab/qemu/fault-trials.sh").path
        let (status, text) = try Self.runScript(
            ["/bin/bash", script, "-n", "9", "-c", "-s", "9", "-b", Tools.binDir.path, state], timeout: 900)
        print(text)
        #expect(status == 0, "\(text)")
        #expect(text.contains("fault-trials: 9 trials, all clean"))
    }

    /// Runs `argv` with stdout and stderr into one pipe; SIGTERM after `timeout` seconds (the
    /// script's trap then stops its tool). posix_spawn, not Process: Process hands the child
    /// nearly every signal blocked, and the script's helpers and traps need them.
    static func runScript(_ argv: [String], timeout: Double) throws -> (Int32, String) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cargs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL)
        }
        let watchdog = DispatchWorkItem { kill(pid, SIGTERM) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let text = String(decoding: Tools.readAll(fds[0]), as: UTF8.self)
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), text)
    }
}
