// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ScoreServe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "scoreserve", targets: ["scoreserve"]),
        .library(name: "ScoreCore", targets: ["ScoreCore"]),
        .library(name: "ScoreSampling", targets: ["ScoreSampling"]),
        .library(name: "ScoreBench", targets: ["ScoreBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        // C libraries, each behind one thin shim module.
        .systemLibrary(name: "CJansson", pkgConfig: "jansson",
                       providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // JSON values parsed by jansson, and a strict encoder.
        .target(name: "ScoreJSON", dependencies: ["CJansson"]),
        // Our own GEMM kernels (PackedLinear): optimised with FMA in every build, debug
        // included, since unoptimised SIMD code is a hundred times slower; on x86-64 that
        // means AVX2 + FMA (Haswell, 2013, and later; every x86-64-v3 machine).
        .target(name: "ScoreKernels"),
        // Tensors, kernels, RNG, model files, SDEs and score networks.
        .target(name: "ScoreCore", dependencies: ["COpenBLAS", "CZlib", "ScoreJSON", "ScoreKernels"]),

        // Samplers, ODE solvers, likelihoods and the Dispatch scheduler; no HTTP.
        .target(name: "ScoreSampling", dependencies: ["ScoreCore"]),

        // Denoising (and sliced) score matching: backward passes, Adam, EMA, data sets.
        .target(name: "ScoreTraining", dependencies: ["ScoreCore"]),

        // HTTP transport over libmicrohttpd: bytes, routing, suspend/resume; no models.
        .target(name: "ScoreHTTPTransport", dependencies: ["CMicroHTTPD"]),
        // The API: handlers, validation, admission, metrics, OpenAPI.
        .target(name: "ScoreHTTP", dependencies: [
            "ScoreHTTPTransport", "ScoreJSON", "ScoreCore", "ScoreSampling",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Benchmark workloads, the sgemm roofline and load generation (`scoreserve bench`).
        .target(name: "ScoreBench", dependencies: ["ScoreCore", "ScoreJSON", "ScoreSampling", "ScoreTraining"]),

        .executableTarget(name: "scoreserve", dependencies: [
            "ScoreBench", "ScoreCore", "ScoreJSON", "ScoreSampling", "ScoreHTTP", "ScoreHTTPTransport", "ScoreTraining",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "CLibraryTests", dependencies: ["CJansson", "CMicroHTTPD", "COpenBLAS"]),
        .testTarget(name: "ScoreJSONTests", dependencies: ["ScoreJSON"]),
        .testTarget(name: "ScoreKernelsTests", dependencies: ["ScoreKernels"]),
        .testTarget(name: "ScoreCoreTests", dependencies: ["ScoreCore", "ScoreJSON"]),
        .testTarget(name: "ScoreSamplingTests", dependencies: ["ScoreSampling", "ScoreCore"]),
        .testTarget(name: "ScoreTrainingTests", dependencies: ["ScoreTraining", "ScoreCore", "ScoreSampling"]),
        .testTarget(name: "ScoreHTTPTests", dependencies: [
            "ScoreHTTP", "ScoreHTTPTransport", "ScoreSampling", "ScoreCore", "ScoreJSON", "ScoreTraining",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)

// Kernel benchmarks (ordo-one/benchmark), kept out of the normal build and tests:
// `make bench-kernels` sets SCORESERVE_BENCHMARKS=1 and uses its own build folder.
if Context.environment["SCORESERVE_BENCHMARKS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1",
                                         traits: ["MallocInterposer"]))
    package.targets.append(.executableTarget(
        name: "KernelBenchmarks",
        dependencies: ["ScoreCore", "ScoreJSON", "ScoreSampling", .product(name: "Benchmark", package: "benchmark")],
        path: "Benchmarks/KernelBenchmarks",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
