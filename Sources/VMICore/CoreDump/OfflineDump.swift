/// What the offline dump drivers (`XenDumpCore`, `QEMUDump`) share: registers, guest-physical
/// and guest-virtual memory, records named by the target string, nothing to undo on close, and
/// no register writes ("cannot write registers: offline dump").
public protocol OfflineDump: RegisterReader, PhysicalMemory, VirtualMemoryProvider {
    /// The architecture of the dumped guest.
    var arch: Architecture { get }
}

extension OfflineDump {
    public var recordIdentity: RecordIdentity { .target(address.description) }
    public var kindDescription: String { "offline dump" }
    /// The mapping is released with the driver; a dump holds nothing of a live guest.
    public func close() {}
}
