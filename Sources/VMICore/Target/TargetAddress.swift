#if canImport(Glibc)
import Glibc
#endif

/// How a user names a VM: the one positional TARGET every tool takes (DESIGN.md, "Targets").
public enum TargetAddress: Equatable, Sendable, CustomStringConvertible {
    case xen(XenDomainRef)
    case core(path: String)
    case gdb(GDBEndpoint)
    case vmstate(path: String)
    case kvmVGIC(path: String)
    /// Console text holding debug-key output; `"-"` is standard input.
    case console(path: String)

    public enum XenDomainRef: Equatable, Sendable, CustomStringConvertible {
        case name(String)
        case id(UInt32)
        case uuid(String)

        public var description: String {
            switch self {
            case .name(let n): return n
            case .id(let i): return String(i)
            case .uuid(let u): return u
            }
        }
    }

    public enum GDBEndpoint: Equatable, Sendable, CustomStringConvertible {
        case tcp(host: String, port: UInt16)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let h, let p): return "\(h):\(p)"
            case .unix(let p): return "unix:\(p)"
            }
        }
    }

    /// The spelling used in records (`"target"`) and messages.
    public var description: String {
        switch self {
        case .xen(let d): return "xen:\(d)"
        case .core(let p): return "core:\(p)"
        case .gdb(let e): return "gdb:\(e)"
        case .vmstate(let p): return "vmstate:\(p)"
        case .kvmVGIC(let p): return "kvm-vgic:\(p)"
        case .console(let p): return "console:\(p)"
        }
    }

    /// Parses a TARGET. `fileExists` is injectable for tests; a bare word that names an existing
    /// file is a dump, anything else is a Xen domain.
    public init(parsing text: String, fileExists: (String) -> Bool = TargetAddress.fileExists) throws {
        func path(_ rest: Substring, _ scheme: String) throws -> String {
            guard !rest.isEmpty else { throw TargetError.malformed(text, "\(scheme): needs a path") }
            return String(rest)
        }
        if text.isEmpty { throw TargetError.malformed(text, "empty target") }
        if let rest = text.stripping(prefix: "xen:") {
            self = .xen(try Self.domain(rest, text))
        } else if let rest = text.stripping(prefix: "core:") {
            self = .core(path: try path(rest, "core"))
        } else if let rest = text.stripping(prefix: "gdb:") {
            self = .gdb(try Self.gdbEndpoint(rest, text))
        } else if let rest = text.stripping(prefix: "vmstate:") {
            self = .vmstate(path: try path(rest, "vmstate"))
        } else if let rest = text.stripping(prefix: "kvm-vgic:") {
            self = .kvmVGIC(path: try path(rest, "kvm-vgic"))
        } else if let rest = text.stripping(prefix: "console:") {
            self = .console(path: try path(rest, "console"))
        } else if fileExists(text) || text.contains("/") {
            self = .core(path: text)
        } else {
            self = .xen(try Self.domain(Substring(text), text))
        }
    }

    static func domain(_ s: Substring, _ whole: String) throws -> XenDomainRef {
        if s.isEmpty { throw TargetError.malformed(whole, "xen: needs a domain name, id or uuid") }
        if s.allSatisfy(\.isASCIIDigit) {
            guard let id = UInt32(s), id < 0x7FF0 else { throw TargetError.malformed(whole, "domain id out of range") }
            return .id(id)
        }
        if isUUID(s) { return .uuid(s.lowercased()) }
        return .name(String(s))
    }

    static func gdbEndpoint(_ s: Substring, _ whole: String) throws -> GDBEndpoint {
        if let p = s.stripping(prefix: "unix:") {
            guard !p.isEmpty else { throw TargetError.malformed(whole, "gdb:unix: needs a socket path") }
            return .unix(path: String(p))
        }
        // HOST:PORT, HOST may be [v6] or omitted (":1234" means localhost).
        guard let colon = s.lastIndex(of: ":") else {
            throw TargetError.malformed(whole, "expected gdb:HOST:PORT or gdb:unix:PATH")
        }
        var host = String(s[..<colon])
        let portText = s[s.index(after: colon)...]
        guard let port = UInt16(portText), port > 0 else {
            throw TargetError.malformed(whole, "bad port '\(portText)'")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        return .tcp(host: host, port: port)
    }

    static func isUUID(_ s: Substring) -> Bool {
        let groups = s.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    public static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR
    }
}

public enum TargetError: Error, Equatable, CustomStringConvertible {
    case malformed(String, String)

    public var description: String {
        switch self {
        case .malformed(let t, let why): return "invalid target '\(t)': \(why)"
        }
    }
}

extension StringProtocol {
    func stripping(prefix: String) -> SubSequence? {
        hasPrefix(prefix) ? self[index(startIndex, offsetBy: prefix.count)...] : nil
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
