import Foundation

/// Parsers for the ground truth the labs capture beside each dump, so tests compare a tool's
/// output with what the producing software itself printed at the same moment.
public enum GroundTruth {
    /// QEMU HMP `info registers` (x86_64 or AArch64) of one CPU, keyed by the names the tools use.
    ///
    /// x86: `RAX=...`, `RFL=` (rflags), segment rows `CS =sel base limit flags` (-> cs, cs_base),
    /// `LDT`/`TR` (-> ldtr, tr), `GDT=`/`IDT= base limit` (-> gdtr_base, gdtr_limit), `CRn=`.
    /// AArch64: `PC=`, `X00=`.. (-> x0), `SP=`, `PSTATE=`. Vector/FPU/debug rows are skipped.
    public static func qemuInfoRegisters(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        let segments = [
            "ES": "es", "CS": "cs", "SS": "ss", "DS": "ds", "FS": "fs", "GS": "gs", "LDT": "ldtr", "TR": "tr",
        ]
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            let head = line.split(separator: "=", maxSplits: 1)
            guard head.count == 2 else { continue }
            let key = head[0].trimmingCharacters(in: .whitespaces)
            let fields = head[1].split(separator: " ").map(String.init)
            if let name = segments[key], fields.count >= 2 {
                out[name] = UInt64(fields[0], radix: 16)
                out[name + "_base"] = UInt64(fields[1], radix: 16)
                continue
            }
            if key == "GDT" || key == "IDT", fields.count >= 2 {
                out[key.lowercased() + "r_base"] = UInt64(fields[0], radix: 16)
                out[key.lowercased() + "r_limit"] = UInt64(fields[1], radix: 16)
                continue
            }
            // Rows of NAME=VALUE pairs (`R8 =...` has a space before '=').
            let pattern = try! NSRegularExpression(pattern: "([A-Z][A-Z0-9]*) ?=([0-9a-f]+)")
            for m in pattern.matches(in: line, range: NSRange(line.startIndex..., in: line)) {
                let name = String(line[Range(m.range(at: 1), in: line)!])
                let value = UInt64(String(line[Range(m.range(at: 2), in: line)!]), radix: 16)
                guard let mapped = qemuName(name) else { continue }
                out[mapped] = value
            }
        }
        return out
    }

    static func qemuName(_ name: String) -> String? {
        switch name {
        case "RFL": return "rflags"
        case "PC", "SP", "PSTATE", "RIP", "RSP", "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "CR0", "CR2", "CR3",
            "CR4":
            return name.lowercased()
        default:
            if name.hasPrefix("R"), let n = Int(name.dropFirst()), (8...15).contains(n) { return "r\(n)" }
            if name.hasPrefix("X"), name.count == 3, let n = Int(name.dropFirst()), (0...30).contains(n) {
                return "x\(n)"
            }
            return nil
        }
    }

    /// `xenctx -a [-C] DOMID` (tools/misc/xenctx.c print_ctx_64), one dictionary per vCPU in the
    /// order printed: `rip: ...`, `flags: ...` (-> rflags), `rax: ...`, ` cs: e033`,
    /// ` fs: 0000 @ BASE` (-> fs, fs_base), ` gs: 0000 @ KERNEL/USER` (-> gs, gs_base_kernel,
    /// gs_base_user), `cr0: ...`, `dr7: ...`. Stack and code dumps are skipped.
    public static func xenctx(_ text: String) -> [[String: UInt64]] {
        var out: [[String: UInt64]] = []
        var current: [String: UInt64] = [:]
        let pair = try! NSRegularExpression(
            pattern: "(?:^|\\s)([a-z][a-z0-9]*): ([0-9a-f]+)(?: @ ([0-9a-f]+)(?:/([0-9a-f]+))?)?")
        let names: Set<String> = [
            "rip", "flags", "rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12",
            "r13", "r14", "r15", "cs", "ss", "ds", "es", "fs", "gs", "cr0", "cr2", "cr3", "cr4", "dr0", "dr1", "dr2",
            "dr3", "dr6", "dr7",
        ]
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("vcpu") {  // "vcpu0:" (or "vcpu1 offline") starts a vCPU of -C
                if !current.isEmpty { out.append(current) }
                current = [:]
                continue
            }
            if line.hasPrefix("Stack") || line.hasPrefix("Code") || line.hasPrefix("Call Trace") { continue }
            for m in pair.matches(in: line, range: NSRange(line.startIndex..., in: line)) {
                let name = String(line[Range(m.range(at: 1), in: line)!])
                guard names.contains(name), current[name == "flags" ? "rflags" : name] == nil else { continue }
                current[name == "flags" ? "rflags" : name] = UInt64(
                    String(line[Range(m.range(at: 2), in: line)!]), radix: 16)
                if let r = Range(m.range(at: 3), in: line) {
                    let base = UInt64(String(line[r]), radix: 16)
                    if let u = Range(m.range(at: 4), in: line) {
                        current["gs_base_kernel"] = base
                        current["gs_base_user"] = UInt64(String(line[u]), radix: 16)
                    } else {
                        current["\(name)_base"] = base
                    }
                }
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// The instruction bytes `xenctx` prints per vCPU ("Code (instr addr RIP)" then 32 bytes from
    /// RIP-21, the byte at RIP in <>), read by Xen through its own page-table walk.
    public static func xenctxCode(_ text: String) -> [(address: UInt64, bytes: [UInt8])] {
        var out: [(UInt64, [UInt8])] = []
        let lines = text.split(separator: "\n").map(String.init)
        for (i, line) in lines.enumerated() where line.hasPrefix("Code (instr addr ") && i + 1 < lines.count {
            guard let rip = UInt64(line.dropFirst("Code (instr addr ".count).prefix { $0.isHexDigit }, radix: 16) else {
                continue
            }
            let bytes = lines[i + 1].split(separator: " ").compactMap {
                UInt8($0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")), radix: 16)
            }
            if bytes.count == 32 { out.append((rip &- 21, bytes)) }
        }
        return out
    }

    /// Memory words `xenctx` printed after `header` ("Memory (address ADDR):" for `-m ADDR`,
    /// "Stack:" for `-d ADDR`): lines of little-endian words of `width` bytes, an optional ASCII
    /// column (`-D`) after two spaces. Stops at the first line that is not words.
    public static func xenctxWords(_ text: String, header: String, width: Int = 8) -> [UInt8]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return nil }
        var bytes: [UInt8] = []
        for line in lines[(start + 1)...] {
            let words = line.components(separatedBy: "  ")[0].split(separator: " ")
            guard !words.isEmpty, words.allSatisfy({ $0.count == width * 2 }) else { break }
            for w in words {
                guard let v = UInt64(w, radix: 16) else { return nil }
                for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
            }
        }
        return bytes
    }

    /// The Xen lab's `symbols.txt`: `sym ADDRESS TYPE NAME` lines the guest printed from
    /// /proc/kallsyms.
    public static func labSymbols(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 4, f[0] == "sym", let a = UInt64(f[1].replacingOccurrences(of: "0x", with: ""), radix: 16) {
                out[String(f[3])] = a
            }
        }
        return out
    }

    /// One row of a lab `*.translate.txt`: `name va pa bytes_via_x bytes_via_xp`, '-' = unmapped.
    public struct Translation {
        public var name: String
        public var va: UInt64
        public var pa: UInt64?
        public var virtualBytes: [UInt8]?
        public var physicalBytes: [UInt8]?
    }

    public static func translations(_ text: String) -> [Translation] {
        text.split(separator: "\n").compactMap { line -> Translation? in
            guard !line.hasPrefix("#") else { return nil }
            let f = line.split(separator: " ").map(String.init)
            guard f.count >= 5, let va = parseHex(f[1]) else { return nil }
            return Translation(
                name: f[0], va: va, pa: parseHex(f[2]), virtualBytes: hexBytes(f[3]), physicalBytes: hexBytes(f[4]))
        }
    }

    public static func parseHex(_ s: String) -> UInt64? {
        let t = s.hasPrefix("0x") ? String(s.dropFirst(2)) : s
        return UInt64(t, radix: 16)
    }

    public static func hexBytes(_ s: String) -> [UInt8]? {
        guard s != "-", s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }

    /// Reads a fixture's text, or nil when absent.
    public static func text(_ fixture: String) -> String? {
        Fixtures.path(fixture).flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    }
}
