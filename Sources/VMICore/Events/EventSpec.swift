/// One `--event` argument: what to watch, in the one spec syntax shared by every target.
///
/// ```
/// cr0 | cr3 | cr4 | xcr0              control-register writes
/// msr[:INDEX]                         MSR writes (all, or one index)
/// int3                                every software breakpoint the guest hits
/// breakpoint@ADDR | hbreak@ADDR       our own breakpoint at a guest virtual address (software | hardware)
/// cpuid | debug | interrupt | desc | guest-request | vmexit | io | singlestep | privcall
/// mem:ACCESS@GFN[-GFN]                mem_access on guest frames; ACCESS is a set of r, w, x
/// mem:ACCESS@va:ADDR[+LEN]            the same on a virtual range (watchpoints on gdb targets)
/// ```
public struct EventSpec: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case cr0, cr3, cr4, xcr0, msr, int3, breakpoint, hbreak, cpuid, debug, interrupt, desc
        case guestRequest = "guest-request"
        case vmexit, io, singlestep, mem, privcall
    }

    public struct Access: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let read = Access(rawValue: 1)
        public static let write = Access(rawValue: 2)
        public static let execute = Access(rawValue: 4)

        /// "r", "w", "rw", "rwx", ... in that fixed order.
        public var description: String {
            (contains(.read) ? "r" : "") + (contains(.write) ? "w" : "") + (contains(.execute) ? "x" : "")
        }
    }

    public enum Range: Equatable, Sendable {
        case frames(ClosedRange<UInt64>)
        case virtual(address: UInt64, length: UInt64)
    }

    public var kind: Kind
    /// `msr:INDEX`
    public var msrIndex: UInt32?
    /// `breakpoint@ADDR`, `hbreak@ADDR`
    public var address: UInt64?
    /// `mem:ACCESS@...`
    public var access: Access = []
    public var range: Range?

    public init(kind: Kind) { self.kind = kind }

    public var isControlRegister: Bool { [.cr0, .cr3, .cr4, .xcr0].contains(kind) }

    public var description: String {
        switch kind {
        case .msr: return msrIndex.map { "msr:\(hex(UInt64($0)))" } ?? "msr"
        case .breakpoint, .hbreak: return "\(kind.rawValue)@\(hex(address ?? 0))"
        case .mem:
            switch range {
            case .frames(let r)?:
                return "mem:\(access)@\(hex(r.lowerBound))" + (r.upperBound > r.lowerBound ? "-\(hex(r.upperBound))" : "")
            case .virtual(let a, let l)?: return "mem:\(access)@va:\(hex(a))+\(l)"
            case nil: return "mem:\(access)"
            }
        default: return kind.rawValue
        }
    }

    public init(parsing text: String) throws {
        func bad(_ why: String) -> VMIError { VMIError("invalid event '\(text)': \(why)") }
        func number(_ s: Substring, _ what: String) throws -> UInt64 {
            guard let v = parseUInt64(s) else { throw bad("\(what) '\(s)' is not a number") }
            return v
        }
        let lower = text.lowercased()
        if let at = lower.firstIndex(of: "@"), lower.hasPrefix("breakpoint@") || lower.hasPrefix("hbreak@") {
            self.init(kind: lower.hasPrefix("hbreak") ? .hbreak : .breakpoint)
            address = try number(lower[lower.index(after: at)...], "address")
            return
        }
        if lower.hasPrefix("msr") {
            self.init(kind: .msr)
            let rest = lower.dropFirst(3)
            if rest.isEmpty { return }
            guard rest.first == ":" else { throw bad("expected msr or msr:INDEX") }
            let v = try number(rest.dropFirst(), "MSR index")
            guard v <= UInt32.max else { throw bad("MSR index out of range") }
            msrIndex = UInt32(v)
            return
        }
        if lower.hasPrefix("mem:") {
            self.init(kind: .mem)
            let body = lower.dropFirst(4)
            guard let at = body.firstIndex(of: "@") else { throw bad("expected mem:ACCESS@GFN[-GFN] or mem:ACCESS@va:ADDR[+LEN]") }
            for c in body[..<at] {
                switch c {
                case "r": access.insert(.read)
                case "w": access.insert(.write)
                case "x": access.insert(.execute)
                default: throw bad("access '\(c)' is not one of r, w, x")
                }
            }
            if access.isEmpty { throw bad("no access given (r, w, x)") }
            let where_ = body[body.index(after: at)...]
            if let va = where_.stripping(prefix: "va:") {
                let parts = va.split(separator: "+", maxSplits: 1)
                guard let first = parts.first else { throw bad("missing address") }
                let addr = try number(first, "address")
                let len = parts.count == 2 ? try number(parts[1], "length") : 1
                guard len > 0, len <= 1 << 30 else { throw bad("length must be 1 to 1 GiB") }
                range = .virtual(address: addr, length: len)
            } else {
                let parts = where_.split(separator: "-", maxSplits: 1)
                guard let first = parts.first else { throw bad("missing frame number") }
                let lo = try number(first, "frame")
                let hi = parts.count == 2 ? try number(parts[1], "frame") : lo
                guard hi >= lo else { throw bad("frame range ends before it starts") }
                // Xen's mem-access calls take a 32-bit frame count; a longer range (found by
                // fuzzing: 0x0-0xffffffffffffffff) also overflowed `ClosedRange.count`.
                guard hi - lo < UInt64(UInt32.max) else { throw bad("frame range longer than 2^32-1 frames") }
                range = .frames(lo...hi)
            }
            return
        }
        guard let kind = Kind(rawValue: lower), ![.breakpoint, .hbreak, .mem, .msr].contains(kind) else {
            let known = "cr0, cr3, cr4, xcr0, msr[:INDEX], int3, breakpoint@ADDR, hbreak@ADDR, cpuid, debug, "
                + "interrupt, desc, guest-request, vmexit, io, singlestep, privcall, mem:ACCESS@GFN[-GFN], "
                + "mem:ACCESS@va:ADDR[+LEN]"
            throw bad("unknown kind (known: \(known))")
        }
        self.init(kind: kind)
    }
}
