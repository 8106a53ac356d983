#if canImport(Glibc)
import Glibc
#endif

/// `console:FILE` or `console:-`: Xen console text (`xl dmesg`, a serial log) that holds
/// debug-key output. The text is read once, bounded, and parsed by the capability that needs it:
/// event channels (debug key `e`, EventChannels/) and the vGIC (debug key `q`, GIC/).
public final class ConsoleTarget: TargetDriver {
    public let address: TargetAddress
    public let text: String
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "console text" }

    /// Console rings are at most a few MiB (Xen's conring_size); anything larger is not a console.
    public static let maxBytes = 64 << 20

    public init(address: TargetAddress, text: String) {
        self.address = address
        self.text = text
    }

    public func close() {}

    /// Reads the whole file (or stdin for "-"), refusing more than `maxBytes`.
    public static func load(path: String, address: TargetAddress) throws -> ConsoleTarget {
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw VMIError.cannotOpen(path, errno: errno) }
        defer { if fd != 0 { Glibc.close(fd) } }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw VMIError("cannot read '\(path)': \(strerrorString(errno))")
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            if data.count > maxBytes { throw VMIError("'\(path)': more than 64 MiB: not console text") }
        }
        return ConsoleTarget(address: address, text: String(decoding: data, as: UTF8.self))
    }
}

func openConsoleTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    try ConsoleTarget.load(path: path, address: address)
}
