/// The one call vmi-gic-dump makes: a GIC snapshot from whatever the target is. Sources that hold
/// GIC state answer themselves (`GICStateReader`: migration streams, KVM text, Xen console text);
/// targets with guest-physical memory (a gdbstub) are read as MMIO at the given bases, QEMU virt's
/// by default; anything else cannot.
public func readGICState(
    _ driver: TargetDriver, distributorBase: UInt64? = nil, redistributorBase: UInt64? = nil
) throws -> GICSnapshot {
    if let reader = driver as? GICStateReader { return try reader.gicSnapshot() }
    if let memory = driver as? PhysicalMemory {
        return try GICMMIOReader(
            memory: memory, distributorBase: distributorBase, redistributorBase: redistributorBase
        ).snapshot()
    }
    throw VMIError.unsupported(driver.address, "read GIC state", because: driver.kindDescription)
}

extension GICSnapshot {
    /// Throws the standard "has no vcpu N" error when a `--vcpu` names a CPU the snapshot lacks.
    public func require(vcpu: Int?, of target: TargetAddress) throws {
        guard let v = vcpu, !vcpus.contains(v) else { return }
        throw VMIError("\(target) has no vcpu \(v) (vcpus: \(vcpus.map(String.init).joined(separator: ", ")))")
    }
}
