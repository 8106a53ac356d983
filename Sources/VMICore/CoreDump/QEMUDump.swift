/// A QEMU `dump-guest-memory` ELF core (dump/dump.c), x86_64 or AArch64: PT_LOAD segments whose
/// p_paddr is guest-physical, and a PT_NOTE with one NT_PRSTATUS per vCPU, then (x86) one
/// "QEMU" note per vCPU, then VMCOREINFO when the guest provided it.
public final class QEMUDump: OfflineDump {
    public let address: TargetAddress
    public let layout: Layout
    let file: MappedFile

    init(file: MappedFile, elf: ELFFile, address: TargetAddress) throws(DumpFormatError) {
        self.address = address
        self.file = file
        layout = try Layout.parse(elf, file.bytes)
    }

    public var arch: Architecture { layout.arch }

    // MARK: registers

    public func vcpus() throws -> [Int] { Array(0..<layout.prstatus.count) }

    /// The n-th NT_PRSTATUS note is vcpu n (QEMU writes them in CPU order, pr_pid = index + 1).
    public func registers(vcpu: Int) throws -> RegisterSet {
        guard vcpu >= 0, vcpu < layout.prstatus.count else {
            throw VMIError("\(address) has no vcpu \(vcpu) (vcpus: 0-\(layout.prstatus.count - 1))")
        }
        let bytes = file.bytes
        let desc = try bytes.slice(offset: layout.prstatus[vcpu].descOffset, length: layout.prstatus[vcpu].descSize)
        switch layout.arch {
        case .aarch64:
            return try ELFPRStatus.aarch64(desc, vcpu: vcpu)
        case .x86_64:
            var regs = try ELFPRStatus.x86_64(desc, vcpu: vcpu)
            if vcpu < layout.cpuStates.count {
                let note = layout.cpuStates[vcpu]
                try QEMUCPUState.merge(try bytes.slice(offset: note.descOffset, length: note.descSize), into: &regs)
            }
            return regs
        }
    }

    // MARK: memory

    public func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        try gatherPhysical(address, count: count) { at in
            guard let seg = layout.segment(containing: at) else { throw PhysicalMemoryError.unbacked(at) }
            let into = at - seg.paddr
            if into >= seg.filesz { return .zeros(seg.memsz - into) }
            return .bytes(try file.bytes.slice(offset: seg.offset + into, length: seg.filesz - into).raw)
        }
    }

    /// x86_64: CR3/CR4 from the QEMU note. AArch64: QEMU's notes hold no system registers
    /// (target/arm/arch_dump.c writes x0-x30, sp, pc, pstate only), so the kernel's TTBR1 comes
    /// from VMCOREINFO when the guest had `-device vmcoreinfo`, else from a bounded scan for the
    /// table that maps the vCPU's kernel pc and sp (`AArch64RootScan`), with a 48-bit VA assumed
    /// (Linux's default). User (TTBR0) addresses do not translate on AArch64 dumps.
    public func virtualMemory(vcpu: Int) throws -> VirtualMemory {
        let regs = try registers(vcpu: vcpu)
        switch layout.arch {
        case .x86_64:
            guard regs["cr3"] != nil else {
                throw VMIError("\(address) has no control registers (no QEMU note): cannot translate virtual addresses")
            }
            return VirtualMemory(physical: self, mode: try .x86(regs, longMode: true))
        case .aarch64:
            if let mode = layout.vmcoreinfo?.aarch64KernelPaging { return VirtualMemory(physical: self, mode: mode) }
            let probes = [regs["pc"], regs["sp"]].compactMap { $0 }
            guard
                let root = AArch64RootScan.kernelRoot(
                    ranges: layout.segments.map { ($0.paddr, $0.filesz) }, probes: probes,
                    read: { try self.readPhysicalUInt64($0) }, holds: { self.layout.segment(containing: $0) != nil })
            else {
                throw VMIError(
                    "\(address) holds no TTBR (QEMU's AArch64 dumps carry x0-x30, sp, pc, pstate only), no VMCOREINFO, "
                        + "and no table in memory maps vcpu \(vcpu)'s pc and sp: cannot translate virtual addresses")
            }
            return VirtualMemory(physical: self, mode: .aarch64(ttbr0: nil, ttbr1: root, t0sz: 16, t1sz: 16))
        }
    }
}

extension QEMUDump {
    public struct Layout {
        public struct Segment: Equatable {
            public var paddr: UInt64
            public var offset: UInt64
            public var filesz: UInt64
            public var memsz: UInt64
        }

        public var arch: Architecture
        /// PT_LOAD segments sorted by guest-physical address, non-overlapping.
        public var segments: [Segment]
        var prstatus: [ELFNote]
        var cpuStates: [ELFNote]
        var vmcoreinfo: VMCoreInfo?

        /// Whether an ELF core is a guest-memory dump this reader takes: NT_PRSTATUS notes for a
        /// supported machine (checked in `parse`), and no xl dump-core sections.
        static func parse(_ elf: ELFFile, _ file: ByteView) throws(DumpFormatError) -> Layout {
            let arch: Architecture
            switch elf.header.machine {
            case ELFFile.EM_X86_64: arch = .x86_64
            case ELFFile.EM_AARCH64: arch = .aarch64
            case ELFFile.EM_386: throw .notADump("32-bit x86 guest dumps are not supported")
            default: throw .notADump("ELF core for machine \(elf.header.machine) is not supported")
            }
            var notes: [ELFNote] = []
            var segments: [Segment] = []
            for ph in elf.programHeaders {
                if ph.type == ELFFile.PT_NOTE {
                    notes += try ELFNote.parse(file, offset: ph.offset, size: ph.filesz)
                    // Many PT_NOTE headers may name the same bytes: bound the total, not each one.
                    guard notes.count <= ELFNote.maxCount else { throw .corrupt("more than \(ELFNote.maxCount) notes") }
                } else if ph.type == ELFFile.PT_LOAD && ph.memsz > 0 {
                    guard ph.filesz <= ph.memsz, file.contains(offset: ph.offset, length: ph.filesz) else {
                        throw .corrupt(
                            "PT_LOAD segment at file offset \(hex(ph.offset)) (\(hex(ph.filesz)) bytes) ends past the end of the file (\(hex(UInt64(file.count))) bytes)"
                        )
                    }
                    guard ph.memsz <= UInt64.max - ph.paddr else {
                        throw .corrupt("PT_LOAD segment at guest-physical \(hex(ph.paddr)) wraps around")
                    }
                    segments.append(Segment(paddr: ph.paddr, offset: ph.offset, filesz: ph.filesz, memsz: ph.memsz))
                }
            }
            let prstatus = notes.filter { $0.name == "CORE" && $0.type == ELFPRStatus.NT_PRSTATUS }
            guard !prstatus.isEmpty else { throw .notADump("ELF core without NT_PRSTATUS notes") }
            guard !segments.isEmpty else { throw .notADump("ELF core without PT_LOAD segments") }
            if segments.count > 1 && segments.allSatisfy({ $0.paddr == 0 }) {
                throw .notADump("ELF core of a process (its segments carry no physical addresses)")
            }
            segments.sort { $0.paddr < $1.paddr }
            for (a, b) in zip(segments, segments.dropFirst()) where a.paddr + a.memsz > b.paddr {
                throw .corrupt("PT_LOAD segments overlap at guest-physical \(hex(b.paddr))")
            }
            let states = arch == .x86_64 ? notes.filter { $0.name == "QEMU" && $0.type == 0 } : []
            let info = notes.first { $0.name == "VMCOREINFO" }.flatMap { n in
                (try? file.slice(offset: n.descOffset, length: n.descSize)).map(VMCoreInfo.init)
            }
            return Layout(arch: arch, segments: segments, prstatus: prstatus, cpuStates: states, vmcoreinfo: info)
        }

        /// Binary search over the sorted segments.
        func segment(containing address: UInt64) -> Segment? {
            var lo = 0
            var hi = segments.count
            while lo < hi {
                let mid = (lo + hi) / 2
                let s = segments[mid]
                if address < s.paddr {
                    hi = mid
                } else if address - s.paddr >= s.memsz {
                    lo = mid + 1
                } else {
                    return s
                }
            }
            return nil
        }
    }
}
