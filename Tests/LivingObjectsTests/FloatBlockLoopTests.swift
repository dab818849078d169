import XCTest
@testable import LivingObjects
import VMCore

/// Float blocks that run their loop's SmallInteger and Boolean steps and come back to themselves
/// (Sources/VMCore/FloatBlockLoops.swift) answer what the bytecodes answer: the same method compiled without
/// a float block (its float literals sent `yourself`) is the reference.
final class FloatBlockLoopTests: XCTestCase {
    private var c: CapturingRuntime!

    override func setUpWithError() throws {
        c = try CapturingRuntime()
    }

    /// Compiles `source` and a reference copy without float blocks, whose selector's first keyword starts
    /// with "reference".
    private func compileWithReference(_ source: String, selector: String) throws {
        try c.rt.compile(source, inClass: "Object")
        let keyword = String(selector.prefix { $0 != ":" }) + ":"
        var reference = source.replacingOccurrences(of: keyword, with: "reference" + keyword.prefix(1).uppercased() + keyword.dropFirst())
        for literal in ["0.5", "1.0", "1.5", "2.0", "4.0"] {
            reference = reference.replacingOccurrences(of: literal, with: "(\(literal) yourself)")
        }
        try c.rt.compile(reference, inClass: "Object")
        XCTAssertEqual(try floatBlocks(of: selector), 1)
        XCTAssertEqual(try floatBlocks(of: "reference" + selector.prefix(1).uppercased() + selector.dropFirst()), 0)
    }

    private func floatBlocks(of selector: String) throws -> Int {
        let method = try c.rt.evaluate("Object >> #\(selector)")
        let bytecodes = c.rt.vm.byteArrayContents(c.rt.vm.fetchSlot(method, CodeLayout.bytecodes))
        return try XCTUnwrap(Instruction.decode(bytecodes)).filter { $0.opcode == .floatBlock }.count
    }

    /// Whether the float block of `selector` (run at least once) has a loop tail.
    private func hasLoopTail(_ selector: String) throws -> Bool {
        try c.print("((Object >> #\(selector)) literals detect: [:each | each class == ByteArray]) in: [:p | (p at: 25) + (p at: 26) > 0]") == "true"
    }

    private func assertSameAnswer(_ call: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let keyword = String(call.split(separator: " ")[1])
        let reference = call.replacingOccurrences(of: keyword, with: "reference" + keyword.prefix(1).uppercased() + keyword.dropFirst())
        XCTAssertEqual(try c.print(call), try c.print(reference), call, file: file, line: line)
    }

    func testMandelbrotsInnerLoopRunsAsTheBytecodesDo() throws {
        // The benchmark's loop: the tail follows the jump over `ifTrue:` (no escape), adds 1 to z, jumps
        // back and tests notDone and z < 50; it leaves the block when a point escapes (the `ifTrue:`) and
        // when z reaches 50 (the loop's exit).
        try compileWithReference("""
            escape: cr with: ci
                | zrzr zi zizi escape z notDone |
                zrzr := 0.0. zizi := zi := 0.0. z := 0. notDone := true. escape := 0.
                [notDone and: [z < 50]] whileTrue: [
                    | zr |
                    zr := zrzr - zizi + cr.
                    zi := 2.0 * zr * zi + ci.
                    zrzr := zr * zr.
                    zizi := zi * zi.
                    zrzr + zizi > 4.0 ifTrue: [notDone := false. escape := 1].
                    z := z + 1].
                ^ {escape. z. zrzr. zizi. zi}
            """, selector: "escape:with:")
        _ = try c.print("nil escape: -0.5 with: 0.0")
        XCTAssertTrue(try hasLoopTail("escape:with:"))
        for (cr, ci) in [("-0.5", "0.0"), ("0.25", "0.5"), ("-1.5", "0.0"), ("0.3", "0.5"), ("-0.75", "0.1"), ("1.0", "1.0"),
                         ("-2.0", "0.0"), ("0.2501", "0.0"), ("1", "0.5"), ("0.25", "1/2"), ("0.5", "nil")] {
            try assertSameAnswer("[nil escape: \(cr) with: \(ci)] on: Error do: [:e | e class name]")
        }
        XCTAssertEqual(try c.print("nil escape: -0.5 with: 0.0"), "#(0 50 0.13397457288761025 0.0 0.0)")
        XCTAssertEqual(try c.print("(nil escape: 1.0 with: 1.0) first: 2"), "#(1 2)")
    }

    func testACounterThatLeavesTheSmallIntegersGoesOnInTheBytecodes() throws {
        // `k := k + 1` overflows into a LargePositiveInteger, which `k < n` then compares by a send; a Float
        // counter takes the bytecodes from the first step.
        try compileWithReference("""
            count: n from: k0
                | x k |
                x := 0.5. k := k0.
                [k < n] whileTrue: [x := x * 0.5 + 1.0. k := k + 1].
                ^ {x. k. k class}
            """, selector: "count:from:")
        try assertSameAnswer("nil count: 10 from: 0")
        XCTAssertTrue(try hasLoopTail("count:from:"))
        for (n, k0) in [("0", "0"), ("1", "0"), ("5000", "0"), ("SmallInteger maxVal + 3", "SmallInteger maxVal - 4"),
                        ("3", "0.5"), ("7/2", "1"), ("SmallInteger minVal + 2", "SmallInteger minVal")] {
            try assertSameAnswer("nil count: \(n) from: \(k0)")
        }
        XCTAssertEqual(try c.print("(nil count: SmallInteger maxVal + 2 from: SmallInteger maxVal - 1) last"), "LargePositiveInteger")
        XCTAssertEqual(try c.print("(nil count: 3 from: 0) first"), "1.8125")
    }

    func testATestOfSomethingElseThanABooleanAsksTheObject() throws {
        // The loop's test reads `flag` after the float statements: a non-Boolean is left to the bytecodes,
        // which send it mustBeBoolean (resumed here with false, which ends the loop).
        try compileWithReference("""
            spin: n flag: flag
                | x k |
                x := 0.5. k := 0.
                [x := x * 0.5 + 1.0. k := k + 1. flag and: [k < n]] whileTrue.
                ^ {x. k}
            """, selector: "spin:flag:")
        for (n, flag) in [("4", "true"), ("4", "false"), ("4", "3"), ("4", "nil"), ("100", "true")] {
            try assertSameAnswer("[nil spin: \(n) flag: \(flag)] on: NonBooleanReceiver do: [:e | e resume: false]")
        }
        XCTAssertTrue(try hasLoopTail("spin:flag:"))
        XCTAssertEqual(try c.print("[nil spin: 4 flag: 3] on: NonBooleanReceiver do: [:e | e resume: false]"), "#(1.25 1)")
        XCTAssertEqual(try c.print("nil spin: 3 flag: true"), "#(1.8125 3)")
    }

    func testAFloatLoopWithoutEndStillStopsForAnInterrupt() throws {
        // The tail's backward jump counts down to the interpreter's safepoints, where Ctrl-C is handled.
        try c.rt.compile("""
            endless: n
                | x k |
                x := 0.5. k := 0.
                [k < n] whileTrue: [x := x * 0.5 + 1.0. k := k + 1].
                ^ k
            """, inClass: "Object")
        let flag = Unchecked(c.rt.vm.interruptFlag)
        let timer = Thread { Thread.sleep(forTimeInterval: 0.3); flag.value.pointee = 1 }
        timer.start()
        XCTAssertThrowsError(try c.rt.evaluate("nil endless: 1000000000"))
        XCTAssertTrue(c.err.contains("Interrupt"), c.err)
        XCTAssertTrue(try hasLoopTail("endless:"))
    }

    func testAHigherPriorityProcessRunsDuringAFloatLoop() throws {
        // Process switches happen at the loop's backward jumps while the float block loops.
        try c.rt.compile("""
            spinFor: n
                | x k |
                x := 0.5. k := 0.
                [k < n] whileTrue: [x := x * 0.5 + 1.0. k := k + 1].
                ^ k
            """, inClass: "Object")
        XCTAssertEqual(try c.print("""
            | log | log := OrderedCollection new.
            [(Delay forMilliseconds: 1) wait. log add: #woke] forkAt: Processor activePriority + 1.
            log add: (nil spinFor: 3000000). log asArray
            """), "#(#woke 3000000)")
    }
}
