import FuzzSupport
import VMICore

/// xl dump-core and QEMU ELF dumps: open (ELF + layout), then every vCPU's registers, a physical
/// read and a few virtual translations, as vmi-regs and vmi-watch would.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    withTempFile(data, size) { path in
        let driver = try openCoreDump(path: path)
        defer { driver.close() }
        if let phys = driver as? PhysicalMemory {
            _ = try? phys.readPhysical(0, count: 64)
            _ = try? phys.readPhysical(0x1000, count: 4096)
        }
        guard let regs = driver as? RegisterReader else { return }
        for vcpu in try regs.vcpus().prefix(4) {
            _ = try? regs.registers(vcpu: vcpu)
            if let vm = try? (driver as? VirtualMemoryProvider)?.virtualMemory(vcpu: vcpu) {
                for va: UInt64 in [0, 0x1000, 0xffff_ffff_8100_0000, 0xffff_0000_0000_0000] {
                    _ = try? vm.read(va, count: 16)
                }
            }
        }
    }
    return 0
}

fuzzMain(fuzz)
