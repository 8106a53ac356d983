/// The vGIC part of Xen on Arm's `q` debug key (`xl debug-keys q; xl dmesg`), from:
///   xen/common/keyhandler.c dump_domains: "VCPU information and callbacks for domain %u:",
///       "    VCPU%d: CPU%d [has=%c] poll=%d upcall_pend=%02x upcall_mask=%02x "
///   xen/arch/arm/gic.c gic_dump_info: "GICH_LRs (vcpu %d) mask=%"PRIx64 (PRIx16 on newer GICv3 builds)
///   xen/arch/arm/gic-v3.c gicv3_dump_state: "   HW_LR[%d]=%lx" (the vCPU running the handler: read
///       from ICH_LR<n>_EL2) or "   VCPU_LR[%d]=%lx" (Xen's saved copy)
///   xen/arch/arm/gic-vgic.c gic_dump_vgic_info: "Inflight irq=%u lr=%u", "Pending irq=%d"
/// Lines may carry the console prefix "(XEN) " and a "[timestamp] ". When the text holds several
/// `q` dumps, the last one is used.
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

        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNo += 1
            let line = strip(raw)
            if line.hasPrefix("'q' pressed") {
                snap = GICSnapshot()
                domid = nil
                vcpu = nil
                pcpu = nil
                running = nil
                lrVCPU = nil
            } else if let rest = line.stripping(prefix: "VCPU information and callbacks for domain ") {
                guard rest.hasSuffix(":"), let d = Int(rest.dropLast()), d >= 0 else { throw bad("bad domain header") }
                domid = d
                vcpu = nil
                pcpu = nil
                running = nil
                lrVCPU = nil
            } else if line.hasPrefix("VCPU"), line.contains(": CPU"), line.contains("[has=") {
                // "VCPU%d: CPU%d [has=%c] ..."
                let parts = line.split(separator: " ")
                guard parts.count >= 3, let v = Int(parts[0].dropFirst(4).dropLast()), parts[1].hasPrefix("CPU"),
                    let c = Int(parts[1].dropFirst(3)), parts[2] == "[has=T]" || parts[2] == "[has=F]"
                else { throw bad("bad VCPU line") }
                vcpu = v
                pcpu = c
                running = parts[2] == "[has=T]"
                lrVCPU = nil
            } else if let rest = line.stripping(prefix: "GICH_LRs (vcpu ") {
                // "GICH_LRs (vcpu %d) mask=%x"
                guard let close = rest.firstIndex(of: ")"), let v = Int(rest[..<close]), v >= 0,
                    let mask = rest[close...].stripping(prefix: ") mask="), UInt64(mask, radix: 16) != nil
                else { throw bad("bad GICH_LRs line") }
                if let cur = vcpu, cur != v { throw bad("GICH_LRs of vcpu \(v) under VCPU\(cur)") }
                if vcpu == nil {
                    pcpu = nil
                    running = nil
                }
                lrVCPU = v
                sawLRs = true
            } else if line.hasPrefix("HW_LR[") || line.hasPrefix("VCPU_LR[") {
                let origin: GICListRegisterEntry.Origin = line.hasPrefix("HW_LR[") ? .hardware : .saved
                guard let v = lrVCPU else { throw bad("list register outside a GICH_LRs block") }
                guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"), open < close,
                    let index = Int(line[line.index(after: open)..<close]), (0..<16).contains(index),
                    let word = line[close...].stripping(prefix: "]="), let value = UInt64(word, radix: 16)
                else { throw bad("bad list register line") }
                snap.listRegisters.append(
                    GICListRegisterEntry(
                        vcpu: v, index: index, lr: ListRegister(value), origin: origin, domid: domid, pcpu: pcpu,
                        running: running))
            } else if let rest = line.stripping(prefix: "Inflight irq=") {
                let parts = rest.split(separator: " ")
                guard let v = lrVCPU, let irq = UInt32(parts.first ?? ""), parts.count <= 2 else {
                    throw bad("bad Inflight line")
                }
                var lr: Int?
                if parts.count == 2 {
                    guard let l = parts[1].stripping(prefix: "lr=").flatMap({ Int($0) }), l >= 0 else {
                        throw bad("bad Inflight line")
                    }
                    lr = l == invalidLR ? nil : l
                }
                snap.inflight.append(XenInflightIRQ(domid: domid, vcpu: v, intid: irq, lr: lr, queued: false))
            } else if let rest = line.stripping(prefix: "Pending irq=") {
                guard let v = lrVCPU, let irq = UInt32(rest) else { throw bad("bad Pending line") }
                snap.inflight.append(XenInflightIRQ(domid: domid, vcpu: v, intid: irq, lr: nil, queued: true))
            }
        }
        guard sawLRs else {
            throw VMIError("'\(name)': no 'GICH_LRs' lines: not the output of Xen on Arm's 'q' debug key")
        }
        return snap
    }

    /// Drops "(XEN) ", a "[timestamp] " and surrounding blanks.
    static func strip(_ raw: Substring) -> Substring {
        var s = raw.hasSuffix("\r") ? raw.dropLast() : raw
        s = s.drop(while: { $0 == " " })
        if let r = s.stripping(prefix: "(XEN)") { s = r.drop(while: { $0 == " " }) }
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            s = s[s.index(after: close)...].drop(while: { $0 == " " })
        }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

/// `console:FILE` answers GIC questions from the `q` debug-key output it holds.
extension ConsoleTarget: GICStateReader {
    public func gicSnapshot() throws -> GICSnapshot {
        try XenConsoleGIC.parse(text, name: address.description)
    }
}
