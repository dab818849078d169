import Foundation
import XCTest
import LivingObjects
import Store
import VMCore

/// A runtime on the repository's kernel whose standard output and error are captured.
final class CapturingRuntime: @unchecked Sendable {
    let rt: Runtime
    var out = ""
    var err = ""

    init(configuration: VMConfiguration = VMConfiguration()) throws {
        let kernel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("kernel").path
        rt = try Runtime(kernelDirectory: kernel, configuration: configuration)
        rt.vm.writeOut = { [unowned self] in self.out += $0 }
        rt.vm.writeErr = { [unowned self] in self.err += $0 }
    }

    func print(_ source: String) throws -> String { try rt.evaluateAndPrint(source) }
}

/// One shared runtime for tests that do not change global state.
enum Shared {
    nonisolated(unsafe) private static var made: CapturingRuntime?
    static func runtime() throws -> CapturingRuntime {
        if let made { return made }
        let r = try CapturingRuntime()
        made = r
        return r
    }
}

/// Hands a value to another thread in a test (the test itself keeps the accesses apart).
final class Unchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A test case with a fresh directory under the system's temporary folder for each test.
class TemporaryDirectoryTestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lo-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
        try super.tearDownWithError()
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// An image made from the kernel and committed once (that bootstraps the kernel), then copied for
/// each test that uses it. It is removed when the test process exits (or by `remove`), so test classes
/// that share it make it once.
final class MasterImage: @unchecked Sendable {
    private let message: String
    private let make: (CapturingRuntime) throws -> Void
    private var directory: URL?

    init(_ message: String, make: @escaping (CapturingRuntime) throws -> Void) {
        self.message = message
        self.make = make
    }

    func copy(to path: String) throws {
        try SQLiteStore.open(path: try master()).backup(to: path)
    }

    /// Removes the image the copies are made from.
    func remove() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        directory = nil
    }

    private func master() throws -> String {
        if let directory { return directory.appendingPathComponent("master.lo").path }
        let made = FileManager.default.temporaryDirectory.appendingPathComponent("lo-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
        let path = made.appendingPathComponent("master.lo").path
        let c = try CapturingRuntime()
        try make(c)
        try c.rt.commitImage(toPath: path, message: message)
        directory = made
        MasterImage.removeAtExit(made)
        return path
    }

    nonisolated(unsafe) private static var made: [URL] = []
    private static let registerCleanup: Void = {
        atexit { for directory in MasterImage.made { try? FileManager.default.removeItem(at: directory) } }
    }()

    private static func removeAtExit(_ directory: URL) {
        _ = registerCleanup
        made.append(directory)
    }
}

/// A test case whose tests each get their own copy (`image`) of one master image.
class MasterImageTestCase: TemporaryDirectoryTestCase {
    /// The image copied for each test (each subclass names its own).
    class var master: MasterImage? { nil }
    private(set) var image: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        image = path("image.lo")
        try Self.master?.copy(to: image)
    }

    /// The image opened, loading only what is used (no prefetching, so that counts are exact), with a
    /// heap limit in bytes if one is given.
    func openedWithoutPrefetching(heapLimit: Int? = nil) throws -> CapturingImage {
        let image = try opened(heapLimit: heapLimit)
        image.rt.prefetchCount = 0
        return image
    }

    /// The image opened with a heap limit in bytes, if one is given.
    func opened(heapLimit: Int?) throws -> CapturingImage {
        var configuration = VMConfiguration()
        if let heapLimit { configuration.heapLimitBytes = heapLimit }
        return try CapturingImage(path: image, configuration: configuration)
    }

    /// Slot `i` of the global `name`'s value, without loading the object there.
    func element(_ image: CapturingImage, _ name: String, _ i: Int) throws -> Oop {
        image.rt.vm.fetchSlot(try XCTUnwrap(image.rt.global(name)), i)
    }
}

/// The `lo` executable built beside the tests, run as a child process with the repository's kernel
/// and no LO_IMAGE.
enum LoProcess {
    static func executable() throws -> URL {
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<3 {
            let lo = folder.appendingPathComponent("lo")
            if FileManager.default.isExecutableFile(atPath: lo.path) { return lo }
            folder.deleteLastPathComponent()
        }
        throw XCTSkip("lo is not built beside the tests (swift build --product lo)")
    }

    /// `lo` with these arguments, to run in `directory`, not started yet.
    static func make(_ arguments: [String], in directory: URL, environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["LO_IMAGE"] = nil
        environment["LO_KERNEL"] = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("kernel").path
        environment.merge(extra) { $1 }
        process.environment = environment
        return process
    }

    /// Runs `lo` in `directory` with `input` on stdin: (exit status, stdout, stderr).
    static func run(_ arguments: [String], in directory: URL, input: String = "",
                    environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let process = try make(arguments, in: directory, environment: environment)
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, out, err)
    }
}
