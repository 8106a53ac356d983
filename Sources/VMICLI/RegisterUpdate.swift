import VMICore

#if canImport(Glibc)
import Glibc
#endif

/// `--set`: turns NAME=VALUE pairs or `regs` records on stdin into register writes, writing
/// only what differs from the current values (so an unedited record is a no-op).
public enum RegisterUpdate {
    public static func apply(_ assignments: [String], vcpu: Int?, to driver: TargetDriver) throws {
        let writer = try driver.require(RegisterWriter.self, to: "write registers")
        let reader = try driver.require(RegisterReader.self, to: "read registers")
        var plan: [(vcpu: Int, values: [(name: String, value: UInt64)])] = []
        if assignments == ["-"] {
            for line in readStandardInputLines() where !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                let (recordVCPU, values) = try RegisterSet.assignments(fromRecord: try JSONValue.parse(line))
                guard let v = vcpu ?? recordVCPU else { throw VMIError("regs record without 'vcpu': use --vcpu") }
                plan.append((v, values))
            }
        } else {
            let values = assignments.map { a -> (name: String, value: UInt64) in
                let parts = a.split(separator: "=", maxSplits: 1)
                return (String(parts[0]).lowercased(), parseUInt64(parts[1])!)  // validated by the command
            }
            plan.append((vcpu ?? 0, values))
        }
        for (v, values) in plan {
            let current = try reader.registers(vcpu: v)
            for (name, _) in values where current[name] == nil {
                throw VMIError("\(driver.address) vcpu \(v) has no register '\(name)'")
            }
            let changed = values.filter { current[$0.name] != $0.value }
            // A signal while the driver has the guest paused must unwind, not kill the process.
            if !changed.isEmpty { try Signals.guarded { try writer.setRegisters(vcpu: v, changed) } }
        }
    }

    /// Standard input split into lines; bounded to 64 MiB so a runaway producer cannot exhaust memory.
    static func readStandardInputLines() -> [ArraySlice<UInt8>] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while data.count < 64 << 20 {
            let n = read(0, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return data.split(separator: 0x0a)
    }
}
