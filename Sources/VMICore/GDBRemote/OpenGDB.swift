// Placeholder: replaced by the driver that owns this target form.
func openGDBTarget(_ endpoint: TargetAddress.GDBEndpoint, address: TargetAddress, options: AttachOptions) throws -> TargetDriver {
    throw VMIError("\(address): gdb remote support is not implemented yet")
}
