/// Bounds-checked little- or big-endian reads from a borrowed byte range (a mapped dump, a note).
///
/// Every accessor returns nil (or throws `ByteView.OutOfBounds`) instead of reading past the end,
/// so decoders of hostile input cannot fault; offsets are checked for overflow before use.
public struct ByteView {
    public let raw: UnsafeRawBufferPointer
    public var bigEndian: Bool

    public init(_ raw: UnsafeRawBufferPointer, bigEndian: Bool = false) {
        self.raw = raw
        self.bigEndian = bigEndian
    }

    public var count: Int { raw.count }

    public struct OutOfBounds: Error, Equatable {
        public var offset: UInt64
        public var length: UInt64
    }

    /// True when `[offset, offset + length)` lies inside the view (no overflow).

    public func contains(offset: UInt64, length: UInt64) -> Bool {
        offset <= UInt64(raw.count) && length <= UInt64(raw.count) - offset
    }

    /// A sub-view; throws when the range is not inside this one.
    public func slice(offset: UInt64, length: UInt64) throws -> ByteView {
        guard contains(offset: offset, length: length) else { throw OutOfBounds(offset: offset, length: length) }
        let start = raw.baseAddress.map { $0 + Int(offset) }
        return ByteView(UnsafeRawBufferPointer(start: start, count: Int(length)), bigEndian: bigEndian)
    }

    func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) throws -> T {
        guard offset >= 0, contains(offset: UInt64(offset), length: UInt64(MemoryLayout<T>.size)) else {
            throw OutOfBounds(offset: UInt64(max(offset, 0)), length: UInt64(MemoryLayout<T>.size))
        }
        let v = raw.loadUnaligned(fromByteOffset: offset, as: T.self)
        return bigEndian ? T(bigEndian: v) : T(littleEndian: v)
    }

    public func u8(_ offset: Int) throws -> UInt8 { try load(offset, as: UInt8.self) }
    public func u16(_ offset: Int) throws -> UInt16 { try load(offset, as: UInt16.self) }
    public func u32(_ offset: Int) throws -> UInt32 { try load(offset, as: UInt32.self) }
    public func u64(_ offset: Int) throws -> UInt64 { try load(offset, as: UInt64.self) }

    /// Bytes up to the first NUL (or the end), decoded leniently as UTF-8.
    public func cString(_ offset: Int, maxLength: Int) -> String {
        guard offset >= 0, offset < raw.count else { return "" }
        let end = min(raw.count, offset + max(0, maxLength))
        var stop = offset
        while stop < end && raw[stop] != 0 { stop += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[offset..<stop]), as: UTF8.self)
    }

    /// A copy of `[offset, offset + length)`.
    public func copyBytes(offset: UInt64, length: Int) throws -> [UInt8] {
        let s = try slice(offset: offset, length: UInt64(length))
        return Array(s.raw)
    }
}
