/// An `xl dump-core` file (tools/libs/guest/xg_core.h, xg_core.c; docs/misc/dump-core-format.txt):
/// ELF64 ET_CORE without program headers whose sections carry the domain.
///
/// `.note.Xen` (header: magic, nr_vcpus, nr_pages, page_size; Xen version), `.xen_prstatus`
/// (`vcpu_guest_context_t[nr_vcpus]`), `.xen_shared_info`, `.xen_pages` (nr_pages pages), and
/// `.xen_p2m` (PV: `{u64 pfn, u64 gmfn}` per page) or `.xen_pfn` (auto-translated: `u64 pfn`).
/// Entry i of the p2m/pfn table describes page i of `.xen_pages`.
public final class XenDumpCore: OfflineDump {
    public let address: TargetAddress
    public let layout: Layout
    let file: MappedFile
    let frames: XenFrameTable

    init(file: MappedFile, elf: ELFFile, address: TargetAddress) throws(DumpFormatError) {
        self.address = address
        self.file = file
        layout = try Layout.parse(elf, file.bytes)
        guard let table = try? file.bytes.slice(offset: layout.frameTable.offset, length: layout.frameTable.size) else {
            throw .corrupt("frame table past the end of the file")  // Layout.parse checked it already
        }
        frames = XenFrameTable(table, stride: layout.isPV ? 16 : 8, count: layout.pageCount)
    }

    public var arch: Architecture { .x86_64 }

    /// The shared_info page as the dump holds it (`.xen_shared_info`): the 2-level event-channel
    /// bitmaps live at 0x800 (pending) and 0xa00 (mask) on x86_64.
    public var sharedInfo: [UInt8]? {
        guard let s = layout.sharedInfo else { return nil }
        return try? file.bytes.copyBytes(offset: s.offset, length: Int(s.size))
    }

    // MARK: registers

    public func vcpus() throws -> [Int] { Array(0..<layout.vcpuCount) }

    /// vCPU ids are not stored in the dump: the n-th context is reported as vcpu n (xg_core writes
    /// the contexts of vCPUs 0..max_vcpu_id in order, skipping the ones it cannot read).
    public func registers(vcpu: Int) throws -> RegisterSet {
        guard vcpu >= 0, vcpu < layout.vcpuCount else {
            throw VMIError("\(address) has no vcpu \(vcpu) (vcpus: 0-\(layout.vcpuCount - 1))")
        }
        // The same vcpu_guest_context the live driver reads with xc_vcpu_getcontext: one decoder.
        let size = XenX86Context.pvContextSize
        let ctx = try file.bytes.copyBytes(offset: layout.prstatus.offset + UInt64(vcpu * size), length: size)
        return try XenX86Context.pvRegisters(ctx, vcpu: vcpu)
    }

    // MARK: memory

    /// Reads guest-physical (pfn-space) memory.
    public func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        let pageSize = layout.pageSize
        return try gatherPhysical(address, count: count) { at in
            guard let index = frames.pageIndex(ofPFN: at / pageSize) else { throw PhysicalMemoryError.unbacked(at) }
            let offset = layout.pages.offset + UInt64(index) * pageSize + at % pageSize
            return .bytes(try file.bytes.slice(offset: offset, length: pageSize - at % pageSize).raw)
        }
    }

    /// PV page tables hold machine frames: walk them through the inverse of `.xen_p2m`. HVM and
    /// PVH contexts hold the guest's own CR3 (a guest-physical address).
    public func virtualMemory(vcpu: Int) throws -> VirtualMemory {
        let regs = try registers(vcpu: vcpu)
        guard layout.isPV else {
            // The context has no EFER; a 64-bit dump of a guest with PAE paging is taken as long mode.
            return VirtualMemory(physical: self, mode: try .x86(regs, longMode: true))
        }
        let root = (regs["cr3"] ?? 0) & PagingMode.x86TableMask
        let frames = self.frames
        return VirtualMemory(
            physical: self, mode: .x86_64(root: root, levels: 4), frames: .mapped { frames.pfn(ofMachineFrame: $0) })
    }
}

extension XenDumpCore {
    /// Where things are in the file, checked against its size and against each other.
    public struct Layout: Equatable {
        public struct Range: Equatable {
            public var offset: UInt64
            public var size: UInt64
        }

        /// PV (magic 0xF00FEBED, `.xen_p2m`) or auto-translated (0xF00FEBEE, `.xen_pfn`).
        public var isPV: Bool
        public var vcpuCount: Int
        public var pageCount: Int
        public var pageSize: UInt64
        /// "4.17.7" when the dump carries the XEN_VERSION note.
        public var xenVersion: String?
        var prstatus: Range
        var sharedInfo: Range?
        var pages: Range
        var frameTable: Range

        static let pvMagic: UInt64 = 0xF00F_EBED
        static let hvmMagic: UInt64 = 0xF00F_EBEE
        // XEN_ELFNOTE_DUMPCORE_* (xen/include/public/elfnote.h).
        static let noteHeader: UInt32 = 0x200_0001
        static let noteXenVersion: UInt32 = 0x200_0002
        static let maxVCPUs = 1 << 14

        /// Whether an ELF file is an `xl dump-core` (by its sections, never its name).
        static func matches(_ elf: ELFFile) -> Bool {
            elf.section(named: ".note.Xen") != nil || elf.section(named: ".xen_prstatus") != nil
        }

        static func parse(_ elf: ELFFile, _ file: ByteView) throws(DumpFormatError) -> Layout {
            func range(_ name: String) throws(DumpFormatError) -> Range? {
                guard let s = elf.section(named: name) else { return nil }
                guard file.contains(offset: s.offset, length: s.size) else {
                    throw .corrupt(
                        "section '\(name)' (offset \(hex(s.offset)), \(hex(s.size)) bytes) ends past the end of the file (\(hex(UInt64(file.count))) bytes)"
                    )
                }
                return Range(offset: s.offset, size: s.size)
            }
            func required(_ name: String) throws(DumpFormatError) -> Range {
                guard let r = try range(name) else { throw .corrupt("xl dump-core without a '\(name)' section") }
                return r
            }
            guard elf.header.machine == ELFFile.EM_X86_64 else {
                throw .notADump("xl dump-core of machine \(elf.header.machine) is not supported (x86_64 only)")
            }
            let noteRange = try required(".note.Xen")
            let notes = try ELFNote.parse(file, offset: noteRange.offset, size: noteRange.size)
            guard let header = notes.first(where: { $0.name == "Xen" && $0.type == noteHeader }), header.descSize >= 32
            else { throw .corrupt("'.note.Xen' has no dump-core header note") }
            let h = Int(header.descOffset)
            let (magic, nrVCPUs, nrPages, pageSize): (UInt64, UInt64, UInt64, UInt64)
            do {
                (magic, nrVCPUs, nrPages, pageSize) = (
                    try file.u64(h), try file.u64(h + 8), try file.u64(h + 16), try file.u64(h + 24)
                )
            } catch { throw .corrupt("truncated dump-core header note") }
            guard magic == pvMagic || magic == hvmMagic else { throw .corrupt("bad dump-core magic \(hex(magic))") }
            guard nrVCPUs >= 1, nrVCPUs <= maxVCPUs else { throw .corrupt("absurd vCPU count \(nrVCPUs)") }
            guard pageSize >= 4096, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
                throw .corrupt("absurd page size \(pageSize)")
            }
            guard nrPages <= UInt64(file.count) / pageSize else {
                throw .corrupt("\(nrPages) pages of \(pageSize) bytes do not fit in a file of \(file.count) bytes")
            }
            let isPV = magic == pvMagic
            let prstatus = try required(".xen_prstatus")
            guard prstatus.size == nrVCPUs * UInt64(XenX86Context.pvContextSize) else {
                throw .corrupt("'.xen_prstatus' holds \(prstatus.size) bytes, not \(nrVCPUs) x86_64 vCPU contexts")
            }
            let pages = try required(".xen_pages")
            guard pages.size == nrPages * pageSize else {
                throw .corrupt("'.xen_pages' holds \(pages.size) bytes, not \(nrPages) pages")
            }
            let tableName = isPV ? ".xen_p2m" : ".xen_pfn"
            let table = try required(tableName)
            guard table.size == nrPages * (isPV ? 16 : 8) else {
                throw .corrupt("'\(tableName)' holds \(table.size) bytes, not \(nrPages) entries")
            }
            let shared = try range(".xen_shared_info")
            let named =
                [(".note.Xen", noteRange), (".xen_prstatus", prstatus), (".xen_pages", pages), (tableName, table)]
                + (shared.map { [(".xen_shared_info", $0)] } ?? [])
            for (i, a) in named.enumerated() {
                for b in named[(i + 1)...] where a.1.size > 0 && b.1.size > 0 {
                    if a.1.offset < b.1.offset + b.1.size && b.1.offset < a.1.offset + a.1.size {
                        throw .corrupt("sections '\(a.0)' and '\(b.0)' overlap")
                    }
                }
            }
            var version: String?
            if let v = notes.first(where: { $0.name == "Xen" && $0.type == noteXenVersion }), v.descSize >= 32 {
                let o = Int(v.descOffset)
                if let major = try? file.u64(o), let minor = try? file.u64(o + 8) {
                    version = "\(major).\(minor)" + file.cString(o + 16, maxLength: 16)
                }
            }
            return Layout(
                isPV: isPV, vcpuCount: Int(nrVCPUs), pageCount: Int(nrPages), pageSize: pageSize, xenVersion: version,
                prstatus: prstatus, sharedInfo: shared, pages: pages, frameTable: table)
        }
    }
}
