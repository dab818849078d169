import Foundation
import XCTest
@testable import LivingObjects

/// The short mode of the benchmark suite: every AWFY benchmark verifies its result once.
final class BenchmarkSuiteTests: XCTestCase {
    func testEveryBenchmarkVerifiesItsResult() throws {
        let c = try CapturingRuntime()
        let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/AWFY").path
        let report = c.rt.fileIn(path: suite)
        XCTAssertTrue(report.diagnostics.isEmpty && !report.failed, "\(report.diagnostics)")
        let names = try c.print("((Benchmark allSubclasses reject: [:b | b isAbstract]) collect: [:b | b name]) asArray")
        XCTAssertNotEqual(names, "#()", "the suite defines benchmarks")
        let failures = try c.print("""
            ((Benchmark allSubclasses reject: [:b | b isAbstract])
                reject: [:b | b new innerBenchmarkLoop: b verificationInnerIterations]) collect: [:b | b name]
            """)
        XCTAssertEqual(failures, "an OrderedCollection()", "benchmarks that failed their check; suite: \(names)")
    }
}
