/// AArch64 stage-1 walk, EL1&0 translation regime, 4 KiB granule (Arm ARM D8.2 "Translation
/// table walk", D8.3 descriptor formats).
///
/// Descriptors: bit 0 valid; bits 1:0 = 0b11 table (levels 0-2) or page (level 3), 0b01 block
/// (levels 1 and 2: 1 GiB, 2 MiB); output address bits 47:12. The region comes from VA bit 55:
/// TTBR1 when set, TTBR0 when clear; bits 55:VA-size must all equal it (the top byte is ignored,
/// as Linux sets TBI). The walk reads at most four descriptors.
enum AArch64PageWalk {
    static let outputMask: UInt64 = 0x0000_ffff_ffff_f000
    /// TTBRn_EL1.BADDR, bits 47:1 (bit 0 is CnP; ASID sits in 63:48).
    static let baseMask: UInt64 = 0x0000_ffff_ffff_fffe

    static func translate(
        _ va: UInt64, ttbr0: UInt64?, ttbr1: UInt64?, t0sz: Int, t1sz: Int, read: (UInt64) throws -> UInt64
    ) throws -> Translation {
        let high = va & (1 << 55) != 0
        let tsz = high ? t1sz : t0sz
        guard (16...39).contains(tsz) else {
            throw TranslationFault(address: va, reason: "T\(high ? 1 : 0)SZ \(tsz) is outside 16...39 (4 KiB granule)")
        }
        guard let ttbr = high ? ttbr1 : ttbr0 else {
            throw TranslationFault(address: va, reason: "no TTBR\(high ? 1 : 0)_EL1 in this source")
        }
        let vaBits = 64 - tsz
        // Bits 55:vaBits must all equal bit 55.
        let checked = (va << 8) >> UInt64(vaBits + 8)
        let expected: UInt64 = high ? (UInt64.max << UInt64(vaBits + 8)) >> UInt64(vaBits + 8) : 0
        guard checked == expected else {
            throw TranslationFault(address: va, reason: "outside the \(vaBits)-bit TTBR\(high ? 1 : 0) region")
        }
        let levels = (vaBits - 12 + 8) / 9
        var level = 4 - levels
        var table = ttbr & baseMask
        while true {
            let shift = UInt64(12 + 9 * (3 - level))
            let indexBits = min(9, vaBits - Int(shift))
            let index = (va >> shift) & ((1 << UInt64(indexBits)) - 1)
            let entryAddress = table + index * 8
            let desc: UInt64
            do { desc = try read(entryAddress) } catch {
                throw TranslationFault(
                    address: va, reason: "level \(level) descriptor at \(hex(entryAddress)): \(error)")
            }
            guard desc & 1 != 0 else {
                throw TranslationFault(address: va, reason: "level \(level) descriptor \(hex(desc)) invalid")
            }
            let isTable = desc & 2 != 0
            if level == 3 || !isTable {
                guard level == 3 ? isTable : level >= 1 else {
                    throw TranslationFault(address: va, reason: "level \(level) descriptor \(hex(desc)) is reserved")
                }
                let pageSize = UInt64(1) << shift
                let physical = (desc & outputMask & ~(pageSize - 1)) | (va & (pageSize - 1))
                return Translation(physical: physical, pageSize: pageSize)
            }
            table = desc & outputMask
            level += 1
        }
    }
}
