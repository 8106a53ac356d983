// Placeholder: replaced by the driver that owns this target form.
func openKVMVGICTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    throw VMIError("\(address): kvm vgic-state support is not implemented yet")
}
