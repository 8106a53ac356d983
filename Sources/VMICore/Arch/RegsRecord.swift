/// `{"type":"regs","domid":5,"vcpu":0,"arch":"x86_64","rip":"0x...",...}`: one vCPU's registers.
extension RegisterSet {
    public func record(identity: RecordIdentity) -> JSONLine {
        var line = JSONLine(type: "regs", capacity: 64 + count * 32)
        identity.write(to: &line)
        line.field("vcpu", vcpu)
        line.field("arch", arch.rawValue)
        for (name, value) in zip(names, values) { line.field(dynamicKey: name, hex: value) }
        line.finish()
        return line
    }

    /// An xenctx-like layout: one register per column cell, values zero-padded to 16 digits.
    public func textLayout(identity: RecordIdentity, columns: Int = 3) -> String {
        var out = "vcpu \(vcpu) (\(arch.rawValue))"
        switch identity {
        case .domid(let d): out += " domid \(d)"
        case .target(let t): out += " \(t)"
        }
        out += "\n"
        let width = max(names.map(\.count).max() ?? 0, 3)
        for (i, (name, value)) in zip(names, values).enumerated() {
            let padded = String(repeating: " ", count: width - name.count) + name
            let digits = String(value, radix: 16)
            out += "\(padded): \(String(repeating: "0", count: max(0, 16 - digits.count)))\(digits)"
            out += (i % columns == columns - 1 || i == names.count - 1) ? "\n" : "   "
        }
        return out
    }

    /// Reads register names and values back from a `regs` record (what `--set -` consumes).
    /// Non-register keys (type, domid, target, vcpu, arch, ts) are skipped.
    public static func assignments(fromRecord value: JSONValue) throws -> (vcpu: Int?, [(name: String, value: UInt64)]) {
        guard case .object(let members) = value else { throw VMIError("expected a JSON object") }
        if let t = value["type"]?.stringValue, t != "regs" { throw VMIError("expected a 'regs' record, got '\(t)'") }
        var vcpu: Int?
        var out: [(name: String, value: UInt64)] = []
        for (key, v) in members {
            switch key {
            case "type", "domid", "target", "arch", "ts": continue
            case "vcpu":
                guard case .number(let n) = v, let i = Int(n) else { throw VMIError("'vcpu' must be a number") }
                vcpu = i
            default:
                guard case .string(let s) = v, let n = parseUInt64(s) else {
                    throw VMIError("register '\(key)' must be a hex string such as \"0x1f\"")
                }
                out.append((key, n))
            }
        }
        return (vcpu, out)
    }
}
