// Placeholder: replaced by the driver that owns this target form.
func openMigrationStreamTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    throw VMIError("\(address): migration stream support is not implemented yet")
}
