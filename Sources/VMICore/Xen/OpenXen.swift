// Placeholder: replaced by the driver that owns this target form.
func openXenTarget(_ domain: TargetAddress.XenDomainRef, address: TargetAddress, options: AttachOptions) throws -> TargetDriver {
    throw VMIError("\(address): live Xen support is not implemented yet")
}
