import FuzzSupport
import VMICore

/// RSP framing: the decoder fed in chunks whose sizes come from the input, plus the hex helpers
/// used on packet bodies.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let first = input.first else { return 0 }
    let chunk = Int(first % 64) + 1
    var decoder = RSPDecoder(maxPacket: 4096)
    var i = 1
    loop: while i < input.count {
        decoder.feed(input[i..<min(i + chunk, input.count)])
        i += chunk
        do {
            while try decoder.next() != nil {}  // nil: needs more bytes
        } catch {
            break loop  // framing error: the connection is dropped
        }
    }
    let body = input.dropFirst()
    _ = RSP.hexDecode(body)
    _ = RSP.parseHex(body.prefix(20))
    _ = try? RSP.decodeBody(ArraySlice(body), limit: 4096)
    // frame then decode must give the payload back.
    var d = RSPDecoder(maxPacket: 1 << 20)
    d.feed(RSP.frame(body))
    if case .packet(let p)? = try? d.next() {
        require(p == Array(body), "RSP.frame/decode round trip")
    }
    return 0
}

fuzzMain(fuzz)
