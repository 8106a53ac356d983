// Placeholder: replaced by the driver that owns this target form.
func openConsoleTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    throw VMIError("\(address): console text support is not implemented yet")
}
