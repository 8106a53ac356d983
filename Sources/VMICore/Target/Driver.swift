/// What a target can do. Tools check for the protocol they need (`RegisterReader`, ...) and fail
/// with `VMIError.unsupported` naming both the target and the reason when it is missing.
public protocol TargetDriver: AnyObject {
    var address: TargetAddress { get }
    /// The identity that each record carries: a Xen domid, or the target string.
    var recordIdentity: RecordIdentity { get }
    /// Short reason given when a capability is missing: "offline dump", "QEMU gdbstub", ...
    var kindDescription: String { get }
    /// Undoes every change made to the guest and releases every handle. Idempotent.
    func close()
}

/// How records name their source: `"domid":5` for Xen, `"target":"core:x.core"` otherwise.
public enum RecordIdentity: Equatable, Sendable {
    case domid(Int)
    case target(String)

    @inlinable
    public func write(to line: inout JSONLine) {
        switch self {
        case .domid(let d): line.field("domid", d)
        case .target(let t): line.field("target", t)
        }
    }
}

public protocol RegisterReader: TargetDriver {
    /// vCPU ids this target knows, in order.
    func vcpus() throws -> [Int]
    func registers(vcpu: Int) throws -> RegisterSet
}

public protocol RegisterWriter: TargetDriver {
    /// Writes the named registers of one vCPU (the rest stay as they are).
    func setRegisters(vcpu: Int, _ values: [(name: String, value: UInt64)]) throws
}

/// Guest-physical memory access.
public protocol PhysicalMemory: AnyObject {
    /// Reads `count` bytes at guest-physical `address`; throws for unbacked addresses.
    func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8]
}

extension TargetDriver {
    /// Casts to a capability or throws the standard "cannot X: reason" error.
    public func require<T>(_ type: T.Type, to action: String) throws -> T {
        if let t = self as? T { return t }
        throw VMIError.unsupported(address, action, because: kindDescription)
    }
}
