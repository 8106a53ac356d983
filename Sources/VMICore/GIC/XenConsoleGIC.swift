/// The vGIC part of Xen on Arm's `q` debug key (`xl debug-keys q; xl dmesg`), from:
///   xen/common/keyhandler.c dump_domains: "VCPU information and callbacks for domain %u:",
///       "    VCPU%d: CPU%d [has=%c] poll=%d upcall_pend=%02x upcall_mask=%02x "
///   xen/arch/arm/gic.c gic_dump_info: "GICH_LRs (vcpu %d) mask=%"PRIx64 (PRIx16 on newer GICv3 builds)
///   xen/arch/arm/gic-v3.c gicv3_dump_state: "   HW_LR[%d]=%lx" (the vCPU running the handler: read
///       from ICH_LR<n>_EL2) or "   VCPU_LR[%d]=%lx" (Xen's saved copy)
///   xen/arch/arm/gic-vgic.c gic_dump_vgic_info: "Inflight irq=%u lr=%u", "Pending irq=%d"
/// Lines may carry the console prefix "(XEN) " and a "[timestamp] " (XenConsoleText.message).
/// When the text holds several `q` dumps, the last one is used.
public enum XenConsoleGIC {
    /// Xen's GIC_INVALID_LR ((uint8_t)~0): an inflight interrupt not in any list register.
    static let invalidLR = 255

    public static func parse(_ text: String, name: String) throws -> GICSnapshot {
        var snap = GICSnapshot()
        var domid: Int?
        var vcpu: Int?  // from "VCPUn: CPUm"
        var pcpu: Int?
        var running: Bool?
        var lrVCPU: Int?  // from "GICH_LRs (vcpu n)"
        var lineNo = 0
        var sawLRs = false
        func bad(_ why: String) -> VMIError { VMIError("'\(name)': line \(lineNo): \(why)") }

        for raw in XenConsoleText.lines(Substring(text)) {
            lineNo += 1
            let line = XenConsoleText.message(raw).trimmingSpaces
            let u = line.utf8
            if line.hasBytePrefix("'q' pressed") {
                snap = GICSnapshot()
                domid = nil
                vcpu = nil
                pcpu = nil
                running = nil
                lrVCPU = nil
            } else if let rest = line.droppingBytes(prefix: "VCPU information and callbacks for domain ") {
                guard rest.hasByteSuffix(":"), let d = Int(Substring(rest.utf8.dropLast())), d >= 0 else {
                    throw bad("bad domain header")
                }
                domid = d
                vcpu = nil
                pcpu = nil
                running = nil
                lrVCPU = nil
            } else if line.hasBytePrefix("VCPU"), line.firstByteRange(of: ": CPU") != nil,
                line.firstByteRange(of: "[has=") != nil
            {
                // "VCPU%d: CPU%d [has=%c] ..."
                let parts = line.byteFields
                guard parts.count >= 3, parts[0].hasByteSuffix(":"),
                    let v = Int(Substring(parts[0].utf8.dropFirst(4).dropLast())),
                    let c = parts[1].droppingBytes(prefix: "CPU").flatMap({ Int($0) }),
                    parts[2].utf8.elementsEqual("[has=T]".utf8) || parts[2].utf8.elementsEqual("[has=F]".utf8)
                else { throw bad("bad VCPU line") }
                vcpu = v
                pcpu = c
                running = parts[2].utf8.elementsEqual("[has=T]".utf8)
                lrVCPU = nil
            } else if let rest = line.droppingBytes(prefix: "GICH_LRs (vcpu ") {
                // "GICH_LRs (vcpu %d) mask=%x"
                guard let close = rest.utf8.firstIndex(of: UInt8(ascii: ")")),
                    let v = Int(Substring(rest.utf8[..<close])), v >= 0,
                    let mask = Substring(rest.utf8[close...]).droppingBytes(prefix: ") mask="),
                    UInt64(mask, radix: 16) != nil
                else { throw bad("bad GICH_LRs line") }
                if let cur = vcpu, cur != v { throw bad("GICH_LRs of vcpu \(v) under VCPU\(cur)") }
                if vcpu == nil {
                    pcpu = nil
                    running = nil
                }
                lrVCPU = v
                sawLRs = true
            } else if line.hasBytePrefix("HW_LR[") || line.hasBytePrefix("VCPU_LR[") {
                let origin: GICListRegisterEntry.Origin = line.hasBytePrefix("HW_LR[") ? .hardware : .saved
                guard let v = lrVCPU else { throw bad("list register outside a GICH_LRs block") }
                guard let open = u.firstIndex(of: UInt8(ascii: "[")), let close = u.firstIndex(of: UInt8(ascii: "]")),
                    open < close,
                    let index = Int(Substring(u[u.index(after: open)..<close])), (0..<16).contains(index),
                    let word = Substring(u[close...]).droppingBytes(prefix: "]="), let value = UInt64(word, radix: 16)
                else { throw bad("bad list register line") }
                snap.listRegisters.append(
                    GICListRegisterEntry(
                        vcpu: v, index: index, lr: ListRegister(value), origin: origin, domid: domid, pcpu: pcpu,
                        running: running))
            } else if let rest = line.droppingBytes(prefix: "Inflight irq=") {
                let parts = rest.byteFields
                guard let v = lrVCPU, let irq = UInt32(parts.first ?? ""), parts.count <= 2 else {
                    throw bad("bad Inflight line")
                }
                var lr: Int?
                if parts.count == 2 {
                    guard let l = parts[1].droppingBytes(prefix: "lr=").flatMap({ Int($0) }), l >= 0 else {
                        throw bad("bad Inflight line")
                    }
                    lr = l == invalidLR ? nil : l
                }
                snap.inflight.append(XenInflightIRQ(domid: domid, vcpu: v, intid: irq, lr: lr, queued: false))
            } else if let rest = line.droppingBytes(prefix: "Pending irq=") {
                guard let v = lrVCPU, let irq = UInt32(rest) else { throw bad("bad Pending line") }
                snap.inflight.append(XenInflightIRQ(domid: domid, vcpu: v, intid: irq, lr: nil, queued: true))
            }
        }
        guard sawLRs else {
            throw VMIError("'\(name)': no 'GICH_LRs' lines: not the output of Xen on Arm's 'q' debug key")
        }
        return snap
    }
}

/// `console:FILE` answers GIC questions from the `q` debug-key output it holds.
extension ConsoleTarget: GICStateReader {
    public func gicSnapshot() throws -> GICSnapshot {
        try XenConsoleGIC.parse(text, name: address.description)
    }
}
