#if canImport(Glibc)
    import Glibc
#endif

/// A QEMU migration stream read generically (format: QEMU migration/savevm.c
/// qemu_savevm_state_header / qemu_savevm_state_complete_precopy, migration/vmstate.c, migration/ram.c
/// ram_save_setup / ram_load_precopy; the reference reader is QEMU's scripts/analyze-migration.py):
///
///     u32 magic "QEVM", u32 version 3
///     0x07 CONFIGURATION: u32 len, machine name, then subsections (0x05, u8 len + name, u32 version,
///          fields): configuration/target-page-bits {u32}, configuration/capabilities {u32 n, n x (u8 len + name)},
///          configuration/uuid {16 bytes}
///     sections: 0x01 START / 0x04 FULL {u32 id, u8 len + idstr, u32 instance, u32 version, body}
///               0x02 PART / 0x03 END {u32 id, body}; after each body 0x7e FOOTER {u32 id}
///               0x08 COMMAND {u16 cmd, u16 len, data}
///     0x00 EOF, then 0x06 VMDESCRIPTION {u32 len, JSON}
///
/// The "ram" section body is a run of u64 (address | flags) headers (flags in the bits below the
/// target page size): MEM_SIZE 0x04 lists the RAM blocks, ZERO 0x02 one fill byte, PAGE 0x08 a whole
/// page, COMPRESS_PAGE 0x100 {u32 len, data}, XBZRLE 0x40 {u8, u16 len, data}, EOS 0x10 ends the
/// body, CONTINUE 0x20 means "same block as before" (otherwise u8 len + block name follows),
/// MULTIFD_FLUSH 0x200 has no payload. Pages are skipped, never kept. Every other section is walked
/// through its vmdesc description (VMStateDescription), which is read first from the end of the file.
///
/// Memory stays bounded: one 256 KiB window, the vmdesc (at most 16 MiB), and the sections asked for.
final class MigrationStream {
    static let magic: UInt32 = 0x5145_564d
    static let maxRAMBlocks = 4096
    static let maxKeptField = 1 << 20
    /// What the kept sections may hold in all, in stored bytes (words are 8 bytes each): QEMU's
    /// arm_gicv3 for 512 CPUs is ~10 MB stored; a vmdesc describing more is lying.
    static let maxKeptBytes = 64 << 20
    private var keptBytes = 0

    let reader: StreamReader
    let description: VMStateDescription
    var pageSize: Int
    var machine = ""
    var capabilities: [String] = []
    /// A page with CONTINUE refers to the last named block, across sections (QEMU's
    /// ram_block_from_stream keeps it in a function-static variable).
    private var haveBlock = false
    /// Kept so errors can say where the walk was.
    private var current = "stream header"

    init(path: String) throws {
        reader = try StreamReader(path: path)
        let m = try reader.be32("stream magic")
        guard m == Self.magic else {
            throw VMIError("'\(path)': not a QEMU migration stream (magic \(hex(UInt64(m))), expected 0x5145564d)")
        }
        let v = try reader.be32("stream version")
        guard v == 3 else { throw VMIError("'\(path)': unsupported migration stream version \(v) (expected 3)") }
        description = try VMStateDescription(json: try Self.findVMDesc(reader), streamSize: reader.size)
        pageSize = description.pageSize ?? 4096
    }

    func error(_ why: String) -> VMIError {
        VMIError("'\(reader.path)': \(current) at byte \(reader.offset): \(why)")
    }

    /// The trailing JSON: the last 0x06 whose u32 length runs exactly to the end of the file, right
    /// after the EOF byte. Looks in the last 64 KiB first (a whole virt machine's is ~25 KiB), then
    /// further, up to the vmdesc limit.
    static func findVMDesc(_ r: StreamReader) throws -> [UInt8] {
        for span in [64 << 10, 1 << 20, VMStateDescription.maxJSONBytes + 6] {
            let n = min(span, r.size)
            let tail = try r.read(at: r.size - n, count: n)
            // memchr from one 0x06 to the next, the last match wins: the bytes in between are not
            // looked at one by one (a stream that lies about its vmdesc makes this scan the span).
            let found = tail.withUnsafeBytes { b -> Int? in
                var last: Int?
                var p = 1  // candidates p in 1...n - 6: p + 5 is the JSON's first byte
                while p <= n - 6, let hit = memchr(b.baseAddress! + p, 0x06, n - 5 - p) {
                    p = b.baseAddress!.distance(to: UnsafeRawPointer(hit))
                    if b[p - 1] == 0x00 && b[p + 5] == UInt8(ascii: "{")
                        && (1...4).reduce(0, { $0 << 8 | Int(b[p + $1]) }) == n - p - 5 {
                        last = p
                    }
                    p += 1
                }
                return last
            }
            if let p = found { return Array(tail[(p + 5)...]) }
            if n == r.size { break }
        }
        throw VMIError("'\(r.path)': no vmdesc at the end of the stream (truncated, or QEMU did not describe it)")
    }

    /// Walks the stream until every section named in `wanted` was decoded, and returns those.
    func sections(named wanted: Set<String>) throws -> [(name: String, instance: UInt32, object: VMStateObject)] {
        let expected = description.devices.filter { wanted.contains($0.name) }.count
        guard expected > 0 else {
            throw VMIError("'\(reader.path)': the stream has no \(wanted.sorted().joined(separator: "/")) section")
        }
        var found: [(name: String, instance: UInt32, object: VMStateObject)] = []
        var ramSection: UInt32?
        var ramBlocks: [String] = []
        while true {
            current = "section header"
            let type = try reader.u8("a section type")
            switch type {
            case 0x00:
                throw VMIError(
                    "'\(reader.path)': the stream ended before its \(wanted.sorted().joined(separator: "/")) sections")
            case 0x07:
                try configuration()
            case 0x01, 0x04:
                let id = try reader.be32("a section id")
                let name = try reader.shortString("a section name")
                let instance = try reader.be32("an instance id")
                let version = try reader.be32("a section version")
                current = "section '\(name)'"
                if name == "ram" {
                    guard type == 0x01, ramSection == nil else { throw error("unexpected RAM section") }
                    guard version == 4 else { throw error("RAM section version \(version), expected 4") }
                    ramSection = id
                    try ramPages(&ramBlocks)
                } else {
                    guard let dev = description.device(name, instance: instance) else {
                        throw error("not described by the stream's vmdesc: cannot step over it")
                    }
                    guard let section = dev.section else {
                        throw error("the vmdesc gives no fields for it: cannot step over it")
                    }
                    let keep = wanted.contains(name)
                    let object = VMStateObject(name: section.name)
                    var budget = VMStateDescription.maxNodes
                    try fields(section, into: keep ? object : nil, budget: &budget)
                    if keep { found.append((name, instance, object)) }
                }
                try footer(id)
                if found.count == expected { return found }
            case 0x02, 0x03:
                let id = try reader.be32("a section id")
                current = "section \(id)"
                guard id == ramSection else { throw error("continues a section that never started (only RAM does)") }
                current = "section 'ram'"
                try ramPages(&ramBlocks)
                try footer(id)
            case 0x08:
                _ = try reader.be16("a command")
                let len = Int(try reader.be16("a command length"))
                try reader.skip(len, "command data")
            default:
                throw error("unknown section type \(hex(UInt64(type)))")
            }
        }
    }

    private func footer(_ id: UInt32) throws {
        let next = try reader.peek(1)
        guard next.first == 0x7e else { return }  // machine types before 2.4 send no footers
        _ = try reader.u8()
        let got = try reader.be32("a section footer")
        guard got == id else { throw error("footer names section \(got), expected \(id)") }
    }

    // MARK: configuration

    private func configuration() throws {
        current = "configuration section"
        if let desc = description.configuration {
            var budget = VMStateDescription.maxNodes
            let obj = VMStateObject(name: "configuration")
            try fields(desc, into: obj, budget: &budget)
            if let bits = obj.subsection("configuration/target-page-bits")?.word("target_page_bits") {
                try setPageBits(bits)
            }
            return
        }
        let len = Int(try reader.be32("machine name length"))
        guard len <= 256 else { throw error("machine name of \(len) bytes") }
        machine = String(decoding: try reader.bytes(len, "machine name"), as: UTF8.self)
        // QEMU 7.2 leaves the configuration out of the vmdesc, so its subsections are read by name
        // here (migration/savevm.c vmstate_configuration). analyze-migration.py of that release
        // stops at them; Arm streams always carry target-page-bits.
        while try reader.peek(1).first == 0x05 {
            _ = try reader.u8()
            let name = try reader.shortString("a subsection name")
            _ = try reader.be32("a subsection version")
            switch name {
            case "configuration/target-page-bits":
                try setPageBits(UInt64(try reader.be32("target page bits")))
            case "configuration/capabilities":
                let n = Int(try reader.be32("capability count"))
                guard n <= 256 else { throw error("\(n) capabilities") }
                for _ in 0..<n { capabilities.append(try reader.shortString("a capability")) }
            case "configuration/uuid":
                try reader.skip(16, "uuid")
            default:
                throw error("unknown configuration subsection '\(name)'")
            }
        }
    }

    private func setPageBits(_ bits: UInt64) throws {
        guard (9...16).contains(bits) else { throw error("target page bits \(bits) out of range") }
        let size = 1 << Int(bits)
        if let p = description.pageSize, p != size { throw error("page size \(size) disagrees with vmdesc \(p)") }
        pageSize = size
    }

    // MARK: RAM

    private func ramPages(_ blocks: inout [String]) throws {
        let flagMask = UInt64(pageSize - 1)
        let ignoreShared = capabilities.contains("x-ignore-shared")
        while true {
            let header = try reader.be64("a RAM page header")
            var flags = header & flagMask
            let addr = header & ~flagMask
            if flags & 0x200 != 0 { flags &= ~0x200 }  // MULTIFD_FLUSH: no payload
            let cont = flags & 0x20 != 0
            flags &= ~0x20
            if flags & (0x02 | 0x08 | 0x40 | 0x100) != 0 {
                if cont {
                    guard haveBlock else { throw error("RAM page continues a block never named") }
                } else {
                    let name = try reader.shortString("a RAM block name")
                    guard blocks.contains(name) else { throw error("RAM page in unknown block '\(name)'") }
                    haveBlock = true
                }
            }
            switch flags {
            case 0x04:
                var total = addr
                while total > 0 {
                    guard blocks.count < Self.maxRAMBlocks else {
                        throw error("more than \(Self.maxRAMBlocks) RAM blocks")
                    }
                    blocks.append(try reader.shortString("a RAM block name"))
                    let len = try reader.be64("a RAM block length")
                    if ignoreShared { _ = try reader.be64("a RAM block address") }
                    guard len > 0, len <= total else { throw error("RAM block lengths do not add up to \(hex(addr))") }
                    total -= len
                }
            case 0x02:
                try reader.skip(1, "a zero page")
            case 0x08:
                try reader.skip(pageSize, "a RAM page")
            case 0x100:
                let len = Int(try reader.be32("a compressed page length"))
                guard len <= 2 * pageSize + 64 else { throw error("compressed page of \(len) bytes") }
                try reader.skip(len, "a compressed page")
            case 0x40:
                _ = try reader.u8("an XBZRLE header")
                let len = Int(try reader.be16("an XBZRLE length"))
                guard len <= pageSize else { throw error("XBZRLE page of \(len) bytes") }
                try reader.skip(len, "an XBZRLE page")
            case 0x10:
                return
            case 0x80:
                throw error("RAM hook (RDMA migration) in a file stream")
            default:
                throw error("unknown RAM page flags \(hex(flags))")
            }
        }
    }

    // MARK: described sections

    /// Walks a described section: fields in order, then the subsections that were sent. Stores
    /// into `into` when given, else only steps over.
    private func fields(_ desc: VMStateDescription.Section, into obj: VMStateObject?, budget: inout Int) throws {
        for f in desc.fields {
            budget -= 1
            guard budget > 0 else { throw error("vmdesc describes more than the stream can hold") }
            if let sdesc = f.structure {
                var elems: [VMStateObject] = []
                for _ in 0..<f.count {
                    budget -= 1
                    guard budget > 0 else { throw error("vmdesc describes more than the stream can hold") }
                    let start = reader.offset
                    let e = VMStateObject(name: sdesc.name)
                    try fields(sdesc, into: obj == nil ? nil : e, budget: &budget)
                    // For one element the vmdesc size is exactly the bytes it took: a cheap proof
                    // that description and stream still agree.
                    if f.count == 1 && f.size > 0 && reader.offset - start != f.size {
                        throw error("'\(f.name)' took \(reader.offset - start) bytes, vmdesc says \(f.size)")
                    }
                    if obj != nil { elems.append(e) }
                }
                obj?.fields.append((f.name, .structs(elems)))
                continue
            }
            if f.type == "capability" {
                var names: [UInt8] = []
                for _ in 0..<f.count { names += Array(try reader.shortString("a capability").utf8) + [0] }
                obj?.fields.append((f.name, .bytes(names)))
                continue
            }
            let total = f.size * f.count
            guard let obj else {
                try reader.skip(total, "field '\(f.name)'")
                continue
            }
            // Kept sections are small device state: a description claiming more is lying.
            keptBytes += [1, 2, 4, 8].contains(f.size) ? 8 * f.count : total
            guard total <= Self.maxKeptField, keptBytes <= Self.maxKeptBytes else {
                throw error("field '\(f.name)' of \(total) bytes in a device section")
            }
            if [1, 2, 4, 8].contains(f.size) {
                var w: [UInt64] = []
                w.reserveCapacity(f.count)
                guard total <= reader.remaining else { throw reader.truncated("field '\(f.name)'") }
                for _ in 0..<f.count { w.append(try reader.be(f.size, "field '\(f.name)'")) }
                obj.fields.append((f.name, .words(w)))
            } else {
                obj.fields.append((f.name, .bytes(try reader.bytes(total, "field '\(f.name)'"))))
            }
        }
        try subsections(desc, into: obj, budget: &budget)
    }

    /// A subsection belongs here only when its name is one this description lists; otherwise the
    /// 0x05 byte is the owner's next field (QEMU vmstate_subsection_load peeks the same way).
    private func subsections(_ desc: VMStateDescription.Section, into obj: VMStateObject?, budget: inout Int) throws {
        guard !desc.subsections.isEmpty else { return }
        while true {
            let head = try reader.peek(2)
            guard head.count == 2, head[0] == 0x05 else { return }
            let len = Int(head[1])
            let full = try reader.peek(2 + len)
            guard full.count == 2 + len else { return }
            let name = String(decoding: UnsafeBufferPointer(rebasing: full[2...]), as: UTF8.self)
            guard let sub = desc.subsections.first(where: { $0.name == name }) else { return }
            try reader.skip(2 + len, "subsection name")
            _ = try reader.be32("subsection version")
            let child = VMStateObject(name: name)
            try fields(sub, into: obj == nil ? nil : child, budget: &budget)
            obj?.subsections.append(child)
        }
    }
}
