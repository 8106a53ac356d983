#if canImport(Glibc)
import Glibc
#endif

/// A value in an event record, typed by the JSON contract (64-bit quantities as hex strings).
public enum EventValue: Equatable, Sendable {
    case hex(UInt64)
    case int(Int)
    case bool(Bool)
    case string(String)
    case bytes([UInt8])
}

/// One event as it happened. Kind-specific fields are an ordered list of (snake_case key, value)
/// so each driver adds what its hypervisor reports (`old`/`new` for control registers,
/// `leaf`/`subleaf`/`eax`.. for CPUID, `gfn`/`gla`/`access` for memory, `vector`/`type` for
/// interrupts) without a shared enum to edit for every kind.
public struct VMEvent: Sendable {
    /// The spec kind's spelling (`cr3`, `cpuid`, `breakpoint`, ...).
    public var kind: String
    public var vcpu: Int
    public var timestamp: Timestamp
    var details: Details

    /// Where the kind-specific fields come from.
    enum Details: Sendable {
        /// Listed by the driver (gdb stops, tests).
        case list([(key: StaticString, value: EventValue)])
        #if canImport(CXen)
        /// A Xen vm_event request, decoded whenever the fields are read: vmi-watch's path from
        /// ring slot to written line allocates nothing per event.
        case xen(XenEventFields)
        #endif
    }

    public init(kind: String, vcpu: Int, timestamp: Timestamp = .now(), fields: [(key: StaticString, value: EventValue)] = []) {
        self.init(kind: kind, vcpu: vcpu, timestamp: timestamp, details: .list(fields))
    }

    init(kind: String, vcpu: Int, timestamp: Timestamp, details: Details) {
        self.kind = kind
        self.vcpu = vcpu
        self.timestamp = timestamp
        self.details = details
    }

    /// The kind-specific fields, in record order.
    public var fields: [(key: StaticString, value: EventValue)] {
        var list = FieldList()
        visitFields(&list)
        return list.fields
    }

    public func value(_ key: String) -> EventValue? {
        var lookup = FieldLookup(key: key)
        visitFields(&lookup)
        return lookup.value
    }

    /// Hands each kind-specific field to `visitor`, in record order.
    func visitFields<V: EventFieldVisitor>(_ visitor: inout V) {
        switch details {
        case .list(let fields):
            for (key, value) in fields { visitor.visit(key, value) }
        #if canImport(CXen)
        case .xen(let request):
            request.visitFields(&visitor)
        #endif
        }
    }

    /// `{"type":"event","ts":"...","domid":5,"vcpu":0,"event":"cr3","old":"0x...",...}`
    ///
    /// Everything after `"type"` in one reservation (one capacity check per record, not per
    /// field): vmi-watch writes a line per event. A gdb target names itself by a string, which
    /// goes in its own piece.
    public func write(identity: RecordIdentity, to line: inout JSONLine) {
        var domid: Int?
        if case .domid(let d) = identity { domid = d } else {
            line.timestamp(timestamp)
            identity.write(to: &line)
        }
        var cache = line.timeCache
        var kind = self.kind
        kind.withUTF8 { kindUTF8 in
            let bound = (7 + Timestamp.rfc3339Count) + (8 + maxDecimalCount) + (7 + maxDecimalCount)
                + (8 + quotedCount(kindUTF8)) + fieldsMaxCount
            line.bytes.appendReserved(upTo: bound) { out in
                if let domid {
                    out.appendKey("ts")
                    out.appendTimestamp(timestamp, cache: &cache)
                    out.appendKey("domid")
                    out.appendDecimal(domid)
                }
                out.appendKey("vcpu")
                out.appendDecimal(vcpu)
                out.appendKey("event")
                out.appendQuoted(kindUTF8)
                visitFields(&out)
            }
        }
        line.timeCache = cache
    }

    /// The most bytes the kind-specific fields take in a line: a Xen request's fixed bound, or
    /// counted field by field.
    var fieldsMaxCount: Int {
        switch details {
        #if canImport(CXen)
        case .xen: return XenEventFields.maxCount
        #endif
        default:
            var bound = FieldsMaxCount()
            visitFields(&bound)
            return bound.count
        }
    }
}

/// Receives an event's kind-specific fields, one at a time in record order.
protocol EventFieldVisitor {
    mutating func visit(_ key: StaticString, _ value: EventValue)
}

/// Writes `,"key":value` as `JSONLine`'s field methods do, in bytes reserved for
/// `FieldsMaxCount` of the fields.
extension ReservedBytes: EventFieldVisitor {
    /// Inlined into each call site of `visitFields`: the key's length and the value's case are
    /// then constants, and a field is a few stores.
    @inline(__always)
    mutating func visit(_ key: StaticString, _ value: EventValue) {
        appendKey(key)
        switch value {
        case .hex(let v): appendHexString(v)
        case .int(let v): appendDecimal(v)
        case .bool(let v): appendBool(v)
        case .string(var v): v.withUTF8 { appendQuoted($0) }
        case .bytes(let v): appendHexBytes(v)
        }
    }
}

/// The most bytes `ReservedBytes.visit` writes for the fields visited.
struct FieldsMaxCount: EventFieldVisitor {
    var count = 0
    mutating func visit(_ key: StaticString, _ value: EventValue) {
        count += 4 + key.utf8CodeUnitCount  // ,"key":
        switch value {
        case .hex: count += maxHexStringCount
        case .int: count += maxDecimalCount
        case .bool: count += 5
        case .string(let v): count += 2 + 6 * v.utf8.count  // every byte escaped as \u00XX
        case .bytes(let v): count += 2 + 2 * v.count
        }
    }
}

private struct FieldList: EventFieldVisitor {
    var fields: [(key: StaticString, value: EventValue)] = []
    mutating func visit(_ key: StaticString, _ value: EventValue) { fields.append((key, value)) }
}

private struct FieldLookup: EventFieldVisitor {
    let key: String
    var value: EventValue?
    mutating func visit(_ key: StaticString, _ value: EventValue) {
        if self.value == nil, key.description == self.key { self.value = value }
    }
}

/// How a listen loop should go on after an event.
public enum ListenDecision: Sendable {
    case next
    case stop
}

public struct ListenOptions: Sendable {
    /// Only events of this vCPU (others are answered at once and not reported).
    public var vcpu: Int?
    /// Keep the vCPU paused until the event was written (synchronous); default: observe and resume.
    public var sync: Bool
    /// Absolute deadline on CLOCK_MONOTONIC, seconds; nil = none.
    public var deadline: Double?
    /// Readable when the user asked to stop (VMICLI's Signals.wakeFD); -1 = none.
    public var stopFD: Int32
    /// Xen: reclaim a monitor ring a killed listener left enabled (`--force`).
    public var force: Bool

    public init(vcpu: Int? = nil, sync: Bool = false, deadline: Double? = nil, stopFD: Int32 = -1, force: Bool = false) {
        self.vcpu = vcpu
        self.sync = sync
        self.deadline = deadline
        self.stopFD = stopFD
        self.force = force
    }
}

/// A target that can deliver VM events (Xen vm_event ring, gdb breakpoints and watchpoints).
public protocol EventMonitor: TargetDriver {
    /// Throws one clear error for the first spec this target cannot deliver, naming the kind
    /// and why (`xen:web01 cannot watch mem: mem_access needs Intel EPT`). Called before any
    /// change is made to the guest.
    func check(_ specs: [EventSpec]) throws

    /// Registers `specs`, hands each event to `handler` until it says `.stop`, the deadline
    /// passes or `stopFD` becomes readable, then undoes every registration (events off, ring
    /// drained and answered, breakpoints removed, guest running) before returning or throwing.
    /// `caughtUp` runs whenever the events handed over so far are all there is (a ring drained,
    /// a stop reported; with `sync`, before the vCPU resumes): the moment to write them out.
    func listen(
        _ specs: [EventSpec], options: ListenOptions, caughtUp: () throws -> Void,
        handler: (VMEvent) throws -> ListenDecision) throws
}

extension EventMonitor {
    public func listen(_ specs: [EventSpec], options: ListenOptions, handler: (VMEvent) throws -> ListenDecision) throws
    {
        try listen(specs, options: options, caughtUp: {}, handler: handler)
    }
}

/// Seconds on CLOCK_MONOTONIC, for deadlines.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
