/// Guest architectures the tools decode.
public enum Architecture: String, Sendable, Equatable {
    case x86_64
    case aarch64
}

/// The registers of one vCPU, in the order the source gives them (records keep that order).
///
/// Names are the lowercase names users know (`rip`, `cr3`, `x0`, `pc`, `sctlr_el1`): the same
/// spelling on every target, so `vmi-regs A | jq .cr3` works for a dump, a domain or a stub.
public struct RegisterSet: Equatable, Sendable {
    public var arch: Architecture
    public var vcpu: Int
    public private(set) var names: [String] = []
    public private(set) var values: [UInt64] = []
    private var index: [String: Int] = [:]

    public init(arch: Architecture, vcpu: Int) {
        self.arch = arch
        self.vcpu = vcpu
    }

    public subscript(name: String) -> UInt64? {
        get { index[name].map { values[$0] } }
        set {
            if let i = index[name] {
                if let v = newValue { values[i] = v } else { remove(at: i) }
            } else if let v = newValue {
                index[name] = names.count
                names.append(name)
                values.append(v)
            }
        }
    }

    private mutating func remove(at i: Int) {
        names.remove(at: i)
        values.remove(at: i)
        index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }

    public var count: Int { names.count }

    /// The program counter whatever the architecture.
    public var pc: UInt64? { self[arch == .x86_64 ? "rip" : "pc"] }

    /// Pairs whose values differ from `other` (or are missing there): what a step changed.
    public func changed(since other: RegisterSet) -> [(name: String, value: UInt64)] {
        zip(names, values).compactMap { name, value in other[name] == value ? nil : (name, value) }
    }

    public static func == (a: RegisterSet, b: RegisterSet) -> Bool {
        a.arch == b.arch && a.vcpu == b.vcpu && a.names == b.names && a.values == b.values
    }
}
