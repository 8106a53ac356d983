/// `vmi-gic-dump --text`: the same snapshot as compact tables, for people.
extension GICReport {
    public func text(_ s: GICSnapshot) -> String {
        var out = ""
        func flags(_ layout: RegisterLayout, _ raw: UInt64) -> String {
            let set = layout.decode(raw).compactMap { f -> String? in
                switch f.value {
                case .flag(true): return f.key.description
                case .number(let n) where n != 0: return "\(f.key)=\(n)"
                case .hex(let h) where h != 0: return "\(f.key)=\(hex(h))"
                case .bitList(let l) where !l.isEmpty: return "\(f.key)=\(l.map(String.init).joined(separator: ","))"
                default: return nil
                }
            }
            return "\(hex(raw)) [\(set.joined(separator: " "))]"
        }
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

        if let d = s.distributor {
            out += "distributor"
            if let v = d.ctlr { out += "  ctlr \(flags(GICRegisters.gicdCTLR(for: UInt64(v)), UInt64(v)))" }
            if let v = d.typer { out += "  typer \(flags(GICRegisters.gicdTYPER, UInt64(v)))" }
            if let v = d.iidr { out += "  iidr \(hex(UInt64(v)))" }
            if let v = d.model { out += "  model \(v)" }
            if let v = d.nrSPIs { out += "  nr_spis \(v)" }
            if let v = d.nrLPIs { out += "  nr_lpis \(v)" }
            if let v = d.enabled { out += "  enabled \(v)" }
            out += "\n"
        }
        for r in s.redistributors where wanted(r.vcpu) {
            out += "redistributor vcpu \(r.vcpu)"
            if let v = r.ctlr { out += "  ctlr \(flags(GICRegisters.gicrCTLR, UInt64(v)))" }
            if let v = r.waker { out += "  waker \(flags(GICRegisters.gicrWAKER, UInt64(v)))" }
            if let v = r.typer { out += "  typer \(hex(v))" }
            if let v = r.propbaser { out += "  propbaser \(hex(v))" }
            if let v = r.pendbaser { out += "  pendbaser \(hex(v))" }
            out += "\n"
        }
        for c in s.cpuInterfaces where wanted(c.vcpu) {
            out += "cpu interface vcpu \(c.vcpu)\n"
            for r in c.registers {
                out += "  \(pad(r.key.description, 20)) \(flags(r.layout, r.raw))\(r.derived ? " (derived)" : "")\n"
            }
        }
        let lrs = s.listRegisters.filter { wanted($0.vcpu) && (all || !$0.lr.isEmpty) }
        if !lrs.isEmpty {
            out += "\nDOM VCPU LR ORIGIN     VINTID KIND  STATE          PRIO GRP HW PINTID NAME\n"
            for e in lrs {
                let lr = e.lr
                out +=
                    lpad(e.domid.map(String.init) ?? "-", 3) + " " + lpad(String(e.vcpu), 4) + " "
                    + lpad(String(e.index), 2) + " " + pad(e.origin.rawValue, 8) + " " + lpad(String(lr.vintid), 8)
                    + " " + pad(INTID.kind(of: lr.vintid).rawValue, 5) + " " + pad(lr.state.rawValue, 14) + " "
                    + lpad(String(lr.priority), 4) + " " + lpad(String(lr.group), 3) + " " + lpad(lr.hw ? "y" : "n", 2)
                    + " " + lpad(lr.pintid.map(String.init) ?? "-", 6) + " " + (INTID.name(of: lr.vintid) ?? "") + "\n"
            }
        }
        let irqs = s.allInterrupts().filter { wanted($0.vcpu) && (all || $0.isInteresting) }
        if !irqs.isEmpty {
            out += "\nVCPU INTID KIND EN PE AC GRP PRIO CFG   ROUTE    NAME\n"
            for i in irqs {
                func yn(_ b: Bool) -> String { b ? " y" : " n" }
                out +=
                    lpad(i.vcpu.map(String.init) ?? "-", 4) + " " + lpad(String(i.intid), 5) + " "
                    + pad(INTID.kind(of: i.intid).rawValue, 4) + " " + yn(i.enabled) + " " + yn(i.pending) + " "
                    + yn(i.active) + " " + lpad(i.group.map(String.init) ?? "-", 3) + " " + lpad(String(i.priority), 4)
                    + " " + pad(i.config?.rawValue ?? "-", 5) + " " + pad(i.route.map(Self.route) ?? "-", 8) + " "
                    + (i.intid < 32 ? INTID.name(of: i.intid) ?? "" : "") + "\n"
            }
        }
        let inflight = s.inflight.filter { wanted($0.vcpu) }
        if !inflight.isEmpty {
            out += "\nDOM VCPU INTID LR     NAME\n"
            for f in inflight {
                out +=
                    lpad(f.domid.map(String.init) ?? "-", 3) + " " + lpad(String(f.vcpu), 4) + " "
                    + lpad(String(f.intid), 5) + " " + pad(f.lr.map(String.init) ?? (f.queued ? "queued" : "-"), 6)
                    + " "
                    + (INTID.name(of: f.intid) ?? "") + "\n"
            }
        }
        return out
    }
}

/// `--decode NAME=WORD`: one register word, decoded without any target.
public enum GICWordDecoder {
    public static var names: [String] { (["ich_lr", "ich_lr_el2"] + GICRegisters.byName.keys).sorted() }

    /// `{"type":"gic_decode","register":"ich_lr_el2","raw":"0x...",<fields>}`
    public static func record(name: String, raw: UInt64) throws -> JSONLine {
        let key = name.lowercased()
        var line = JSONLine(type: "gic_decode")
        if key == "ich_lr" || key == "ich_lr_el2" || key.hasPrefix("ich_lr") && key.dropFirst(6).allSatisfy(\.isNumber)
        {
            line.field("register", "ich_lr_el2")
            line.field("raw", hex: raw)
            for (k, v) in ListRegister(raw).fields { line.field(k, v) }
        } else if let layout = GICRegisters.byName[key] {
            line.field("register", layout.name)
            line.decodedFields(layout.decode(raw), raw: raw)
        } else {
            throw VMIError("unknown register '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        line.finish()
        return line
    }
}
