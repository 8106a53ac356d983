import Synchronization
import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// A stop request turned into an error, so teardown runs by ordinary unwinding (`defer`).
public struct Interrupted: Error, Equatable {
    public var signal: Int32
}

/// SIGINT, SIGTERM and SIGHUP, handled on a watcher thread rather than in a signal handler.
///
/// The signals are blocked in every thread and collected with sigwait(2), so no code runs in
/// signal context. While nothing of the guest is held, a signal ends the process at once as the
/// default action would. While a `GuestGuard` is alive (a pause, a monitor ring, a breakpoint,
/// TF set), the signal is recorded instead and `Signals.wakeFD` becomes readable: event loops poll
/// it beside their own descriptor and unwind through `Signals.check()`, running every teardown.
/// A third signal during teardown forces the exit (a hung hypervisor must not make a tool unkillable).
///
/// A signal the parent set to be ignored stays ignored, as in every Unix tool: a shell starts
/// background jobs with SIGINT ignored, nohup ignores SIGHUP. Taking it over would make the
/// tool's answer a race: the kernel drops an ignored signal that comes before `install()`, so an
/// early ^C would be lost while a later one stops the tool.
public enum Signals {
    static let candidates: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    nonisolated(unsafe) static var handled: [Int32] = candidates
    static let pending = Atomic<Int32>(0)
    static let guards = Atomic<Int>(0)
    static let count = Atomic<Int>(0)
    nonisolated(unsafe) static var pipeFDs: [Int32] = [-1, -1]

    /// Readable once a stop was requested; add it to every poll(2) set of a long-running loop.
    public static var wakeFD: Int32 { pipeFDs[0] }

    /// The signal that asked us to stop, if any.
    public static var requested: Int32? {
        let s = pending.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// Throws `Interrupted` once a stop was requested.
    public static func check() throws {
        if let s = requested { throw Interrupted(signal: s) }
    }

    static func install() {
        signal(SIGPIPE, SIG_IGN)  // EPIPE comes back from write(2) instead
        handled = candidates.filter { !isIgnored($0) }
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        pipe(&pipeFDs)
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        var thread = pthread_t()
        pthread_create(&thread, nil, { _ in
            Signals.watch()
            return nil
        }, nil)
        pthread_detach(thread)
    }

    static func watch() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        while true {
            var sig: Int32 = 0
            guard sigwait(&set, &sig) == 0 else { continue }
            let n = count.add(1, ordering: .relaxed).newValue
            if guards.load(ordering: .acquiring) == 0 || n >= 3 {
                _exit(128 + sig)
            }
            pending.store(sig, ordering: .releasing)
            var byte: UInt8 = 1
            _ = write(pipeFDs[1], &byte, 1)
        }
    }

    static func finish() {}

    /// Whether `sig`'s disposition is SIG_IGN (inherited from the parent).
    static func isIgnored(_ sig: Int32) -> Bool {
        var action = sigaction()
        guard sigaction(sig, nil, &action) == 0 else { return false }
        let handler = unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
        return handler == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    /// Holds the process while guest state is changed: signals then unwind instead of killing.
    public final class GuestGuard {
        private var held = true

        public init() { Signals.guards.add(1, ordering: .releasing) }

        public func release() {
            if held {
                held = false
                Signals.guards.subtract(1, ordering: .releasing)
            }
        }

        deinit { release() }
    }

    /// Runs `body` with signals deferred; the teardown in `body`'s defers runs before any exit.
    public static func guarded<T>(_ body: () throws -> T) throws -> T {
        let guardian = GuestGuard()
        defer { guardian.release() }
        return try body()
    }
}
