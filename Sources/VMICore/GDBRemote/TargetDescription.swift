/// A gdb target description: the registers a stub has, by name, size and number, read from
/// `target.xml` and the files it includes (gdb.texinfo, "Target Descriptions"; QEMU builds them
/// from gdb-xml/*.xml plus generated system-register features).
public struct TargetDescription: Equatable, Sendable {
    public struct Register: Equatable, Sendable {
        /// As the stub spells it (`eflags`, `cpsr`, `TTBR0_EL1`).
        public var name: String
        public var bitsize: Int
        /// The number used by `p`/`P` and the position in `g` (registers are laid out in regnum order).
        public var regnum: Int
        public var group: String?
        public var feature: String?
    }

    /// `i386:x86-64`, `aarch64`, ...
    public var architecture: String?
    /// In regnum order.
    public var registers: [Register]

    /// Loads `target.xml` through `fetch` (one `qXfer:features:read` object per call), following
    /// `xi:include` at most 8 deep and 64 files in all.
    public static func load(fetch: (String) throws -> [UInt8]) throws -> TargetDescription {
        var desc = TargetDescription(architecture: nil, registers: [])
        var next = 0
        var files = 0
        var feature: String?
        func visit(_ name: String, depth: Int) throws {
            files += 1
            guard depth < 8, files <= 64 else { throw RSPError.invalid("target description includes nest too deep") }
            for item in try TargetXML.parse(try fetch(name), file: name) {
                switch item {
                case .architecture(let a): desc.architecture = a
                case .feature(let f): feature = f
                case .include(let href): try visit(href, depth: depth + 1)
                case .register(let name, let bitsize, let regnum, let group):
                    let n = regnum ?? next
                    desc.registers.append(
                        Register(name: name, bitsize: bitsize, regnum: n, group: group, feature: feature))
                    next = n + 1
                }
            }
        }
        try visit("target.xml", depth: 0)
        desc.registers.sort { $0.regnum < $1.regnum }
        return desc
    }

    public var arch: Architecture? {
        switch architecture {
        case "i386:x86-64"?: return .x86_64
        case "aarch64"?: return .aarch64
        default:
            if registers.contains(where: { $0.name == "rip" }) { return .x86_64 }
            if registers.contains(where: { $0.name == "cpsr" }) && registers.contains(where: { $0.name == "x30" }) {
                return .aarch64
            }
            return nil
        }
    }
}

/// The few elements of a target description we use, in document order.
enum TargetXML {
    enum Item: Equatable {
        case architecture(String)
        case feature(String)
        case include(String)
        case register(name: String, bitsize: Int, regnum: Int?, group: String?)
    }

    /// A small scanner for the XML subset stubs send: declarations, DOCTYPE, comments, elements
    /// with quoted attributes, text. Anything it cannot follow is an error, never a crash.
    static func parse(_ bytes: [UInt8], file: String) throws -> [Item] {
        func bad(_ why: String) -> RSPError { .invalid("target description '\(file)': \(why)") }
        guard bytes.count <= 4 << 20 else { throw bad("larger than 4 MiB") }
        var items: [Item] = []
        var i = 0
        var inArchitecture = false
        var text: [UInt8] = []
        func find(_ needle: String, from: Int) -> Int? {
            let n = Array(needle.utf8)
            guard bytes.count >= n.count else { return nil }
            var j = from
            while j + n.count <= bytes.count {
                if bytes[j] == n[0] && Array(bytes[j..<(j + n.count)]) == n { return j }
                j += 1
            }
            return nil
        }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "<") else {
                if inArchitecture { text.append(bytes[i]) }
                i += 1
                continue
            }
            if bytes[i...].starts(with: Array("<!--".utf8)) {
                guard let end = find("-->", from: i + 4) else { throw bad("unterminated comment") }
                i = end + 3
                continue
            }
            if bytes[i...].starts(with: Array("<?".utf8)) {
                guard let end = find("?>", from: i + 2) else { throw bad("unterminated declaration") }
                i = end + 2
                continue
            }
            if bytes[i...].starts(with: Array("<!".utf8)) {
                // <!DOCTYPE ...> possibly with an internal subset in [...].
                var j = i + 2
                var bracket = 0
                while j < bytes.count {
                    if bytes[j] == UInt8(ascii: "[") { bracket += 1 }
                    if bytes[j] == UInt8(ascii: "]") { bracket -= 1 }
                    if bytes[j] == UInt8(ascii: ">") && bracket <= 0 { break }
                    j += 1
                }
                guard j < bytes.count else { throw bad("unterminated declaration") }
                i = j + 1
                continue
            }
            let (tag, end) = try element(bytes, at: i, bad)
            i = end
            if tag.closing {
                if tag.name == "architecture" && inArchitecture {
                    items.append(.architecture(String(decoding: text, as: UTF8.self).trimmingASCIISpaces()))
                    inArchitecture = false
                }
                continue
            }
            switch tag.name {
            case "architecture":
                inArchitecture = !tag.selfClosing
                text = []
            case "feature":
                items.append(.feature(tag.attributes["name"] ?? ""))
            case "xi:include", "include":
                guard let href = tag.attributes["href"], !href.isEmpty, href.count < 256 else {
                    throw bad("include without href")
                }
                items.append(.include(href))
            case "reg":
                guard let name = tag.attributes["name"], !name.isEmpty, name.count < 128 else {
                    throw bad("register without a name")
                }
                guard let bits = tag.attributes["bitsize"].flatMap({ Int($0) }), bits > 0, bits <= 8192 else {
                    throw bad("register '\(name)' has no valid bitsize")
                }
                var regnum: Int?
                if let r = tag.attributes["regnum"] {
                    guard let n = Int(r), n >= 0, n < 1 << 16 else { throw bad("register '\(name)' has a bad regnum") }
                    regnum = n
                }
                items.append(.register(name: name, bitsize: bits, regnum: regnum, group: tag.attributes["group"]))
            default:
                break
            }
        }
        return items
    }

    struct Tag {
        var name: String
        var attributes: [String: String]
        var closing: Bool
        var selfClosing: Bool
    }

    /// Reads `<name a="v" ...>` or `</name>` at `start`; returns the tag and the index after `>`.
    static func element(_ b: [UInt8], at start: Int, _ bad: (String) -> RSPError) throws -> (Tag, Int) {
        var i = start + 1
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d }
        func isNameChar(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == UInt8(ascii: ":") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
        func name() -> String {
            let s = i
            while i < b.count && isNameChar(b[i]) { i += 1 }
            return String(decoding: b[s..<i], as: UTF8.self)
        }
        var tag = Tag(name: "", attributes: [:], closing: false, selfClosing: false)
        if i < b.count && b[i] == UInt8(ascii: "/") {
            tag.closing = true
            i += 1
        }
        tag.name = name()
        guard !tag.name.isEmpty else { throw bad("malformed element") }
        while true {
            while i < b.count && isSpace(b[i]) { i += 1 }
            guard i < b.count else { throw bad("unterminated element <\(tag.name)>") }
            if b[i] == UInt8(ascii: ">") { return (tag, i + 1) }
            if b[i] == UInt8(ascii: "/") && i + 1 < b.count && b[i + 1] == UInt8(ascii: ">") {
                tag.selfClosing = true
                return (tag, i + 2)
            }
            let key = name()
            guard !key.isEmpty else { throw bad("malformed attribute in <\(tag.name)>") }
            while i < b.count && isSpace(b[i]) { i += 1 }
            guard i < b.count, b[i] == UInt8(ascii: "=") else { throw bad("attribute '\(key)' without a value") }
            i += 1
            while i < b.count && isSpace(b[i]) { i += 1 }
            guard i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") else {
                throw bad("unquoted attribute '\(key)'")
            }
            let quote = b[i]
            i += 1
            let s = i
            while i < b.count && b[i] != quote { i += 1 }
            guard i < b.count else { throw bad("unterminated attribute '\(key)'") }
            tag.attributes[key] = unescapeEntities(String(decoding: b[s..<i], as: UTF8.self))
            i += 1
        }
    }

    static func unescapeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingAll("&lt;", "<").replacingAll("&gt;", ">").replacingAll("&quot;", "\"")
            .replacingAll("&apos;", "'").replacingAll("&amp;", "&")
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        var s = String(String.UnicodeScalarView(scalars))
        while let last = s.last, last == " " || last == "\n" || last == "\t" || last == "\r" { s.removeLast() }
        return s
    }

    func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
