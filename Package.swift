// swift-tools-version:6.1
// vmitools: coreutils-style virtual-machine introspection tools sharing one core library.
import PackageDescription

// Swift 5 language mode for now: the Xen and signal code shares C globals and raw pointers with
// libxen, and strict-concurrency annotations there would add noise without catching real races
// (every tool is single-threaded apart from the signal watcher in VMICLI).
let languageModes: [SwiftLanguageMode] = [.v5]

let tools = ["vmi-regs", "vmi-watch", "vmi-step", "vmi-evtchn", "vmi-gic-dump"]

var targets: [Target] = [
    // libxen headers. The module map names /usr/include/xenctrl.h by absolute path, so the module
    // is unavailable (canImport(CXen) == false) where libxen-dev is missing and the rest builds.
    .systemLibrary(name: "CXen", path: "Sources/CXen"),
    // GNU readline, linked only into vmi-step (GPL).
    .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
    .target(name: "VMICore", dependencies: ["CXen"], path: "Sources/VMICore"),
    .target(
        name: "VMICLI",
        dependencies: ["VMICore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
        path: "Sources/VMICLI"),
    // Fixture access and tool spawning shared by the test targets.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(name: "VMICoreTests", dependencies: ["VMICore", "TestSupport"], path: "Tests/VMICoreTests"),
    .testTarget(name: "CLITests", dependencies: ["VMICore", "TestSupport"], path: "Tests/CLITests"),
]
for tool in tools {
    var deps: [Target.Dependency] = ["VMICLI", "VMICore"]
    if tool == "vmi-step" { deps.append("CReadline") }
    targets.append(.executableTarget(name: tool, dependencies: deps, path: "Sources/\(tool)"))
}

let package = Package(
    name: "vmitools",
    products: tools.map { .executable(name: $0, targets: [$0]) } + [
        .library(name: "VMICore", targets: ["VMICore"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0")
    ],
    targets: targets,
    swiftLanguageModes: languageModes
)
