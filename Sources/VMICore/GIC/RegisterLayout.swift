/// A register word split into named bit fields: the table-driven decoder behind every GICv3
/// register this tool prints. Each layout names its source (Arm IHI 0069H, "Arm Generic Interrupt
/// Controller Architecture Specification, GIC architecture version 3 and version 4", and the
/// matching masks in Linux include/linux/irqchip/arm-gic-v3.h).
public struct BitField: Sendable {
    public enum Kind: Sendable {
        /// One bit, printed as a boolean.
        case flag
        /// A small unsigned number.
        case number
        /// The field plus one (ICH_VTR_EL2.ListRegs, PRIbits, PREbits hold "count minus one").
        case plusOne
        /// A wide field printed as hex.
        case hex
        /// An address kept in place (bits outside the field cleared), printed as hex.
        case address
        /// A bitmap printed as the list of its set bit numbers (ICH_ELRSR_EL2, ICH_AP<n>R).
        case bitList
    }

    public let key: StaticString
    public let lo: Int
    public let width: Int
    public let kind: Kind

    public init(_ key: StaticString, _ lo: Int, _ width: Int = 1, _ kind: Kind = .flag) {
        self.key = key
        self.lo = lo
        self.width = width
        self.kind = kind
    }

    @inlinable
    public func bits(_ raw: UInt64) -> UInt64 {
        let mask: UInt64 = width >= 64 ? ~0 : (1 << UInt64(width)) - 1
        return (raw >> UInt64(lo)) & mask
    }
}

/// One decoded field value.
public enum FieldValue: Equatable, Sendable {
    case flag(Bool)
    case number(Int)
    case hex(UInt64)
    case bitList([Int])
    case text(String)
}

public struct RegisterLayout: Sendable {
    /// The JSON key and `--decode` name: `ich_hcr_el2`.
    public let name: String
    public let fields: [BitField]

    public init(_ name: String, _ fields: [BitField]) {
        self.name = name
        self.fields = fields
    }

    public func decode(_ raw: UInt64) -> [(key: StaticString, value: FieldValue)] {
        fields.map { f in
            let v = f.bits(raw)
            switch f.kind {
            case .flag: return (f.key, .flag(v != 0))
            case .number: return (f.key, .number(Int(v)))
            case .plusOne: return (f.key, .number(Int(v) + 1))
            case .hex: return (f.key, .hex(v))
            case .address: return (f.key, .hex(v << UInt64(f.lo)))
            case .bitList: return (f.key, .bitList((0..<f.width).filter { v & (1 << UInt64($0)) != 0 }))
            }
        }
    }
}

extension JSONLine {
    /// `"key":{"raw":"0x..",<decoded fields>}`: a register word with its decoding beside it.
    public mutating func register(_ key: StaticString, _ layout: RegisterLayout, raw: UInt64) {
        object(key) { line in line.decodedFields(layout.decode(raw), raw: raw) }
    }

    mutating func decodedFields(_ fields: [(key: StaticString, value: FieldValue)], raw: UInt64) {
        field("raw", hex: raw)
        for (k, v) in fields { field(k, v) }
    }

    public mutating func field(_ key: StaticString, _ value: FieldValue) {
        switch value {
        case .flag(let b): field(key, b)
        case .number(let n): field(key, n)
        case .hex(let h): field(key, hex: h)
        case .bitList(let l): field(key, intArray: l)
        case .text(let s): field(key, s)
        }
    }
}
