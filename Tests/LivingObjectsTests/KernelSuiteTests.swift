import XCTest
@testable import LivingObjects

/// The kernel's own SUnit suite, run inside the VM.
final class KernelSuiteTests: XCTestCase {
    func testEveryKernelTestPasses() throws {
        let c = try CapturingRuntime()
        XCTAssertTrue(c.rt.bootstrapDiagnostics.isEmpty, "kernel compiles cleanly: \(c.rt.bootstrapDiagnostics)")
        let failed = try c.print("TestRunner runAll")
        let summary = c.out.split(separator: "\n").last.map(String.init) ?? ""
        print(c.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") || $0.hasPrefix("ERROR") }.joined(separator: "\n"))
        print(summary)
        XCTAssertEqual(failed, "0", c.out)
        let passed = Int(summary.split(separator: " ").first ?? "") ?? 0
        XCTAssertGreaterThan(passed, 800, "the suite really ran: \(summary)")
        XCTAssertTrue(summary.hasSuffix("passed, 0 failed"))
    }
}
