import Foundation
import XCTest
@testable import LivingObjects
import VMCore

/// Programs that misbehave get a Smalltalk error (or a harmless answer), never a crash or a hang.
final class MisbehavingProgramTests: XCTestCase {
    /// Each evaluates to a value or fails with an error; the runtime stays usable.
    func testHostileExpressionsFailCleanly() throws {
        let c = try CapturingRuntime()
        let programs = [
            "Array new: -1", "Array new: 1000000000000", "String new: 1152921504606846975", "nil basicAt: 1",
            "Object new instVarAt: 5", "3 instVarAt: 1", "[:x | x] value", "[:x | x] valueWithArguments: #(1 2)",
            "thisContext terminateTo: nil", "Object new become: 3", "nil become: Object new",
            "3 perform: #between:and: with: 1", "3 perform: 'notASymbol'", "3 perform: #+ withArguments: 4",
            "#(1 2 3) replaceFrom: 1 to: 10 with: #(1) startingAt: 1", "'abc' at: 1 put: 3", "#abc at: 1 put: $z",
            "Object compile: 'foo ^ ^'", "(Array new: 3) at: 0", "Character value: -1", "Character value: 1114112",
            "| b | b := [b value]. b value", "[^ 3] value", "thisContext tempAt: 100", "thisContext instVarAt: 7 put: 12345. thisContext sender",
            "(Object >> #printString) literals at: 1 put: 3", "(Object >> #printString) instVarAt: 2 put: #(1 2)",
            "Float nan truncated", "Float infinity truncated", "[Error signal] on: Error do: [:e | e resume: 3]",
            "Exception signal", "OrderedCollection new removeFirst", "Dictionary new at: #missing", "Set new add: nil",
            "| a | a := Array new: 10. 1 to: 10 do: [:i | a at: i put: a]. a printString size",
            "Semaphore new wait", "Processor activeProcess suspend", "Processor terminateActive",
        ]
        for p in programs {
            do { _ = try c.rt.evaluate(p) } catch let e as RuntimeError {
                switch e {
                case .compile, .unhandledError, .terminated, .deadlock: break
                default: XCTFail("\(p): unexpected \(e)")
                }
            }
            XCTAssertEqual(try c.print("3 + 4"), "7", "usable after: \(p)")
        }
    }

    /// Programs that break the system itself still cannot crash the VM.
    func testDamagingTheKernelDoesNotCrashTheVM() throws {
        for p in ["Object methodDict at: #printString put: 3. Object new printString",
                  "Object instVarAt: 1 put: 3. Object new foo", "Object instVarAt: 2 put: 3. Object new foo",
                  "Object instVarAt: 2 put: 'garbage'. Object new foo",
                  "Processor instVarAt: 1 put: nil. [3] fork. Processor yield. 4",
                  "Smalltalk at: #Object put: nil. Object new"] {
            let c = try CapturingRuntime()
            _ = try? c.rt.evaluate(p)
            _ = try? c.rt.evaluate("3 + 4")
        }
    }

    func testRandomSourceNeverCrashesTheCompilerOrVM() throws {
        let c = try Shared.runtime()
        var rng = SystemRandomNumberGenerator()
        let pieces = ["3", "+", "[", "]", "(", ")", "x", ":=", "^", ".", "#(", "'a'", "$", "|", ":y", "foo:", "nil",
                      "thisContext", "{", "}", ";", "printString", "1/0", "#[", "16r", "e", "-", "ifTrue:", "whileTrue:"]
        for _ in 0..<300 {
            let source = (0..<Int.random(in: 1...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined(separator: " ")
            _ = try? c.rt.evaluate("[" + source + "] on: Error do: [:e | nil]")
        }
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testAProcessLeftWaitingByADeadlockResumesCorrectlyLater() throws {
        let c = try CapturingRuntime()
        XCTAssertThrowsError(try c.rt.evaluate("Smalltalk at: #Log put: OrderedCollection new. Smalltalk at: #Gate put: Semaphore new. Gate wait. Log add: #woke. 1 + 1")) { error in
            guard case RuntimeError.deadlock = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try c.print("Gate signal. Processor yield. Log asArray"), "#(#woke)")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testInterruptStopsARunawayLoop() throws {
        let c = try CapturingRuntime()
        let flag = Unchecked(c.rt.vm.interruptFlag)
        let timer = Thread { Thread.sleep(forTimeInterval: 0.3); flag.value.pointee = 1 }
        timer.start()
        XCTAssertThrowsError(try c.rt.evaluate("[true] whileTrue"))
        XCTAssertTrue(c.err.contains("Interrupt"), c.err)
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    /// A program that catches UserInterrupt and loops on (as a broken kernel method used by the
    /// handling of every error can): the second Ctrl-C ends the process.
    func testASecondInterruptEndsAProgramThatSurvivesTheFirst() throws {
        let c = try CapturingRuntime()
        let flag = Unchecked(c.rt.vm.interruptFlag), done = Unchecked(false)
        let timer = Thread {
            // Ctrl-C every 0.3 s until the evaluation ends (at most 10: without the second's rule the
            // program below ends by itself after its fifth).
            for _ in 0..<10 where !done.value {
                Thread.sleep(forTimeInterval: 0.3)
                flag.value.pointee = 1
                while flag.value.pointee != 0 && !done.value { Thread.sleep(forTimeInterval: 0.01) }
            }
        }
        timer.start()
        defer { done.value = true }
        XCTAssertThrowsError(try c.rt.evaluate(
            "Smalltalk at: #Caught put: 0. [Caught < 5] whileTrue: [[[true] whileTrue] on: UserInterrupt do: [:e | Caught := Caught + 1]]"))
        done.value = true
        XCTAssertTrue(c.err.contains("interrupted again; ending the process"), c.err)
        XCTAssertEqual(try c.print("Caught"), "1", "the first interrupt was handled by the program")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testOutOfMemoryIsASmalltalkError() throws {
        var config = VMConfiguration()
        config.heapLimitBytes = 256 << 20
        let c = try CapturingRuntime(configuration: config)
        XCTAssertEqual(try c.print("""
            | keep | keep := OrderedCollection new.
            [[keep add: (Array new: 100000)] repeat] on: OutOfMemory do: [:e | keep := nil. 'out of memory']
            """), "'out of memory'")
        XCTAssertEqual(try c.print("Smalltalk garbageCollect. (Array new: 1000) size"), "1000")
    }

    func testSmallObjectsThatSurviveFillingTheHeapAreOutOfMemoryToo() throws {
        var config = VMConfiguration()
        config.heapLimitBytes = 64 << 20
        let c = try CapturingRuntime(configuration: config)
        // Every Array survives its scavenges: old space fills by tenuring alone, not by allocation.
        XCTAssertEqual(try c.print("| l | l := nil. [[l := Array with: l] repeat] on: OutOfMemory do: [:e | l := nil. #caught]"), "#caught")
        // A program that goes on after it: its process is ended, and the VM with the heap it held lives on.
        XCTAssertThrowsError(try c.print("| l | l := nil. [[l := Array with: l] repeat] on: OutOfMemory do: [:e | e retry]"))
        XCTAssertTrue(c.err.contains("out of memory: objects still referenced fill the heap limit (64 MB)"), c.err)
        XCTAssertEqual(try c.print("| l | l := nil. 1 to: 100000 do: [:i | l := Array with: l]. l size"), "1")
    }

    func testBigGarbageUnderASmallHeapLimitIsCollectedNotOutOfMemory() throws {
        var config = VMConfiguration()
        config.heapLimitBytes = 64 << 20
        let c = try CapturingRuntime(configuration: config)
        XCTAssertEqual(try c.print("| n | n := 0. 1 to: 300 do: [:i | n := n + (ByteArray new: 1048576) size]. n"), "\(300 << 20)")
    }

    func testTwoRuntimesRunInParallel() throws {
        let a = try CapturingRuntime(), b = try CapturingRuntime()
        let results = Unchecked(["", ""])
        let group = DispatchGroup()
        for (i, c) in [a, b].enumerated() {
            group.enter()
            Thread {
                results.value[i] = (try? c.print("| s | s := 0. 1 to: 300000 do: [:k | s := s + (k \\\\ 7)]. s")) ?? "error"
                group.leave()
            }.start()
        }
        group.wait()
        XCTAssertEqual(results.value, ["899998", "899998"])
    }
}
