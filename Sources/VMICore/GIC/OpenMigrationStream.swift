/// `vmstate:FILE`: a QEMU migration stream (HMP `migrate "exec:cat > FILE"`), read for its GIC.
public final class MigrationStreamTarget: GICStateReader {
    public let address: TargetAddress
    public let path: String
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "QEMU migration stream" }

    public init(path: String, address: TargetAddress) throws {
        self.path = path
        self.address = address
        _ = try MigrationStream(path: path)  // fail at open on a file that is not a stream
    }

    public func close() {}

    public func gicSnapshot() throws -> GICSnapshot {
        let stream = try MigrationStream(path: path)
        let found = try stream.sections(named: ["arm_gicv3"])
        return try GICv3FromVMState.snapshot(found[0].object)
    }
}

func openMigrationStreamTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    try MigrationStreamTarget(path: path, address: address)
}
