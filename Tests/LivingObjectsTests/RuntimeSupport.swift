import Foundation
import XCTest
import LivingObjects
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
