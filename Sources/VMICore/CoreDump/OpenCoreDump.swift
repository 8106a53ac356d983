// Placeholder: replaced by the driver that owns this target form.
func openCoreDumpTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    throw VMIError("\(address): dump support is not implemented yet")
}
