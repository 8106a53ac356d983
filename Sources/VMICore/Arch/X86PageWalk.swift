/// x86-64 IA-32e paging walk, 4- and 5-level (Intel SDM vol. 3A, 4.5; AMD APM vol. 2, 5.3).
///
/// Entries: P bit 0, PS bit 7 (1 GiB at the PDPT, 2 MiB at the PD; reserved above), address bits
/// 51:12. `frames` turns the frame numbers the tables hold into guest-physical frames (identity
/// for HVM and QEMU; machine-to-guest for Xen PV, whose tables hold machine frames).
enum X86PageWalk {
    static let addressMask: UInt64 = 0x000f_ffff_ffff_f000
    static let levelNames = ["PT", "PD", "PDPT", "PML4", "PML5"]

    static func translate(
        _ va: UInt64, root: UInt64, levels: Int, frames: FrameMap, read: (UInt64) throws -> UInt64
    ) throws -> Translation {
        let vaBits = 12 + 9 * levels
        // Canonical form: bits 63:vaBits copy bit vaBits-1.
        let upper = va >> UInt64(vaBits - 1)
        guard upper == 0 || upper == (UInt64.max >> UInt64(vaBits - 1)) else {
            throw TranslationFault(address: va, reason: "not canonical for \(levels)-level paging")
        }
        var table = try frames.physical(ofFrame: root >> 12, va: va) << 12
        var level = levels - 1
        while true {
            let shift = UInt64(12 + 9 * level)
            let index = (va >> shift) & 0x1ff
            let entryAddress = table + index * 8
            let entry: UInt64
            do { entry = try read(entryAddress) } catch {
                throw TranslationFault(
                    address: va, reason: "\(levelNames[level]) entry at \(hex(entryAddress)): \(error)")
            }
            guard entry & 1 != 0 else {
                throw TranslationFault(address: va, reason: "\(levelNames[level]) entry \(hex(entry)) not present")
            }
            let large = level > 0 && entry & (1 << 7) != 0
            if large && level > 2 {
                throw TranslationFault(address: va, reason: "\(levelNames[level]) entry \(hex(entry)) sets PS")
            }
            if level == 0 || large {
                // A large page's frame is the 4 KiB frame inside it (bit 12 is PAT for PS entries).
                let pageSize = UInt64(1) << shift
                let base = entry & addressMask & ~(pageSize - 1)
                let frame = (base | (va & (pageSize - 1))) >> 12
                let physical = try frames.physical(ofFrame: frame, va: va) << 12 | (va & 0xfff)
                return Translation(physical: physical, pageSize: pageSize)
            }
            table = try frames.physical(ofFrame: (entry & addressMask) >> 12, va: va) << 12
            level -= 1
        }
    }
}

/// Frame numbers found in page tables -> guest-physical frame numbers.
public struct FrameMap {
    let map: ((UInt64) -> UInt64?)?

    /// Tables hold guest-physical frames (HVM, PVH, QEMU, AArch64).
    public static let identity = FrameMap(map: nil)

    /// Tables hold other frames (Xen PV: machine frames), mapped by `map` (nil: no such frame).
    public static func mapped(_ map: @escaping (UInt64) -> UInt64?) -> FrameMap { FrameMap(map: map) }

    func physical(ofFrame frame: UInt64, va: UInt64) throws -> UInt64 {
        guard let map else { return frame }
        guard let pfn = map(frame) else {
            throw TranslationFault(address: va, reason: "machine frame \(hex(frame)) belongs to no page of the guest")
        }
        return pfn
    }
}
