/// Options that change how a target is attached, shared by every driver.
public struct AttachOptions: Sendable {
    /// Xen: wait this many seconds for a domain of that name to appear (`--wait`).
    public var waitSeconds: Double?
    /// Xen: reclaim a monitor ring left behind by a killed listener (`--force`).
    public var force: Bool
    /// gdb: seconds to wait for any one reply from the stub.
    public var timeoutSeconds: Double

    public init(waitSeconds: Double? = nil, force: Bool = false, timeoutSeconds: Double = 10) {
        self.waitSeconds = waitSeconds
        self.force = force
        self.timeoutSeconds = timeoutSeconds
    }
}

/// The one place a TARGET becomes a driver. Each capability folder provides its opener.
public func openTarget(_ address: TargetAddress, options: AttachOptions = AttachOptions()) throws -> TargetDriver {
    switch address {
    case .xen(let domain): return try openXenTarget(domain, address: address, options: options)
    case .core(let path): return try openCoreDumpTarget(path: path, address: address)
    case .gdb(let endpoint): return try openGDBTarget(endpoint, address: address, options: options)
    case .vmstate(let path): return try openMigrationStreamTarget(path: path, address: address)
    case .kvmVGIC(let path): return try openKVMVGICTarget(path: path, address: address)
    case .console(let path): return try openConsoleTarget(path: path, address: address)
    }
}
