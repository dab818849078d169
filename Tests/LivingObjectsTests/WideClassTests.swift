import Foundation
import XCTest
import LivingObjects

/// Classes with tens of thousands of instance variables (the format allows 65535): defining and
/// reshaping them takes time linear in their names, and more than the limit is refused at once. The
/// name checks compared every name with every other before (10,000 names took minutes in a debug build).
final class WideClassTests: XCTestCase {
    /// Evaluates `source` and answers its printString; fails the test (interrupting the evaluation as
    /// Ctrl-C does) if it takes more than `limit` seconds.
    private func print(_ c: CapturingRuntime, within limit: TimeInterval, _ source: String,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let finished = DispatchSemaphore(value: 0), watchdogDone = DispatchSemaphore(value: 0)
        let flag = Unchecked(c.rt.vm.interruptFlag), expired = Unchecked(false)
        Thread {
            if finished.wait(timeout: .now() + limit) == .timedOut { expired.value = true; flag.value.pointee = 1 }
            watchdogDone.signal()
        }.start()
        let start = Date()
        defer {
            finished.signal()
            watchdogDone.wait()
            c.rt.vm.interruptFlag.pointee = 0
            XCTAssertFalse(expired.value, "interrupted after \(Date().timeIntervalSince(start)) s: \(source)", file: file, line: line)
        }
        return try c.print(source)
    }

    func testWideClassesAreDefinedReshapedAndRefusedQuickly() throws {
        let c = try CapturingRuntime()
        _ = try c.rt.evaluate("Smalltalk at: #WideNames put: ((1 to: 70000) collect: [:i | ('v' , i printString) asSymbol])")

        XCTAssertEqual(try print(c, within: 30, """
            | k | k := Object subclass: #WideClass instanceVariableNames: (WideNames first: 65535) classVariableNames: '' package: 'Wide'.
            Smalltalk at: #WideOne put: (k new instVarAt: 65535 put: 3; yourself).
            k instSize
            """), "65535")
        XCTAssertEqual(try print(c, within: 60, """
            Object subclass: #WideClass instanceVariableNames: (WideNames first: 65535) reversed classVariableNames: '' package: 'Wide'.
            { WideClass instSize. WideOne instVarAt: 1 }
            """), "#(65535 3)", "the instance kept its value by name")

        let refusals = [
            "Object subclass: #WiderClass instanceVariableNames: WideNames classVariableNames: '' package: 'Wide'":
                "'WiderClass would have more than 65535 instance variables'",
            "WideClass instanceVariableNames: WideNames":
                "'WideClass would have more than 65535 instance variables'",
            "WideClass addInstVarNamed: 'oneMore'":
                "'WideClass would have more than 65535 instance variables'",
            "WideClass subclass: #WideChild instanceVariableNames: 'x' classVariableNames: '' package: 'Wide'":
                "'WideChild would have more than 65535 instance variables'",
            "WideClass class instanceVariableNames: WideNames":
                "'WideClass class would have more than 65535 instance variables'",
        ]
        for (program, message) in refusals {
            XCTAssertEqual(try print(c, within: 5, "[\(program)] on: Error do: [:e | e messageText]"), message, program)
        }
        XCTAssertEqual(try c.print("{ WideClass instSize. WideClass class instVarNames size. WideOne instVarAt: 1. Smalltalk includesKey: #WiderClass }"),
                       "#(65535 0 3 false)", "nothing changed")
        // Finding which name is wrong counts them all: slower, but still linear.
        XCTAssertEqual(try print(c, within: 30, """
            [WideClass instanceVariableNames: ((WideNames first: 65534) copyWith: #v7)] on: Error do: [:e | e messageText]
            """), "'the instance variable v7 is declared twice'")
    }
}
