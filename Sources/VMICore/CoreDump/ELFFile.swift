/// The parts of an ELF64 file a dump reader needs: header, program headers, section headers and
/// notes (System V gABI, "ELF Header", "Program Header", "Sections", "Note Section").
///
/// Pure decoding over a `ByteView`; every table is checked against the file's size before use and
/// counts are capped, so a hostile header cannot make the reader fault or allocate without bound.
struct ELFFile {
    struct Header: Equatable {
        var bigEndian: Bool
        var type: UInt16
        var machine: UInt16
        var phoff: UInt64
        var shoff: UInt64
        var phentsize: UInt16
        var phnum: Int
        var shentsize: UInt16
        var shnum: Int
        var shstrndx: Int
    }

    struct ProgramHeader: Equatable {
        var type: UInt32
        var offset: UInt64
        var vaddr: UInt64
        var paddr: UInt64
        var filesz: UInt64
        var memsz: UInt64
    }

    struct Section: Equatable {
        var name: String
        var type: UInt32
        var offset: UInt64
        var size: UInt64
    }

    static let ET_CORE: UInt16 = 4
    static let EM_386: UInt16 = 3
    static let EM_X86_64: UInt16 = 62
    static let EM_AARCH64: UInt16 = 183
    static let PT_LOAD: UInt32 = 1
    static let PT_NOTE: UInt32 = 4
    static let SHT_NOBITS: UInt32 = 8
    /// More entries than any real dump has (QEMU: one PT_LOAD per RAM block; xg_core: 6 sections).
    static let maxTableEntries = 1 << 16

    var header: Header
    var programHeaders: [ProgramHeader]
    var sections: [Section]

    func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// Whether `bytes` starts with the ELF magic (what format detection looks at first).
    static func hasMagic(_ bytes: ByteView) -> Bool {
        (try? bytes.u32(0)) == 0x464c_457f  // "\x7fELF" read little-endian
    }

    static func parse(_ file: ByteView) throws(DumpFormatError) -> ELFFile {
        guard hasMagic(file) else { throw .notADump("no ELF header") }
        guard file.count >= 64 else { throw .corrupt("truncated ELF header (\(file.count) bytes)") }
        let elfClass = (try? file.u8(4)) ?? 0
        let data = (try? file.u8(5)) ?? 0
        guard elfClass == 2 else {
            throw elfClass == 1
                ? .notADump("32-bit ELF dumps are not supported") : .corrupt("bad ELF class \(elfClass)")
        }
        guard data == 1 || data == 2 else { throw .corrupt("bad ELF data encoding \(data)") }
        var v = file
        v.bigEndian = data == 2
        do {
            var h = Header(
                bigEndian: v.bigEndian, type: try v.u16(16), machine: try v.u16(18), phoff: try v.u64(32),
                shoff: try v.u64(40), phentsize: try v.u16(54), phnum: Int(try v.u16(56)),
                shentsize: try v.u16(58), shnum: Int(try v.u16(60)), shstrndx: Int(try v.u16(62)))
            // Extended numbering (gABI): counts too large for the header live in section 0.
            if h.shoff != 0 && (h.shnum == 0 || h.shstrndx == 0xffff || h.phnum == 0xffff) {
                guard h.shentsize >= 64, v.contains(offset: h.shoff, length: 64) else {
                    throw DumpFormatError.corrupt("section table at \(hex(h.shoff)) is past the end of the file")
                }
                let s0 = Int(h.shoff)
                if h.shnum == 0 { h.shnum = Int(clamping: try v.u64(s0 + 32)) }
                if h.shstrndx == 0xffff { h.shstrndx = Int(try v.u32(s0 + 40)) }
                if h.phnum == 0xffff { h.phnum = Int(try v.u32(s0 + 44)) }
            }
            let phdrs = try programHeaders(v, h)
            let sections = try sectionHeaders(v, h)
            return ELFFile(header: h, programHeaders: phdrs, sections: sections)
        } catch let e as DumpFormatError {
            throw e
        } catch {
            throw .corrupt("truncated ELF header")
        }
    }

    /// Checks that a table of `count` entries of `entsize` (at least `minimum`) bytes at `offset`
    /// lies inside the file.
    static func checkTable(_ v: ByteView, _ what: String, offset: UInt64, count: Int, entsize: UInt16, minimum: Int)
        throws(DumpFormatError)
    {
        guard count <= maxTableEntries else { throw .corrupt("absurd \(what) count \(count)") }
        guard count > 0 else { return }
        guard Int(entsize) >= minimum else { throw .corrupt("\(what) entry size \(entsize) is below \(minimum)") }
        let length = UInt64(count) * UInt64(entsize)
        guard v.contains(offset: offset, length: length) else {
            throw .corrupt(
                "\(what) table (\(hex(offset)), \(count) entries) ends past the end of the file (\(hex(UInt64(v.count))) bytes)"
            )
        }
    }

    static func programHeaders(_ v: ByteView, _ h: Header) throws -> [ProgramHeader] {
        try checkTable(v, "program header", offset: h.phoff, count: h.phnum, entsize: h.phentsize, minimum: 56)
        return try (0..<h.phnum).map { i in
            let o = Int(h.phoff) + i * Int(h.phentsize)
            return ProgramHeader(
                type: try v.u32(o), offset: try v.u64(o + 8), vaddr: try v.u64(o + 16), paddr: try v.u64(o + 24),
                filesz: try v.u64(o + 32), memsz: try v.u64(o + 40))
        }
    }

    static func sectionHeaders(_ v: ByteView, _ h: Header) throws -> [Section] {
        guard h.shoff != 0 else { return [] }
        try checkTable(v, "section header", offset: h.shoff, count: h.shnum, entsize: h.shentsize, minimum: 64)
        struct Raw { var name: UInt32, type: UInt32, offset: UInt64, size: UInt64 }
        let raws = try (0..<h.shnum).map { i -> Raw in
            let o = Int(h.shoff) + i * Int(h.shentsize)
            return Raw(name: try v.u32(o), type: try v.u32(o + 4), offset: try v.u64(o + 24), size: try v.u64(o + 32))
        }
        // Names come from the string table section; a missing or bad one leaves names empty.
        var strtab: ByteView?
        if h.shstrndx > 0 && h.shstrndx < raws.count {
            let s = raws[h.shstrndx]
            strtab = try? v.slice(offset: s.offset, length: s.size)
            if strtab == nil { throw DumpFormatError.corrupt("section name table ends past the end of the file") }
        }
        return raws.map { r in
            Section(
                name: strtab?.cString(Int(r.name), maxLength: 256) ?? "", type: r.type, offset: r.offset,
                size: r.size)
        }
    }
}

/// One ELF note: owner name, type, and where its descriptor lies in the file.
struct ELFNote: Equatable {
    var name: String
    var type: UInt32
    /// The descriptor (payload).
    var descOffset: UInt64
    var descSize: UInt64

    /// More notes than any dump carries (QEMU writes ~3 per vCPU).
    static let maxCount = 1 << 16

    /// Decodes the notes in `[offset, offset + size)`: 4-byte aligned namesz/descsz/type headers,
    /// as both QEMU (dump.c) and xg_core (xc_core.c) write them.
    static func parse(_ v: ByteView, offset: UInt64, size: UInt64) throws(DumpFormatError) -> [ELFNote] {
        guard v.contains(offset: offset, length: size) else {
            throw .corrupt("note segment (\(hex(offset)), \(hex(size)) bytes) ends past the end of the file")
        }
        var notes: [ELFNote] = []
        var at = offset
        let end = offset + size
        while end - at >= 12 {
            guard notes.count < maxCount else { throw .corrupt("more than \(maxCount) notes") }
            let namesz = UInt64((try? v.u32(Int(at))) ?? 0)
            let descsz = UInt64((try? v.u32(Int(at) + 4)) ?? 0)
            let type = (try? v.u32(Int(at) + 8)) ?? 0
            let nameStart = at + 12
            let descStart = nameStart + align4(namesz)
            guard align4(namesz) <= end - nameStart, descsz <= end - descStart else {
                throw .corrupt("note at \(hex(at)) (descsz \(hex(descsz))) runs past its segment")
            }
            let name = v.cString(Int(nameStart), maxLength: Int(namesz))
            notes.append(ELFNote(name: name, type: type, descOffset: descStart, descSize: descsz))
            at = descStart + min(align4(descsz), end - descStart)
        }
        return notes
    }

    static func align4(_ n: UInt64) -> UInt64 { (n + 3) & ~3 }
}

/// Why a file is not a readable dump; the opener turns it into `'PATH': not a dump: ...` or
/// `'PATH': corrupt dump: ...`.
enum DumpFormatError: Error, Equatable {
    case notADump(String)
    case corrupt(String)
}
