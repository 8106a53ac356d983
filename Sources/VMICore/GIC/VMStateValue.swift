/// A section's fields as decoded through its vmdesc description. Scalars and numeric arrays keep
/// big-endian words (every VMState integer type is sent big-endian, the "int32 le" type included:
/// "le" means "less or equal" there); structs nest; subsections hang off their owner by name.
enum VMStateValue {
    case words([UInt64])
    case bytes([UInt8])
    case structs([VMStateObject])
}

final class VMStateObject {
    let name: String
    var fields: [(name: String, value: VMStateValue)] = []
    var subsections: [VMStateObject] = []

    init(name: String) { self.name = name }

    /// Integer words of a field; elements of a field split into several description entries
    /// (QEMU writes struct arrays one entry per element) are joined.
    func words(_ field: String) -> [UInt64]? {
        var out: [UInt64]?
        for (n, v) in fields where n == field {
            if case .words(let w) = v { out = (out ?? []) + w }
        }
        return out
    }

    func word(_ field: String) -> UInt64? { words(field)?.first }

    func structs(_ field: String) -> [VMStateObject] {
        var out: [VMStateObject] = []
        for (n, v) in fields where n == field {
            if case .structs(let s) = v { out += s }
        }
        return out
    }

    func subsection(_ name: String) -> VMStateObject? { subsections.first { $0.name == name } }
}
