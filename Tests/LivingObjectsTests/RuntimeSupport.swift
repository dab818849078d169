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
/// each test that uses it.
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
        return path
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

    override class func tearDown() {
        master?.remove()
        super.tearDown()
    }
}
