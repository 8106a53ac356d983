import Foundation
import TestSupport
import Testing

/// Proves the live QEMU lab env is usable: the gdbstub answers a stop-reason query and the HMP
/// monitor answers `info status`. Runs only under `Tests/Lab/qemu/with-guests.sh`.
@Suite(.enabled(if: QEMULab.isRunning, Comment(rawValue: QEMULab.skipReason)))
struct QEMULabTests {
    /// One gdb remote packet: `$payload#checksum`.
    static func packet(_ payload: String) -> String {
        let sum = payload.utf8.reduce(UInt8(0)) { $0 &+ $1 }
        return "$\(payload)#" + String(format: "%02x", sum)
    }

    /// Reads the next packet's payload (skipping acks), and acknowledges it.
    static func readPacket(_ s: LabSocket) throws -> String {
        while try s.readByte() != UInt8(ascii: "$") {}
        var payload: [UInt8] = []
        while true {
            let b = try s.readByte()
            if b == UInt8(ascii: "#") { break }
            payload.append(b)
        }
        _ = try s.readByte()
        _ = try s.readByte()
        try s.send("+")
        return String(decoding: payload, as: UTF8.self)
    }

    static func hmp(_ guest: QEMULab.Guest, _ command: String) throws -> String {
        let s = try LabSocket(host: guest.hmp.host, port: guest.hmp.port)
        _ = try s.read(until: "(qemu) ")
        try s.send(command + "\n")
        return try s.read(until: "(qemu) ")
    }

    @Test(arguments: QEMULab.Arch.allCases)
    func gdbstubAndMonitorAnswer(arch: QEMULab.Arch) throws {
        guard let guest = QEMULab.guest(arch) else {
            Issue.record("VMI_LAB_GDB_\(arch.envSuffix) / VMI_LAB_HMP_\(arch.envSuffix) not set though the lab runs")
            return
        }
        do {
            let s = try LabSocket(host: guest.gdb.host, port: guest.gdb.port)
            try s.send(Self.packet("?"))
            let stop = try Self.readPacket(s)
            // Connecting stops the VM: the reply is a stop reply (T05thread:01; or S05).
            #expect(stop.hasPrefix("T") || stop.hasPrefix("S"), "stop reply from \(guest.gdb): '\(stop)'")
            try s.send(Self.packet("D"))
            _ = try Self.readPacket(s)
        }
        // Whatever the detach did, leave the guest running for the next tests.
        _ = try Self.hmp(guest, "cont")
        let status = try Self.hmp(guest, "info status")
        #expect(status.contains("VM status: running"), "HMP \(guest.hmp) said: \(status)")
    }
}
