import Foundation
import VMICore

#if canImport(Glibc)
    import Glibc
#endif

/// Single-step rate of the gdb driver against the same stub as a minimal raw-socket RSP loop
/// (the baseline DESIGN.md names: ours must reach 95% of it), and memory read throughput.
///
/// Both loops step vCPU 0 and read its registers after each step (`vCont;s:p1.1` then `g`), as
/// any step tracer must; the raw loop also runs without `g` to show the round-trip floor.
/// Rounds alternate raw and driver so drift in the guest or the machine hits both alike.
public func benchGDBStep(host: String, port: UInt16, steps: Int = 400, rounds: Int = 11) throws {
    let target = TargetAddress.gdb(.tcp(host: host, port: port))
    var rawWithG: [Double] = []
    var rawStepOnly: [Double] = []
    var driver: [Double] = []
    var driverCPU = 0.0
    var rawCPU = 0.0
    for _ in 0..<rounds {
        rawStepOnly.append(try RawRSPLoop.stepsPerSecond(host: host, port: port, steps: steps, readRegisters: false))
        let rawCPU0 = processCPUSeconds()
        rawWithG.append(try RawRSPLoop.stepsPerSecond(host: host, port: port, steps: steps, readRegisters: true))
        rawCPU += processCPUSeconds() - rawCPU0
        let t = try openTarget(target, options: AttachOptions(timeoutSeconds: 10))
        defer { t.close() }
        let session = try t.require(SingleStepper.self, to: "single-step").beginStepping(
            vcpu: 0, options: ListenOptions())
        let start = monotonicSeconds()
        let cpu0 = processCPUSeconds()
        for _ in 0..<steps { _ = try session.step() }
        driver.append(Double(steps) / (monotonicSeconds() - start))
        driverCPU += processCPUSeconds() - cpu0
        session.end()
    }
    let best = { (xs: [Double]) in xs.max() ?? 0 }
    let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
    // Each round runs both loops back to back: the ratio within a round is what load on a
    // shared machine disturbs least.
    let ratios = zip(driver, rawWithG).map { $0 / $1 }
    print("gdb step (\(target), \(rounds) rounds x \(steps) steps; steps/s median / best):")
    print("  raw RSP loop, vCont;s only:   \(Int(median(rawStepOnly))) / \(Int(best(rawStepOnly)))")
    print("  raw RSP loop, vCont;s + g:    \(Int(median(rawWithG))) / \(Int(best(rawWithG)))")
    print("  driver StepSession.step():    \(Int(median(driver))) / \(Int(best(driver)))")
    let perStep = { (cpu: Double) in String(format: "%.1f us", cpu / Double(rounds * steps) * 1e6) }
    print("  CPU per step (user + sys):    raw (s + g) \(perStep(rawCPU)) (with connect), driver \(perStep(driverCPU))")
    print("  per-round driver / raw (s + g): " + ratios.map(percent).joined(separator: " "))
    print(
        "  driver / raw (s + g):         median of rounds \(percent(median(ratios))), best / best "
            + "\(percent(best(driver) / best(rawWithG))) (target >= 95%)")
    do { try benchGDBMemory(target) } catch { print("gdb memory reads: \(error)") }
}

/// Reads 1 MiB of kernel memory (virtual, at the kernel's own code) and 1 MiB of RAM (physical).
func benchGDBMemory(_ target: TargetAddress) throws {
    let t = try openTarget(target, options: AttachOptions(timeoutSeconds: 10))
    defer { t.close() }
    guard let gdb = t as? GDBTarget else { return }
    let regs = try gdb.registers(vcpu: 0)
    // Kernel text: where the vCPU is when it runs the kernel, else the exception vectors.
    let pc = regs.pc ?? 0
    let fallback = gdb.arch == .x86_64 ? 0xffff_ffff_8100_0000 : regs["vbar_el1"] ?? 0
    let base = (pc >> 63 == 1 ? pc : fallback) & ~0xffff
    let ram: UInt64 = gdb.arch == .x86_64 ? 0x10_0000 : 0x4000_0000
    let size = 1 << 20
    var start = monotonicSeconds()
    _ = try gdb.readVirtual(base, count: size)
    let virt = Double(size) / (monotonicSeconds() - start) / 1e6
    start = monotonicSeconds()
    _ = try gdb.readPhysical(ram, count: size)
    let phys = Double(size) / (monotonicSeconds() - start) / 1e6
    print(
        "gdb memory reads (\(gdb.readChunk) bytes per m packet, PacketSize \(gdb.packetSize)): "
            + "virtual \(String(format: "%.2f", virt)) MB/s at 0x\(String(base, radix: 16)), "
            + "physical \(String(format: "%.2f", phys)) MB/s at 0x\(String(ram, radix: 16))")
}

func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }

/// The baseline: the least code that steps a QEMU stub over a socket. Blocking I/O, acks,
/// no parsing beyond finding packet ends. Not the driver's code on purpose.
enum RawRSPLoop {
    static func stepsPerSecond(host: String, port: UInt16, steps: Int, readRegisters: Bool) throws -> Double {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw VMIError("raw loop: cannot connect to \(host):\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)

        func send(_ payload: String) {
            let sum = payload.utf8.reduce(UInt8(0)) { $0 &+ $1 }
            let hex = Array("0123456789abcdef".utf8)
            let bytes = Array("$\(payload)#".utf8) + [hex[Int(sum >> 4)], hex[Int(sum & 15)]]
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }
        /// Reads up to the end of the next `$...#xx` packet, acks it, returns its first byte.
        func receive() throws -> UInt8 {
            while true {
                if let s = buf.firstIndex(of: UInt8(ascii: "$")), let h = buf[s...].firstIndex(of: UInt8(ascii: "#")),
                    h + 2 < buf.count
                {
                    let first = buf[s + 1]
                    buf.removeFirst(h + 3)
                    _ = Glibc.send(fd, "+", 1, 0)
                    return first
                }
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { throw VMIError("raw loop: stub closed the connection") }
                buf += chunk[0..<n]
            }
        }
        func request(_ p: String) throws -> UInt8 {
            send(p)
            var r = try receive()
            while r == UInt8(ascii: "T") && !p.hasPrefix("vCont") && !p.hasPrefix("?") { r = try receive() }  // connect stop
            return r
        }
        _ = try request("qSupported:multiprocess+")
        _ = try request("Hgp1.1")
        let start = monotonicSeconds()
        for _ in 0..<steps {
            _ = try request("vCont;s:p1.1")
            if readRegisters { _ = try request("g") }
        }
        let rate = Double(steps) / (monotonicSeconds() - start)
        _ = try request("D;1")
        return rate
    }
}
