import Foundation
import TestSupport
import Testing

@testable import VMICore

#if canImport(Glibc)
    import Glibc
#endif

/// The gdb tools against the lab's real QEMU gdbstubs (`Tests/Lab/qemu/with-guests.sh`, which
/// exports VMI_LAB_GDB_<ARCH>, VMI_LAB_HMP_<ARCH>, VMI_LAB_QEMU_STATE_<ARCH>). Skipped without.
@Suite(.serialized) struct GDBLabTests {
    struct Guest {
        var arch: String
        var gdb: String
        var hmp: UInt16
        var stateDir: String?
        var target: String { "gdb:\(gdb)" }

        init?(_ arch: String) {
            let suffix = arch.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let g = Lab.env("VMI_LAB_GDB_\(suffix)"), let h = Lab.env("VMI_LAB_HMP_\(suffix)"),
                let port = h.split(separator: ":").last.flatMap({ UInt16($0) })
            else { return nil }
            self.arch = arch
            gdb = g
            hmp = port
            stateDir = Lab.env("VMI_LAB_QEMU_STATE_\(suffix)")
        }

        /// `vmi-lab sym NAME 0xADDR` lines the guest's /init prints from /proc/kallsyms.
        func symbol(_ name: String) -> UInt64? {
            guard let dir = stateDir, let log = try? String(contentsOfFile: dir + "/console.log", encoding: .utf8)
            else { return nil }
            for line in log.split(whereSeparator: \.isNewline) {
                let f = line.split(separator: " ")
                if f.count >= 4, f[0] == "vmi-lab", f[1] == "sym", f[2] == name { return parseUInt64(f[3]) }
            }
            return nil
        }

        func hmpCommand(_ command: String) throws -> String { try HMP.command(port: hmp, command) }

        func isRunning() throws -> Bool { try hmpCommand("info status").contains("VM status: running") }

        /// Connects anew, lets the guest run for `seconds` and says whether anything stopped it
        /// (a breakpoint or watchpoint left behind would: the spots tested are hit every tick).
        func stopsOnItsOwn(within seconds: Double) throws -> Bool {
            let address = try TargetAddress(parsing: target)
            guard case .gdb(let e) = address else { return true }
            let t = try GDBTarget(e, address: address, timeout: 10)
            defer { t.close() }
            try t.client.resume()
            t.running = true
            let stop = try t.client.waitStop(.until(deadline: monotonicSeconds() + seconds, stopFD: -1))
            if stop != nil { t.running = false }
            return stop != nil
        }
    }

    static let arches = ["x86_64", "aarch64", "aarch64-el2"]

    func guest(_ arch: String) throws -> Guest? {
        guard let g = Guest(arch) else {
            print(
                "skip: \(arch) guest: QEMU lab not running (Tests/Lab/qemu/with-guests.sh swift test --filter GDBLab)")
            return nil
        }
        return g
    }

    /// A tool left running (to signal it, or close its pipe).
    func spawn(_ tool: String, _ args: [String], stdout: Any) throws -> Process {
        let p = Process()
        p.executableURL = Tools.binDir.appendingPathComponent(tool)
        p.arguments = args
        p.standardOutput = stdout
        try p.run()
        return p
    }

    func json(_ line: Substring) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
    }

    /// vmi-regs agrees with QEMU's own `info registers` for the same stop, and leaves the guest running.
    @Test(arguments: arches) func registersEqualHMP(arch: String) throws {
        guard let g = try guest(arch) else { return }
        _ = try g.hmpCommand("stop")
        let hmp = HMP.registers(try g.hmpCommand("info registers"), arch: arch)
        let r = try Tools.run("vmi-regs", [g.target, "--vcpu", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let regs = try json(try #require(r.lines.first))
        #expect(regs["target"] as? String == g.target)
        #expect(regs["arch"] as? String == (arch == "x86_64" ? "x86_64" : "aarch64"))
        #expect(hmp.count >= (arch == "x86_64" ? 30 : 34))
        for (name, value) in hmp {
            #expect(
                parseUInt64(regs[name] as? String ?? "") == value,
                "\(arch) \(name): vmi-regs \(regs[name] ?? "none"), HMP 0x\(String(value, radix: 16))")
        }
        // Detaching resumes the VM (QEMU's D;1 continues it, even after an HMP stop).
        #expect(try g.isRunning())
    }

    /// A write watchpoint on jiffies_64 and breakpoints on the code that writes it: events with
    /// the right addresses, then nothing of ours is left and the guest runs.
    @Test(arguments: arches) func watchpointAndBreakpointEvents(arch: String) throws {
        guard let g = try guest(arch) else { return }
        guard let jiffies = g.symbol("jiffies_64") else {
            print("skip: \(arch): no 'vmi-lab sym jiffies_64' in the console log")
            return
        }
        let pcKey = arch == "x86_64" ? "rip" : "pc"
        let w = try Tools.run(
            "vmi-watch",
            [g.target, "--event", "mem:w@va:0x\(String(jiffies, radix: 16))+8", "--count", "2", "--timeout", "60s"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.lines.count == 2)
        var writer: UInt64 = 0
        for line in w.lines {
            let e = try json(line)
            #expect(e["event"] as? String == "mem")
            #expect(e["access"] as? String == "w")
            #expect(parseUInt64(e["address"] as? String ?? "") == jiffies)
            #expect(e["vcpu"] as? Int == 0)
            writer = parseUInt64(e[pcKey] as? String ?? "") ?? 0
        }
        #expect(writer != 0)
        for kind in ["hbreak", "breakpoint"] {
            let b = try Tools.run(
                "vmi-watch",
                [g.target, "--event", "\(kind)@0x\(String(writer, radix: 16))", "--count", "3", "--timeout", "60s"])
            #expect(b.status == 0, "\(b.stderr)")
            #expect(b.lines.count == 3)
            for line in b.lines {
                let e = try json(line)
                #expect(e["event"] as? String == kind)
                #expect(parseUInt64(e[pcKey] as? String ?? "") == writer)
                #expect(parseUInt64(e["address"] as? String ?? "") == writer)
            }
        }
        #expect(try g.isRunning())
        #expect(try !g.stopsOnItsOwn(within: 1.0), "a breakpoint or watchpoint was left behind")
    }

    /// A signal while waiting for an event that never comes: exit 128+N, guest running, nothing left.
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP]) func signalLeavesTheGuestClean(signal: Int32) throws {
        guard let g = try guest("x86_64"), let jiffies = g.symbol("jiffies_64") else { return }
        // startup_64 runs once at boot: this breakpoint is never hit; the watchpoint would be.
        let p = try spawn(
            "vmi-watch",
            [
                g.target, "--event", "hbreak@0xffffffff81000000", "--event",
                "mem:r@va:0x\(String(jiffies, radix: 16))+8", "--count", "1000000",
            ], stdout: FileHandle.nullDevice)
        Thread.sleep(forTimeInterval: 1.5)
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationStatus == 128 + signal)
        #expect(try g.isRunning())
        #expect(try !g.stopsOnItsOwn(within: 1.0), "a breakpoint or watchpoint was left behind")
    }

    @Test(arguments: arches) func stepsAndLeavesTheGuestRunning(arch: String) throws {
        guard let g = try guest(arch) else { return }
        let r = try Tools.run("vmi-step", [g.target, "--count", "50", "--regs", "all"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 50)
        let pcKey = arch == "x86_64" ? "rip" : "pc"
        var previousNext: UInt64?
        for (i, line) in r.lines.enumerated() {
            let e = try json(line)
            #expect(e["n"] as? Int == i + 1)
            let pc = parseUInt64(e[pcKey] as? String ?? "")
            // Each record's pc is where the previous step ended.
            if let p = previousNext { #expect(pc == p) }
            previousNext = parseUInt64((e["regs"] as? [String: Any])?[pcKey] as? String ?? "")
        }
        #expect(try g.isRunning())
    }

    /// Virtual and physical reads of the kernel banner agree (x86_64, nokaslr: the kernel image
    /// is mapped at 0xffffffff80000000 + physical); AArch64 reads the GIC distributor's PIDR2.
    @Test(arguments: arches) func readsMemory(arch: String) throws {
        guard let g = try guest(arch), let banner = g.symbol("linux_banner") else { return }
        let address = try TargetAddress(parsing: g.target)
        guard case .gdb(let e) = address else { return }
        let t = try GDBTarget(e, address: address, timeout: 10)
        defer { t.close() }
        let text = try t.readVirtual(banner, count: 64)
        #expect(String(decoding: text.prefix(13), as: UTF8.self) == "Linux version")
        if arch == "x86_64" {
            #expect(try t.readPhysical(banner - 0xffff_ffff_8000_0000, count: 64) == text)
        } else {
            #expect(try t.readPhysical(0x0800_ffe8, count: 4) == [0x3b, 0, 0, 0])  // GICD_PIDR2: GICv3
        }
        #expect(t.readChunk == 2048)
    }
}

extension GDBLabTests {
    func open(_ g: Guest) throws -> GDBTarget {
        let address = try TargetAddress(parsing: g.target)
        guard case .gdb(let e) = address else { throw VMIError("not a gdb target") }
        return try GDBTarget(e, address: address, timeout: 10)
    }

    /// P writes a register and the stub reads it back; the old value is restored before the
    /// guest runs again. qRcmd reaches the monitor.
    @Test(arguments: arches) func writesRegistersAndRunsMonitorCommands(arch: String) throws {
        guard let g = try guest(arch) else { return }
        let t = try open(g)
        defer { t.close() }
        let name = arch == "x86_64" ? "r11" : "x9"
        let old = try #require(try t.registers(vcpu: 0)[name])
        try t.setRegisters(vcpu: 0, [(name, 0x1234_5678_9abc_def0)])
        let changed = try t.registers(vcpu: 0)[name]
        try t.setRegisters(vcpu: 0, [(name, old)])
        #expect(changed == 0x1234_5678_9abc_def0)
        #expect(try t.registers(vcpu: 0)[name] == old)
        #expect(try t.monitorCommand("info status").contains("VM status: paused"))
    }

    /// AArch64: the system registers read 32 `p` packets at a time equal those read one by one.
    @Test(arguments: ["aarch64", "aarch64-el2"]) func pipelinedSystemRegisters(arch: String) throws {
        guard let g = try guest(arch) else { return }
        let t = try open(g)
        defer { t.close() }
        let regs = try t.registers(vcpu: 0)
        #expect(regs.count > 200)
        for name in ["sctlr_el1", "tcr_el1", "ttbr1_el1", "vbar_el1", "mair_el1", "tpidr_el1", "sp_el0", "elr_el1"] {
            let e = try #require(t.client.registerMap.entry(named: name), "\(name)")
            let reply = try t.client.connection.request("p\(String(e.register.regnum, radix: 16))")
            #expect(RegisterMap.littleEndian(reply[...]) == regs[name], "\(name)")
        }
    }

    /// AArch64: a hardware breakpoint on the IRQ vector (VBAR_ELx + 0x280: "current EL with
    /// SPx, IRQ", Arm ARM D1.10.2) fires with every timer tick; vmi-step --until stops there.
    @Test(arguments: ["aarch64", "aarch64-el2"]) func breakpointOnTheIRQVector(arch: String) throws {
        guard let g = try guest(arch) else { return }
        let regs = try json(try #require(try Tools.run("vmi-regs", [g.target, "--vcpu", "0"]).lines.first))
        let el = ((parseUInt64(regs["pstate"] as? String ?? "") ?? 0) >> 2) & 3
        let vbar = try #require(parseUInt64(regs[el == 2 ? "vbar_el2" : "vbar_el1"] as? String ?? ""))
        let irq = "0x" + String(vbar + 0x280, radix: 16)
        let w = try Tools.run("vmi-watch", [g.target, "--event", "hbreak@\(irq)", "--count", "2", "--timeout", "60s"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.lines.count == 2)
        for line in w.lines { #expect(try json(line)["pc"] as? String == irq) }
        let s = try Tools.run("vmi-step", [g.target, "--until", irq, "--count", "2"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try json(try #require(s.lines.first))["pc"] as? String == irq)
        #expect(try g.isRunning())
        #expect(try !g.stopsOnItsOwn(within: 1.0), "a breakpoint was left behind")
    }

    /// `vmi-watch ... | head -1`: the reader goes away, the tool ends with status 0 and cleans up.
    @Test func closedPipeEndsCleanly() throws {
        guard let g = try guest("x86_64"), let jiffies = g.symbol("jiffies_64") else { return }
        let out = Pipe()
        let p = try spawn(
            "vmi-watch", [g.target, "--event", "mem:w@va:0x\(String(jiffies, radix: 16))+8", "--timeout", "60s"],
            stdout: out)
        var first = Data()
        while !first.contains(0x0a) {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            first += d
        }
        try out.fileHandleForReading.close()
        p.waitUntilExit()
        #expect(first.contains(0x0a))
        #expect(p.terminationStatus == 0)
        #expect(try g.isRunning())
        #expect(try !g.stopsOnItsOwn(within: 1.0), "the watchpoint was left behind")
    }
}

/// One HMP command over the monitor socket: the reply between the echoed command and the next
/// prompt, escapes and carriage returns removed.
enum HMP {
    static func command(port: UInt16, _ command: String, timeout: Double = 30) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw VMIError("hmp: cannot connect to 127.0.0.1:\(port)") }
        let deadline = Date().addingTimeInterval(timeout)
        func readPrompt() throws -> String {
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while !data.reversed().starts(with: Array("(qemu) ".utf8).reversed()) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Date() < deadline, poll(&p, 1, 1000) >= 0 else { throw VMIError("hmp: timeout") }
                if p.revents == 0 { continue }
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { throw VMIError("hmp: closed") }
                data += chunk[0..<n]
            }
            return String(decoding: data, as: UTF8.self)
        }
        _ = try readPrompt()
        let line = Array((command + "\n").utf8)
        _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let reply = try readPrompt()
        let clean = reply.replacingOccurrences(of: "\r", with: "")
            .replacingOccurrences(of: "\u{1b}\\[[0-9;]*[A-Za-z]|\u{1b}[A-Za-z]", with: "", options: .regularExpression)
        return clean
    }

    /// Register values from `info registers`, under vmi-regs' names (what both sources show).
    static func registers(_ text: String, arch: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        let lines = text.split(separator: "\n")
        let pairs = try! NSRegularExpression(pattern: "([A-Z][A-Z0-9]*) *=([0-9a-f]+)")
        for line in lines {
            let s = String(line)
            for m in pairs.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                let name = String(s[Range(m.range(at: 1), in: s)!])
                guard let v = UInt64(s[Range(m.range(at: 2), in: s)!], radix: 16) else { continue }
                if arch == "x86_64" {
                    switch name {
                    case "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP", "R8", "R9", "R10", "R11", "R12",
                        "R13",
                        "R14", "R15", "CR0", "CR2", "CR3", "CR4", "EFER":
                        out[name.lowercased()] = v
                    case "RFL": out["rflags"] = v
                    case "ES", "CS", "SS", "DS", "FS", "GS":
                        out[name.lowercased()] = v
                        // "FS =0000 <base> <limit> <flags>": the base is the second field.
                        if name == "FS" || name == "GS",
                            let base = s.split(separator: " ").dropFirst(2).first.flatMap({ UInt64($0, radix: 16) })
                        {
                            out[name.lowercased() + "_base"] = base
                        }
                    default: break
                    }
                } else {
                    if name == "PC" || name == "SP" || name == "PSTATE" {
                        out[name.lowercased()] = v
                    } else if name.hasPrefix("X"), let n = Int(name.dropFirst()), n <= 30 {
                        out["x\(n)"] = v
                    }
                }
            }
        }
        return out
    }
}

/// The tools' messages for a stub that dies, as a user sees them.
@Suite struct GDBToolErrorTests {
    @Test func stubClosingIsOneClearLine() throws {
        let stub = try FakeGDBStub { c in
            _ = c.readPacket()
            c.close()
        }
        let r = try Tools.run("vmi-regs", [stub.target])
        stub.finish()
        #expect(r.status == 1)
        #expect(r.stderr == "vmi-regs: \(stub.target): stub closed the connection\n")
        #expect(r.stdout.isEmpty)
    }

    @Test func unsupportedEventIsRefusedBeforeAnyChange() throws {
        let q = try QEMULikeStub(fixtureDir: Fixtures.sourceDir.appendingPathComponent("qemu/gdb/x86_64").path)
        let stub = try FakeGDBStub { c in q.serve(c) }
        let r = try Tools.run("vmi-watch", [stub.target, "--event", "cr3"])
        stub.finish()
        #expect(r.status == 1)
        #expect(
            r.stderr
                == "vmi-watch: \(stub.target) cannot watch cr3: the gdb remote protocol has no control-register events\n"
        )
        #expect(!stub.packets.contains { $0.hasPrefix("Z") })
        #expect(stub.packets.last == "D;1")
    }
}
