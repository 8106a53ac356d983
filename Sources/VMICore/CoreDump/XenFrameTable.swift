/// The `.xen_p2m` / `.xen_pfn` table of an `xl dump-core`: entry i names the frame of page i.
///
/// xg_core writes entries sorted by pfn with invalid (all-ones) entries trailing, so lookups are
/// a binary search straight over the mapped file, with nothing built at open. A table that is not
/// sorted (hostile or damaged) falls back to a dictionary built once. PV machine-frame lookups
/// (page tables hold gmfns) build their inverse dictionary on first use.
final class XenFrameTable {
    let table: ByteView
    /// 16 for `{u64 pfn; u64 gmfn}` (PV), 8 for `u64 pfn`.
    let stride: Int
    let count: Int
    /// The number of leading valid entries when they are strictly increasing; nil when not sorted.
    private lazy var sortedCount: Int? = sortedPrefix()
    private var pfnIndex: [UInt64: Int]?
    private var machineToPFN: [UInt64: UInt64]?

    static let invalid = UInt64.max

    init(_ table: ByteView, stride: Int, count: Int) {
        self.table = table
        self.stride = stride
        self.count = count
    }

    func pfn(at i: Int) -> UInt64 { (try? table.u64(i * stride)) ?? Self.invalid }

    private func sortedPrefix() -> Int? {
        var n = 0
        var previous: UInt64?
        var sorted = true
        while n < count {
            let p = pfn(at: n)
            if p == Self.invalid { break }
            if let q = previous, p <= q {
                sorted = false
                break
            }
            previous = p
            n += 1
        }
        // Anything valid after the first invalid entry also breaks the promised order.
        if sorted {
            for i in n..<count where pfn(at: i) != Self.invalid {
                sorted = false
                break
            }
        }
        return sorted ? n : nil
    }

    /// Which page of `.xen_pages` holds guest frame `pfn`.
    func pageIndex(ofPFN pfn: UInt64) -> Int? {
        guard pfn != Self.invalid else { return nil }
        if let n = sortedCount {
            var lo = 0
            var hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                let p = self.pfn(at: mid)
                if p == pfn { return mid }
                if p < pfn { lo = mid + 1 } else { hi = mid }
            }
            return nil
        }
        if pfnIndex == nil {
            var d = [UInt64: Int](minimumCapacity: count)
            for i in 0..<count where self.pfn(at: i) != Self.invalid { d[self.pfn(at: i)] = d[self.pfn(at: i)] ?? i }
            pfnIndex = d
        }
        return pfnIndex![pfn]
    }

    /// The guest frame of machine frame `gmfn` (PV tables only).
    func pfn(ofMachineFrame gmfn: UInt64) -> UInt64? {
        guard stride == 16 else { return gmfn }
        if machineToPFN == nil {
            var d = [UInt64: UInt64](minimumCapacity: count)
            for i in 0..<count {
                let p = pfn(at: i)
                guard p != Self.invalid, let m = try? table.u64(i * 16 + 8), m != Self.invalid else { continue }
                if d[m] == nil { d[m] = p }
            }
            machineToPFN = d
        }
        return machineToPFN![gmfn]
    }
}
