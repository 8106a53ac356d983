/// `vmstate:FILE`: a QEMU migration stream (HMP `migrate "exec:cat > FILE"`), read for its GIC.
public final class MigrationStreamTarget: GICStateReader {
    public let address: TargetAddress
    public let path: String
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "QEMU migration stream" }

    /// Opened (header and vmdesc checked) at once, so a file that is no stream fails at open.
    private var stream: MigrationStream?

    public init(path: String, address: TargetAddress) throws {
        self.path = path
        self.address = address
        stream = try MigrationStream(path: path)
    }

    public func close() { stream = nil }

    /// Walks the stream once; a second call reopens it.
    public func gicSnapshot() throws -> GICSnapshot {
        let stream = try self.stream ?? MigrationStream(path: path)
        self.stream = nil
        let found = try stream.sections(named: ["arm_gicv3"])
        return try GICv3FromVMState.snapshot(found[0].object)
    }
}

func openMigrationStreamTarget(path: String, address: TargetAddress) throws -> TargetDriver {
    try MigrationStreamTarget(path: path, address: address)
}
