/// The HVM save image `xc_domain_hvm_getcontext` returns and `xc_domain_hvm_setcontext` takes:
/// records of `struct hvm_save_descriptor { u16 typecode; u16 instance; u32 length; }` followed
/// by `length` bytes, ending with an END record (typecode 0). See xen/include/public/hvm/save.h.
///
/// Register writes load a minimal image (HEADER, the one vCPU's CPU record, END): loading the
/// full image back also reloads the LAPIC and timers and was seen to hang a guest for good
/// (notes/amd-single-step.md).
public enum HVMSaveImage {
    public static let end: UInt16 = 0
    public static let header: UInt16 = 1
    public static let cpu: UInt16 = 2
    static let descriptorSize = 8

    public struct Record: Equatable, Sendable {
        public var typecode: UInt16
        public var instance: UInt16
        public var payload: [UInt8]

        public init(typecode: UInt16, instance: UInt16, payload: [UInt8]) {
            self.typecode = typecode
            self.instance = instance
            self.payload = payload
        }
    }

    /// Splits an image into records up to (not including) END. Every length is checked against
    /// the bytes that remain.
    public static func records(_ image: [UInt8]) throws -> [Record] {
        var out: [Record] = []
        var at = 0
        while at + descriptorSize <= image.count {
            let typecode = UInt16(image[at]) | UInt16(image[at + 1]) << 8
            let instance = UInt16(image[at + 2]) | UInt16(image[at + 3]) << 8
            let length = (0..<4).reduce(0) { $0 | Int(image[at + 4 + $1]) << (8 * $1) }
            at += descriptorSize
            if typecode == end { return out }
            guard length <= image.count - at else {
                throw VMIError("HVM save image: record \(typecode)/\(instance) overruns the image")
            }
            out.append(Record(typecode: typecode, instance: instance, payload: Array(image[at..<at + length])))
            at += length
        }
        throw VMIError("HVM save image: no END record")
    }

    public static func find(_ records: [Record], typecode: UInt16, instance: UInt16) throws -> Record {
        guard let r = records.first(where: { $0.typecode == typecode && $0.instance == instance }) else {
            throw VMIError("HVM save image has no record \(typecode) instance \(instance)")
        }
        return r
    }

    /// `gtsc_khz` of a HEADER record (`struct hvm_save_header { u32 magic, version; u64
    /// changeset; u32 cpuid, gtsc_khz; }`): the guest's TSC frequency.
    public static func guestTSCkHz(header: Record) throws -> UInt32 {
        guard header.typecode == HVMSaveImage.header, header.payload.count >= 24 else {
            throw VMIError("HVM save image: bad HEADER record")
        }
        return (0..<4).reduce(0) { $0 | UInt32(header.payload[20 + $1]) << (8 * $1) }
    }

    /// Builds an image of `records` followed by END.
    public static func build(_ records: [Record]) -> [UInt8] {
        var out: [UInt8] = []
        func descriptor(_ t: UInt16, _ i: UInt16, _ length: Int) {
            out += [UInt8(t & 0xff), UInt8(t >> 8), UInt8(i & 0xff), UInt8(i >> 8)]
            out += (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
        }
        for r in records {
            descriptor(r.typecode, r.instance, r.payload.count)
            out += r.payload
        }
        descriptor(end, 0, 0)
        return out
    }
}
