/// Opens an offline dump, its format detected from its content (never its name): an `xl
/// dump-core` (ELF with `.note.Xen`/`.xen_*` sections) or a QEMU `dump-guest-memory` ELF core.
///
/// Errors: `cannot open 'PATH': <strerror>`, `'PATH': not a dump: <why>` for other files, and
/// `'PATH': corrupt dump: <why>` for dumps whose structure does not hold together.
func openCoreDumpTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    try openCoreDump(path: path, address: address)
}

/// The dump as its concrete driver (`XenDumpCore` or `QEMUDump`).
public func openCoreDump(path: String, address: TargetAddress? = nil) throws -> TargetDriver {
    let file = try MappedFile(path: path)
    let target = address ?? .core(path: path)
    do {
        let bytes = file.bytes
        guard ELFFile.hasMagic(bytes) else { throw DumpFormatError.notADump(describeNonELF(bytes)) }
        let elf = try ELFFile.parse(bytes)
        guard elf.header.type == ELFFile.ET_CORE else {
            throw DumpFormatError.notADump("ELF file of type \(elf.header.type), not a core file")
        }
        if XenDumpCore.Layout.matches(elf) { return try XenDumpCore(file: file, elf: elf, address: target) }
        return try QEMUDump(file: file, elf: elf, address: target)
    } catch let e as DumpFormatError {
        switch e {
        case .notADump(let why): throw VMIError("'\(path)': not a dump: \(why)")
        case .corrupt(let why): throw VMIError("'\(path)': corrupt dump: \(why)")
        }
    }
}

/// Names the dump formats this reader does not take, so the message says what the file is.
func describeNonELF(_ bytes: ByteView) -> String {
    if bytes.count == 0 { return "empty file" }
    let head = bytes.cString(0, maxLength: 8)
    if head.hasPrefix("KDUMP") {
        return "kdump-compressed dump (dump-guest-memory -z/-l/-s): only the ELF format is supported"
    }
    if head.hasPrefix("PAGEDU") { return "Windows crash dump: not supported" }
    if (try? bytes.u32(0)) == 0x4d56_4551 { return "QEMU migration stream (use vmstate:PATH)" }
    return "no ELF header"
}
