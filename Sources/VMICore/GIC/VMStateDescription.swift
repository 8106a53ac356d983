/// The JSON description QEMU appends to a migration stream (QEMU_VM_VMDESCRIPTION, written by
/// migration/savevm.c and migration/vmstate.c vmsd_desc_field_start/end): for every device
/// section, its fields in stream order with name, type, element size, array length, nested
/// structs and the subsections that were sent. It is what lets us walk sections generically.
///
/// The description is input like any other: sizes, counts and nesting are checked against limits
/// and against the stream's own length before anything is read with them.
struct VMStateDescription {
    struct Field {
        var name: String
        var type: String
        /// Bytes per element (struct elements: the bytes written for that element, informational).
        var size: Int
        /// Elements in a row (1 for a scalar).
        var count: Int
        var structure: Section?
    }

    /// A VMStateDescription as sent: fields then optional subsections.
    final class Section {
        let name: String
        let version: Int
        let fields: [Field]
        let subsections: [Section]

        init(name: String, version: Int, fields: [Field], subsections: [Section]) {
            self.name = name
            self.version = version
            self.fields = fields
            self.subsections = subsections
        }
    }

    struct Device {
        var name: String
        var instanceID: UInt32
        /// nil when QEMU described the device without fields (nothing lets us step over it).
        var section: Section?
    }

    var pageSize: Int?
    var devices: [Device]
    /// Newer QEMU describes the configuration section too; 7.2 does not.
    var configuration: Section?

    /// Largest vmdesc accepted; QEMU's for a whole virt machine is ~25 KiB.
    static let maxJSONBytes = 16 << 20
    static let maxElements = 1 << 24
    static let maxNodes = 1 << 20

    func device(_ name: String, instance: UInt32) -> Device? {
        devices.first { $0.name == name && $0.instanceID == instance }
    }

    init(json text: [UInt8], streamSize: Int) throws {
        let root = try JSONValue.parse(text)
        var budget = Self.maxNodes
        guard case .object = root else { throw Self.bad("not a JSON object") }
        if let p = root["page_size"] {
            guard let n = Self.int(p), n >= 512, n <= 1 << 16, n & (n - 1) == 0 else {
                throw Self.bad("page_size is not a power of two between 512 and 65536")
            }
            pageSize = n
        }
        guard case .array(let devs)? = root["devices"] else { throw Self.bad("no 'devices' array") }
        devices = try devs.map { d in
            guard let name = d["name"]?.stringValue else { throw Self.bad("device without a name") }
            guard let inst = d["instance_id"].flatMap(Self.int), inst >= 0, inst <= Int(UInt32.max) else {
                throw Self.bad("device '\(name)' without a valid instance_id")
            }
            let section =
                d["fields"] == nil
                ? nil : try Self.section(d, name: d["vmsd_name"]?.stringValue ?? name, streamSize, &budget)
            return Device(name: name, instanceID: UInt32(inst), section: section)
        }
        if let c = root["configuration"] {
            configuration = try Self.section(c, name: "configuration", streamSize, &budget)
        }
    }

    static func bad(_ why: String) -> VMIError { VMIError("invalid vmdesc: \(why)") }

    static func int(_ v: JSONValue) -> Int? {
        if case .number(let s) = v { return Int(s) }
        return nil
    }

    static func section(_ v: JSONValue, name: String, _ streamSize: Int, _ budget: inout Int) throws -> Section {
        budget -= 1
        guard budget > 0 else { throw bad("too many fields") }
        var fields: [Field] = []
        if case .array(let list)? = v["fields"] {
            for f in list { fields.append(try field(f, in: name, streamSize, &budget)) }
        } else if v["fields"] != nil {
            throw bad("'\(name)': fields is not an array")
        }
        var subs: [Section] = []
        if case .array(let list)? = v["subsections"] {
            for s in list {
                guard let sname = s["vmsd_name"]?.stringValue else { throw bad("'\(name)': subsection without a name") }
                subs.append(try section(s, name: sname, streamSize, &budget))
            }
        }
        let version = v["version"].flatMap(int) ?? 0
        return Section(name: name, version: version, fields: fields, subsections: subs)
    }

    static func field(_ f: JSONValue, in owner: String, _ streamSize: Int, _ budget: inout Int) throws -> Field {
        budget -= 1
        guard budget > 0 else { throw bad("too many fields") }
        guard let name = f["name"]?.stringValue, let type = f["type"]?.stringValue else {
            throw bad("'\(owner)': field without name or type")
        }
        let size = f["size"].flatMap(int) ?? -1
        let count = f["array_len"].flatMap(int) ?? 1
        guard size >= 0, size <= streamSize else { throw bad("'\(owner).\(name)': size \(size) out of range") }
        guard count >= 0, count <= maxElements else {
            throw bad("'\(owner).\(name)': array_len \(count) out of range")
        }
        var structure: Section?
        if type == "struct" {
            guard let s = f["struct"] else { throw bad("'\(owner).\(name)': struct without description") }
            structure = try section(s, name: s["vmsd_name"]?.stringValue ?? name, streamSize, &budget)
        } else if count.multipliedReportingOverflow(by: size).overflow || count * size > streamSize {
            throw bad("'\(owner).\(name)': \(count) x \(size) bytes is more than the stream holds")
        }
        return Field(name: name, type: type, size: size, count: count, structure: structure)
    }
}
