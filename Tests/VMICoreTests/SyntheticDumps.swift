import Foundation

@testable import VMICore

/// Small ELF images built in memory for decoder unit tests (real dumps are tested in CLITests
/// against the lab's fixtures). Layouts follow the same headers the readers cite.
enum Synthetic {
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static func put<T: FixedWidthInteger>(_ v: T, at offset: Int, in bytes: inout [UInt8]) {
        let b = le(v)
        if bytes.count < offset + b.count { bytes += [UInt8](repeating: 0, count: offset + b.count - bytes.count) }
        bytes.replaceSubrange(offset..<offset + b.count, with: b)
    }

    static func note(_ name: String, _ type: UInt32, _ desc: [UInt8]) -> [UInt8] {
        var n = le(UInt32(name.utf8.count + 1)) + le(UInt32(desc.count)) + le(type)
        var nm = Array(name.utf8) + [0]
        while nm.count % 4 != 0 { nm.append(0) }
        var d = desc
        while d.count % 4 != 0 { d.append(0) }
        n += nm + d
        return n
    }

    static func header(machine: UInt16, phnum: Int, shoff: UInt64 = 0, shnum: Int = 0, shstrndx: Int = 0) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 64)
        h[0...3] = [0x7f, 0x45, 0x4c, 0x46]
        h[4] = 2
        h[5] = 1
        h[6] = 1
        put(UInt16(4), at: 16, in: &h)
        put(machine, at: 18, in: &h)
        put(UInt32(1), at: 20, in: &h)
        put(UInt64(phnum > 0 ? 64 : 0), at: 32, in: &h)
        put(shoff, at: 40, in: &h)
        put(UInt16(64), at: 52, in: &h)
        put(UInt16(56), at: 54, in: &h)
        put(UInt16(phnum), at: 56, in: &h)
        put(UInt16(64), at: 58, in: &h)
        put(UInt16(shnum), at: 60, in: &h)
        put(UInt16(shstrndx), at: 62, in: &h)
        return h
    }

    /// A QEMU-style core: one PT_NOTE holding `notes`, then one PT_LOAD per (paddr, bytes).
    static func qemuCore(machine: UInt16, notes: [[UInt8]], ram: [(UInt64, [UInt8])]) -> [UInt8] {
        let phnum = 1 + ram.count
        var out = header(machine: machine, phnum: phnum)
        let noteBytes = notes.flatMap { $0 }
        var offset = 64 + 56 * phnum
        var phdrs: [UInt8] = []
        func phdr(_ type: UInt32, _ off: Int, _ paddr: UInt64, _ size: Int) -> [UInt8] {
            var p = [UInt8](repeating: 0, count: 56)
            put(type, at: 0, in: &p)
            put(UInt64(off), at: 8, in: &p)
            put(paddr, at: 16, in: &p)
            put(paddr, at: 24, in: &p)
            put(UInt64(size), at: 32, in: &p)
            put(UInt64(size), at: 40, in: &p)
            return p
        }
        phdrs += phdr(4, offset, 0, noteBytes.count)
        offset += noteBytes.count
        var body = noteBytes
        for (paddr, bytes) in ram {
            phdrs += phdr(1, offset, paddr, bytes.count)
            offset += bytes.count
            body += bytes
        }
        out += phdrs + body
        return out
    }

    /// An xl dump-core: sections .shstrtab, .note.Xen, .xen_prstatus, .xen_shared_info,
    /// .xen_pages, .xen_p2m (PV) for `pages` given as (pfn, gmfn, 4 KiB of bytes).
    static func xenCore(contexts: [[UInt8]], pages: [(UInt64, UInt64, [UInt8])], pv: Bool = true) -> [UInt8] {
        let names = [
            "", ".shstrtab", ".note.Xen", ".xen_prstatus", ".xen_shared_info", ".xen_pages",
            pv ? ".xen_p2m" : ".xen_pfn",
        ]
        var strtab: [UInt8] = []
        var nameOffsets: [Int] = []
        for n in names {
            nameOffsets.append(strtab.count)
            strtab += Array(n.utf8) + [0]
        }
        let headerDesc =
            le(UInt64(pv ? 0xF00F_EBED : 0xF00F_EBEE)) + le(UInt64(contexts.count)) + le(UInt64(pages.count))
            + le(UInt64(4096))
        var version = le(UInt64(4)) + le(UInt64(17)) + Array(".7".utf8)
        version += [UInt8](repeating: 0, count: 1280 - version.count)
        let notes =
            note("Xen", 0x200_0000, []) + note("Xen", 0x200_0001, headerDesc) + note("Xen", 0x200_0002, version)
            + note("Xen", 0x200_0003, le(UInt64(1)))
        let prstatus = contexts.flatMap { $0 }
        let shared = [UInt8](repeating: 0xab, count: 4096)
        let table = pages.flatMap { pv ? le($0.0) + le($0.1) : le($0.0) }
        // Layout: header, strtab, notes, prstatus, shared, pad to page, pages, table, section headers.
        var body: [UInt8] = header(machine: 62, phnum: 0)
        var ranges: [(Int, Int)] = [(0, 0)]
        for chunk in [strtab, notes, prstatus, shared] {
            ranges.append((body.count, chunk.count))
            body += chunk
        }
        while body.count % 4096 != 0 { body.append(0) }
        ranges.append((body.count, pages.count * 4096))
        for p in pages { body += p.2 }
        ranges.append((body.count, table.count))
        body += table
        let shoff = body.count
        for (i, r) in ranges.enumerated() {
            var sh = [UInt8](repeating: 0, count: 64)
            put(UInt32(nameOffsets[i]), at: 0, in: &sh)
            put(UInt32(i == 0 ? 0 : i == 1 ? 3 : i == 2 ? 7 : 1), at: 4, in: &sh)
            put(UInt64(r.0), at: 24, in: &sh)
            put(UInt64(r.1), at: 32, in: &sh)
            body += sh
        }
        put(UInt64(shoff), at: 40, in: &body)
        put(UInt16(names.count), at: 60, in: &body)
        put(UInt16(1), at: 62, in: &body)
        return body
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func file(_ bytes: [UInt8], name: String = "dump.core") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vmi-coredump-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// Guest-physical memory made of 4 KiB pages in a dictionary: page tables for walker tests.
final class PageMemory: PhysicalMemory {
    var pages: [UInt64: [UInt8]] = [:]
    var reads = 0

    func set(_ address: UInt64, _ value: UInt64) {
        let page = address >> 12
        var p = pages[page] ?? [UInt8](repeating: 0, count: 4096)
        Synthetic.put(value, at: Int(address & 0xfff), in: &p)
        pages[page] = p
    }

    func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        reads += 1
        var out: [UInt8] = []
        var a = address
        while out.count < count {
            guard let p = pages[a >> 12] else { throw PhysicalMemoryError.unbacked(a) }
            let off = Int(a & 0xfff)
            let n = min(count - out.count, 4096 - off)
            out += p[off..<off + n]
            a += UInt64(n)
        }
        return out
    }
}
