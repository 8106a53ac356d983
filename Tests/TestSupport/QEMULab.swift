import Foundation

/// The live QEMU guests `Tests/Lab/qemu/with-guests.sh` starts (TCG, gdbstub + HMP monitor on
/// 127.0.0.1). Each accessor is nil outside the lab, so a test can skip with a clear message.
public enum QEMULab {
    public enum Arch: String, CaseIterable, Sendable, CustomStringConvertible {
        case x86_64
        case aarch64
        /// virt,gic-version=3,virtualization=on: Linux runs at EL2 (VHE).
        case aarch64El2 = "aarch64-el2"

        /// The suffix of the environment variables naming this guest (`VMI_LAB_GDB_<SUFFIX>`).
        public var envSuffix: String { rawValue.uppercased().replacingOccurrences(of: "-", with: "_") }
        public var description: String { rawValue }
    }

    public struct Endpoint: Sendable, CustomStringConvertible {
        public var host: String
        public var port: UInt16
        public var description: String { "\(host):\(port)" }

        /// Parses "HOST:PORT" as the lab exports it; nil for anything else.
        public init?(_ text: String) {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]),
                colon > text.startIndex
            else { return nil }
            host = String(text[..<colon])
            self.port = port
        }
    }

    public struct Guest: Sendable {
        public var arch: Arch
        /// The gdbstub (`-gdb tcp:127.0.0.1:PORT`); the TARGET is "gdb:\(gdb)".
        public var gdb: Endpoint
        /// The HMP monitor (`-monitor tcp:127.0.0.1:PORT,server,nowait`).
        public var hmp: Endpoint
        /// guest.sh's state folder (console.log, env); nil when not exported.
        public var stateDir: String?

        public var gdbTarget: String { "gdb:\(gdb)" }
    }

    /// The running guest of that kind, or nil when the lab did not export it.
    public static func guest(_ arch: Arch) -> Guest? {
        guard let gdb = Lab.env("VMI_LAB_GDB_\(arch.envSuffix)").flatMap(Endpoint.init),
            let hmp = Lab.env("VMI_LAB_HMP_\(arch.envSuffix)").flatMap(Endpoint.init)
        else { return nil }
        return Guest(arch: arch, gdb: gdb, hmp: hmp, stateDir: Lab.env("VMI_LAB_QEMU_STATE_\(arch.envSuffix)"))
    }

    public static var isRunning: Bool { Arch.allCases.contains { guest($0) != nil } }

    /// Why a lab test did not run.
    public static let skipReason =
        "QEMU lab not running: run `Tests/Lab/qemu/with-guests.sh swift test --filter Lab` (see Tests/Lab/qemu/README.md)"
}
