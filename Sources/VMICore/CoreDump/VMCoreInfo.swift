/// The guest kernel's VMCOREINFO text (a "VMCOREINFO" ELF note QEMU copies into its dump when
/// the guest has `-device vmcoreinfo`): `KEY=VALUE` lines written by Linux
/// (kernel/crash_core.c, arch/arm64/kernel/crash_core.c).
///
/// AArch64 dumps carry no system registers, so this is where the kernel's page-table root comes
/// from: TTBR1 = __pa(swapper_pg_dir) = SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset), and the
/// VA size from NUMBER(TCR_EL1_T1SZ) or NUMBER(VA_BITS).
struct VMCoreInfo: Equatable {
    var entries: [String: String] = [:]

    static let maxSize = 1 << 16

    init(_ text: ByteView) {
        let bytes = UnsafeRawBufferPointer(rebasing: text.raw[0..<min(text.count, Self.maxSize)])
        for line in bytes.split(separator: 0x0a) {
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: line[line.startIndex..<eq], as: UTF8.self)
            let value = String(decoding: line[(eq + 1)...], as: UTF8.self)
            entries[key] = value.trimmingNUL()
        }
    }

    /// `NUMBER(x)=...` (decimal, or 0x-prefixed hex) and `SYMBOL(x)=...` (bare hex) values.
    func number(_ name: String) -> UInt64? {
        guard let v = entries["NUMBER(\(name))"] else { return nil }
        return v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16) : Int64(v).map { UInt64(bitPattern: $0) }
    }

    func symbol(_ name: String) -> UInt64? { entries["SYMBOL(\(name))"].flatMap { UInt64($0, radix: 16) } }

    /// The AArch64 kernel page-table mode (TTBR1 only), when the text has what it needs.
    var aarch64KernelPaging: PagingMode? {
        guard let swapper = symbol("swapper_pg_dir"), let voffset = number("kimage_voffset") else { return nil }
        let t1sz =
            number("TCR_EL1_T1SZ").map { Int(clamping: $0) }
            ?? number("VA_BITS").map { 64 - Int(min($0, 64)) } ?? 16
        return .aarch64(ttbr0: nil, ttbr1: swapper &- voffset, t0sz: t1sz, t1sz: t1sz)
    }
}

extension String {
    func trimmingNUL() -> String {
        var s = Substring(self)
        while s.last == "\0" || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
