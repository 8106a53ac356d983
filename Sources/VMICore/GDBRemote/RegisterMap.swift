/// Which registers of a target description a gdb target reports, under which names.
///
/// The names are the ones every source uses (RegisterSet): gdb's `eflags` is `rflags`, `cpsr`
/// is `pstate`, system registers are lowercased (`TTBR0_EL1` -> `ttbr0_el1`). Registers wider
/// than 64 bits (x87, SSE, SVE) and the floating-point/vector groups are left out: a `regs`
/// record holds 64-bit words.
public struct RegisterMap: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var register: TargetDescription.Register
        /// Byte offset and size in a `g` reply, when the register is in it.
        public var bytes: Int { register.bitsize / 8 }
    }

    public let arch: Architecture
    /// Reported registers, in regnum order.
    public let entries: [Entry]
    /// Every register of the description in regnum order (to walk a `g` reply).
    public let all: [TargetDescription.Register]
    private let byName: [String: Int]
    /// Reported registers of the `g` block: where each sits in the reply, in hex digits.
    private let coreSlots: [(name: String, offset: Int, digits: Int)]
    /// The `g` block's registers with zero values: a step copies it and fills in the values
    /// (no name is inserted, so no dictionary grows, per step).
    private let coreTemplate: RegisterSet
    private let coreDigits: Int

    public init(_ desc: TargetDescription) throws {
        guard let arch = desc.arch else {
            throw RSPError.invalid("target architecture '\(desc.architecture ?? "none")' is not x86_64 or aarch64")
        }
        self.arch = arch
        all = desc.registers
        var seen = Set<String>()
        var out: [Entry] = []
        for r in desc.registers where Self.reported(r) {
            let name = Self.name(r.name, arch)
            if seen.insert(name).inserted { out.append(Entry(name: name, register: r)) }
        }
        entries = out
        byName = Dictionary(uniqueKeysWithValues: out.enumerated().map { ($1.name, $0) })
        var offsets: [Int: Int] = [:]
        var off = 0
        for (i, r) in all.enumerated() {
            guard r.regnum == i, r.bitsize % 8 == 0 else { break }
            offsets[r.regnum] = off
            off += r.bitsize / 4
        }
        coreSlots = out.compactMap { e in
            offsets[e.register.regnum].map { (e.name, $0, e.register.bitsize / 4) }
        }
        var template = RegisterSet(arch: arch, vcpu: 0)
        for slot in coreSlots { template[slot.name] = 0 }
        coreTemplate = template
        coreDigits = coreSlots.map { $0.offset + $0.digits }.max() ?? 0
    }

    /// The reported registers of a `g` reply (what a step needs). Falls back to the general
    /// decoder when the block is shorter than the description or has unavailable (`xx`) values.
    public func decodeCore(_ reply: [UInt8]) throws -> RegisterSet {
        if reply.count >= coreDigits && reply.count % 2 == 0 {
            var set = coreTemplate
            var complete = true
            for slot in coreSlots {
                guard let v = Self.littleEndian(reply[slot.offset..<(slot.offset + slot.digits)]) else {
                    complete = false
                    break
                }
                set[slot.name] = v
            }
            if complete { return set }
        }
        let values = try decodeG(reply)
        var set = RegisterSet(arch: arch, vcpu: 0)
        for e in entries { if let v = values[e.register.regnum] { set[e.name] = v } }
        return set
    }

    static func reported(_ r: TargetDescription.Register) -> Bool {
        guard r.bitsize <= 64, r.bitsize % 8 == 0 else { return false }
        if let g = r.group, g == "float" || g == "vector" { return false }
        if let f = r.feature, f.hasSuffix(".sve") || f.hasSuffix(".fpu") || f.hasSuffix(".sse") { return false }
        return true
    }

    public static func name(_ gdbName: String, _ arch: Architecture) -> String {
        let lower = gdbName.lowercased()
        switch (arch, lower) {
        case (.x86_64, "eflags"): return "rflags"
        case (.aarch64, "cpsr"): return "pstate"
        case (.aarch64, _): return aarch64Names[lower] ?? lower
        default: return lower
        }
    }

    /// QEMU names system registers it defines for AArch32 and AArch64 at once by their AArch32
    /// name (target/arm/helper.c, ARM_CP_STATE_BOTH): `SCTLR` is SCTLR_EL1, `ID_PFR0` is
    /// ID_PFR0_EL1. The AArch64 name is the one other sources use.
    static let aarch64Names: [String: String] = {
        var m: [String: String] = ["amair0": "amair_el1"]
        for n in [
            "sctlr", "cpacr", "vbar", "cntkctl", "csselr", "clidr", "aidr", "id_pfr0", "id_pfr1", "id_pfr2", "id_dfr0",
            "id_dfr1", "id_afr0", "id_mmfr0", "id_mmfr1", "id_mmfr2", "id_mmfr3", "id_mmfr4", "id_mmfr5", "id_isar0",
            "id_isar1", "id_isar2", "id_isar3", "id_isar4", "id_isar5", "id_isar6",
        ] {
            m[n] = n + "_el1"
        }
        return m
    }()

    public func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// Decodes a `g` reply: registers in regnum order, little-endian, as far as the reply goes
    /// (stubs put only the core registers in `g`). `xx` (unavailable) bytes read as absent.
    public func decodeG(_ reply: [UInt8]) throws -> [Int: UInt64] {
        guard reply.count % 2 == 0 else { throw RSPError.unexpected("register block of odd length") }
        var values: [Int: UInt64] = [:]
        var off = 0
        var expected = 0
        for r in all {
            // Registers must be contiguous from 0 to sit in `g`; a gap ends the block.
            guard r.regnum == expected else { break }
            expected += 1
            let n = r.bitsize / 8 * 2
            guard r.bitsize % 8 == 0, off + n <= reply.count else { break }
            if r.bitsize <= 64, let v = Self.littleEndian(reply[off..<(off + n)]) { values[r.regnum] = v }
            off += n
        }
        return values
    }

    /// A register value as the stub writes it: little-endian hex bytes; nil for `xx` or non-hex.
    public static func littleEndian(_ hex: ArraySlice<UInt8>) -> UInt64? {
        guard hex.count % 2 == 0, hex.count <= 16, !hex.isEmpty else { return nil }
        var v: UInt64 = 0
        var shift: UInt64 = 0
        var i = hex.startIndex
        while i < hex.endIndex {
            guard let hi = hexValue(hex[i]), let lo = hexValue(hex[i + 1]) else { return nil }
            v |= UInt64(hi << 4 | lo) << shift
            shift += 8
            i += 2
        }
        return v
    }

    /// `value` as `bytes` little-endian hex bytes (for `P` and `G`).
    public static func encodeLittleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        var out: [UInt8] = []
        var v = value
        for _ in 0..<bytes {
            out.append(hexDigit(UInt8(v & 0xff) >> 4))
            out.append(hexDigit(UInt8(v & 0xf)))
            v >>= 8
        }
        return out
    }
}
