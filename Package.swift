// swift-tools-version:6.2
import PackageDescription

// The VM core is built for speed in every configuration: no exclusivity checks in the interpreter loop.
// And threaded dispatch: LLVM copies the interpreter's dispatch (load the next opcode, jump through the
// table) into the end of every instruction's code instead of sharing one copy, so that each instruction
// has its own indirect jump, which the CPU predicts from where it is — what computed goto gives a C
// interpreter. Its tail duplication skips blocks with more than 16 predecessors or successors; the
// dispatch block has about a hundred of each, hence the limits (bench/RESULTS.md, sixth session).
let vmCoreSettings: [SwiftSetting] = [.unsafeFlags([
    "-enforce-exclusivity=unchecked",
    "-Xllvm", "-tail-dup-pred-size=1000", "-Xllvm", "-tail-dup-succ-size=1000",
    // Every function starts on a 64-byte line, so that where the loop's hot blocks fall does not move
    // with unrelated code before it (±9% in time on Queens with identical instructions, thirteenth session).
    "-Xllvm", "-align-all-functions=6",
])]
// No exclusivity checks in the image layer and the store either: their commits and loads touch the
// session's maps once per object.
let imageSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "LivingObjects",
    products: [
        .library(name: "LivingObjects", targets: ["LivingObjects"]),
        .executable(name: "lo", targets: ["lo"]),
        .executable(name: "store-bench", targets: ["store-bench"]),
        .executable(name: "image-bench", targets: ["image-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
    ],
    targets: [
        // The VM core: object memory, GC, interpreter, primitives, processes. One module.
        .target(name: "VMCore", dependencies: [.product(name: "BigInt", package: "BigInt")],
                swiftSettings: vmCoreSettings),
        // Smalltalk source -> bytecode (parser, scopes, code generator, diagnostics).
        .target(name: "Compiler", dependencies: ["VMCore"]),
        // Tonel and chunk (file-in/file-out) source formats: read and write.
        .target(name: "SourceFormats"),
        // The embeddable API: Runtime, bootstrap from kernel sources or opening an image, file-in, evaluation.
        .target(name: "LivingObjects", dependencies: ["VMCore", "Compiler", "SourceFormats", "Store"],
                swiftSettings: imageSettings),
        // Line editing and history for `lo repl` (Debian: libedit-dev).
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // The image store: versioned objects, commits, history on SQLite (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The page shared by a store's writers for group commit across processes: atomics, a robust mutex, a futex.
        .target(name: "CGroupSync"),
        .target(name: "Store", dependencies: ["CSQLite", "CGroupSync"], swiftSettings: imageSettings),
        // A child process for the store's crash test: commits in a loop until killed (and holds the
        // shared sync mutex until killed, for the group-sync tests).
        .executableTarget(name: "store-torture", dependencies: ["Store", "CGroupSync"]),
        // Store figures: bulk create, cold traversal, bytes per object, commit rates; image commits (bench/RESULTS.md).
        .executableTarget(name: "store-bench", dependencies: ["Store", "LivingObjects", "VMCore"], path: "bench/store",
                          exclude: ["shim"]),  // an LD_PRELOAD fsync shim in C, built by hand
        // Lazy images: opening an image of millions of objects, loading them through the VM (bench/RESULTS.md).
        .executableTarget(name: "image-bench", dependencies: ["LivingObjects", "Store", "VMCore"], path: "bench/image"),
        .executableTarget(name: "lo", dependencies: [
            "LivingObjects", "Store", "CEditLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "VMCoreTests", dependencies: ["VMCore"]),
        .testTarget(name: "CompilerTests", dependencies: ["Compiler"]),
        .testTarget(name: "SourceFormatsTests", dependencies: ["SourceFormats"]),
        .testTarget(name: "LivingObjectsTests", dependencies: ["LivingObjects", "Store"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
    ]
)
