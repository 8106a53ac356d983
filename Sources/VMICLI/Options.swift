import ArgumentParser
import VMICore

/// The positional TARGET every tool takes (DESIGN.md, "Targets").
public struct TargetOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The VM: a Xen domain (NAME, ID, xen:NAME|ID|UUID), core:DUMP (or a dump's path), "
                + "gdb:HOST:PORT, gdb:unix:PATH, vmstate:FILE, kvm-vgic:FILE, console:FILE|-.",
            valueName: "target"))
    public var target: String

    @Option(name: .long, help: ArgumentHelp("Xen: wait up to SECONDS for the domain to appear.", valueName: "seconds"))
    public var wait: Double?

    @Option(name: .long, help: ArgumentHelp("gdb: seconds to wait for each reply of the stub.", valueName: "seconds"))
    public var stubTimeout: Double = 10

    public init() {}

    public func validate() throws {
        do { _ = try TargetAddress(parsing: target) } catch let e as TargetError {
            throw ValidationError(e.description)
        }
        if let w = wait, !(w >= 0) { throw ValidationError("--wait needs a number of seconds >= 0") }
        if !(stubTimeout > 0) { throw ValidationError("--stub-timeout needs a number of seconds > 0") }
    }

    public var address: TargetAddress {
        // validate() already proved it parses.
        (try? TargetAddress(parsing: target)) ?? .core(path: target)
    }

    public func attachOptions(force: Bool = false) -> AttachOptions {
        AttachOptions(waitSeconds: wait, force: force, timeoutSeconds: stubTimeout)
    }

    /// Opens the target; the caller owns it and must `close()` it (use `withTarget`).
    public func open(force: Bool = false) throws -> TargetDriver {
        try openTarget(address, options: attachOptions(force: force))
    }

    /// Opens the target, runs `body`, and closes the target on every path. Signals are held
    /// while the target is open, so a ^C unwinds through `close()` (a gdb stub's VM is stopped
    /// from the moment we connect: the guard covers the attach too; other attaches, such as
    /// Xen's `--wait`, stay interruptible). The stop request is rethrown afterwards.
    public func withTarget<T>(force: Bool = false, _ body: (TargetDriver) throws -> T) throws -> T {
        var attachGuard: Signals.GuestGuard?
        if case .gdb = address { attachGuard = Signals.GuestGuard() }
        let result: T
        do {
            result = try Signals.guarded {
                let driver = try open(force: force)
                attachGuard?.release()
                defer { driver.close() }
                return try body(driver)
            }
        } catch {
            attachGuard?.release()
            try Signals.check()
            throw error
        }
        try Signals.check()
        return result
    }
}

/// `--text` for tools that have a human-readable layout; JSON lines otherwise.
public struct OutputOptions: ParsableArguments {
    @Flag(name: [.customShort("t"), .long], help: "Print a human-readable layout instead of JSON lines.")
    public var text = false

    public init() {}
}

/// The tool set's version, shown by `--version` with the JSON schema version.
public enum VMIVersion {
    public static let tools = "0.1.0"
    public static let jsonSchema = 1
    public static var string: String { "\(tools) (vmitools, JSON schema \(jsonSchema))" }
}
