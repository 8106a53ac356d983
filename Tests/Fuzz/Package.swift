// swift-tools-version:6.1
// libFuzzer targets for every parser of hostile input in VMICore, kept out of the main package
// (like Benchmarks/) so the tools' build never sees sanitizer flags. Build and run with
// `Tests/Fuzz/run.sh [SECONDS] [TARGET...]`, which passes `-Xswiftc -sanitize=fuzzer,address`.
// No -parse-as-library: SwiftPM renames each executable's entry point, so libFuzzer's main() is
// not used; each target's top-level code calls FuzzSupport.fuzzMain (LLVMFuzzerRunDriver).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory (a checkout need not be called
/// "vmitools"), so the product is looked up under that name. VMITOOLS_ROOT overrides the path: a
/// root directory named "fuzz" would clash with this package's own identity (run.sh then points
/// it through a symlink).
let rootPath = ProcessInfo.processInfo.environment["VMITOOLS_ROOT"] ?? "../.."
let root = URL(fileURLWithPath: rootPath, relativeTo: URL(fileURLWithPath: #filePath).deletingLastPathComponent())
    .standardizedFileURL.lastPathComponent.lowercased()

/// One executable per parser; the name is also the corpus/regression folder name.
let fuzzTargets = [
    "fuzz-coredump", "fuzz-migration", "fuzz-rsp", "fuzz-stopreply", "fuzz-targetxml",
    "fuzz-console-e", "fuzz-console-q", "fuzz-kvm-vgic", "fuzz-pagewalk", "fuzz-eventwords",
    "fuzz-json", "fuzz-spec", "fuzz-ndjson",
]

let package = Package(
    name: "vmitools-fuzz",
    dependencies: [.package(path: rootPath)],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "VMICore", package: root)],
            path: "Targets/FuzzSupport")
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "VMICore", package: root)],
            path: "Targets/\(name)")
    },
    swiftLanguageModes: [.v5]
)
