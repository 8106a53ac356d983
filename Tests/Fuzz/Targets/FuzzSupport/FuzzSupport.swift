import Foundation
import VMICore

/// The fuzzer's input as a byte array.
public func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// The input as text, as the tools see it (invalid UTF-8 repaired, like `String(decoding:)`).
public func text(_ data: UnsafePointer<UInt8>, _ size: Int) -> String {
    String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
}

/// Writes the input to one temp file per process (parsers that take a path map the file) and
/// calls `body` with its path. /dev/shm when present: no disk traffic per execution.
public func withTempFile(_ data: UnsafePointer<UInt8>, _ size: Int, _ body: (String) throws -> Void) {
    let path = tempPath
    guard let f = fopen(path, "wb") else { fatalError("fuzz: cannot create \(path)") }
    if size > 0 { _ = fwrite(data, 1, size, f) }
    fclose(f)
    _ = try? body(path)
}

private let tempPath: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(dir)/vmitools-fuzz-\(getpid())"
    atexit { unlink("/dev/shm/vmitools-fuzz-\(getpid())") }
    return path
}()

/// An invariant of the code under test: a violation crashes so libFuzzer reports the input.
public func require(_ ok: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !ok() { fatalError("fuzz invariant violated: \(what())") }
}

// SwiftPM links each executable with its entry point renamed to `<module>_main` (and `main`
// defined as that symbol), so libFuzzer's own main() is never pulled from its archive: each
// target's top-level code calls `fuzzMain`, which hands control to libFuzzer's driver. The
// LLVMFuzzerTestOneInput symbol each target also exports keeps it buildable with plain
// `swiftc -sanitize=fuzzer -parse-as-library`.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

private var target: ((UnsafePointer<UInt8>, Int) -> CInt)?
private var empty: UInt8 = 0

/// Runs libFuzzer (argv as given to the process) on `body`, then exits with its status.
public func fuzzMain(_ body: @escaping (UnsafePointer<UInt8>, Int) -> CInt) -> Never {
    target = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let rc = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        if let data { return target!(data, size) }
        return withUnsafePointer(to: &empty) { target!($0, 0) }
    }
    exit(rc)
}
