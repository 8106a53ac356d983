// swift-tools-version:6.1
// Release-mode benchmarks for the figures in DESIGN.md, kept out of the main package so the
// tools' build and manual generation never see them. Run: `make bench` (or
// `swift run -c release --package-path Benchmarks vmi-bench [NAME...]`).
import PackageDescription

let package = Package(
    name: "vmitools-benchmarks",
    dependencies: [.package(name: "vmitools", path: "..")],
    targets: [
        .executableTarget(
            name: "vmi-bench",
            dependencies: [.product(name: "VMICore", package: "vmitools")],
            path: "VMIBench")
    ],
    swiftLanguageModes: [.v5]
)
