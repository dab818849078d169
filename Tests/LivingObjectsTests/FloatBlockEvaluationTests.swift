import XCTest
@testable import LivingObjects
import VMCore

/// Float blocks (Sources/VMCore/FloatBlocks.swift) answer what the bytecodes after them answer: the same
/// method compiled without one (its float literals sent `yourself`, which no float block covers) is the
/// reference, for inputs that run in doubles and for every case that falls back to the bytecodes.
final class FloatBlockEvaluationTests: XCTestCase {
    private static let step = """
        step: z0 c: c
            | zr zi zrzr zizi cr ci escape |
            zr := z0 first. zi := z0 last. cr := c first. ci := c last. escape := 0.
            zrzr := zr * zr. zizi := zi * zi.
            zr := zrzr - zizi + cr.
            zi := 2.0 * zr * zi + ci.
            zrzr := zr * zr.
            zizi := zi / 0.5 * zi * 0.5.
            zrzr + zizi > 4.0 ifTrue: [escape := 1] ifFalse: [escape := 2].
            ^ {zr. zi. zrzr. zizi. escape}
        """

    private var c: CapturingRuntime!

    override func setUpWithError() throws {
        c = try CapturingRuntime()
        try c.rt.compile(Self.step, inClass: "Object")
        let reference = Self.step.replacingOccurrences(of: "step:", with: "referenceStep:")
            .replacingOccurrences(of: "2.0", with: "(2.0 yourself)").replacingOccurrences(of: "0.5", with: "(0.5 yourself)")
            .replacingOccurrences(of: "4.0", with: "(4.0 yourself)")
        try c.rt.compile(reference, inClass: "Object")
        XCTAssertEqual(try floatBlocks(of: "step:c:"), 1)
        XCTAssertEqual(try floatBlocks(of: "referenceStep:c:"), 0)
    }

    private func floatBlocks(of selector: String) throws -> Int {
        let method = try c.rt.evaluate("Object >> #\(selector)")
        let bytecodes = c.rt.vm.byteArrayContents(c.rt.vm.fetchSlot(method, CodeLayout.bytecodes))
        return try XCTUnwrap(Instruction.decode(bytecodes)).filter { $0.opcode == .floatBlock }.count
    }

    /// Both methods' answers for the operands (Smalltalk expressions), run a few times (the first run
    /// derives the program).
    private func assertSameAnswer(_ z: String, _ cValue: String, _ expected: String? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        for _ in 0..<3 {
            let fast = try c.print("nil step: {\(z)} c: {\(cValue)}")
            XCTAssertEqual(fast, try c.print("nil referenceStep: {\(z)} c: {\(cValue)}"), "\(z) \(cValue)", file: file, line: line)
            if let expected { XCTAssertEqual(fast, expected, file: file, line: line) }
        }
    }

    func testFloatsRunInDoublesBothWaysOfTheBranch() throws {
        try assertSameAnswer("0.25. -0.5", "0.125. 0.75")
        try assertSameAnswer("1.5. 1.25", "0.5. -1.5")
        try assertSameAnswer("0.0. -0.0", "-0.0. 0.0")
        XCTAssertEqual(try c.print("nil step: {0.5. 0.25} c: {0.25. 0.5}"), "#(0.4375 0.71875 0.19140625 0.5166015625 2)")
        XCTAssertEqual(try c.print("nil step: {1.5. 1.25} c: {1.0. 1.5}"), "#(1.6875 5.71875 2.84765625 32.7041015625 1)")
    }

    func testOtherOperandsTakeTheBytecodes() throws {
        try assertSameAnswer("1. 2", "3. 4", "#(0 4.0 0 16.0 1)")            // SmallIntegers (and mixed results)
        try assertSameAnswer("0.5. 2", "0.25. 1")                                // one SmallInteger
        try assertSameAnswer("1e300. 0.5", "0.5. 0.5")                           // a boxed float, results out of range
        try assertSameAnswer("1e150. 1e150", "0.0. 0.0")                         // infinity - infinity: NaN
        try assertSameAnswer("Float nan. 0.5", "0.5. 0.5")
        try assertSameAnswer("1.0e-300. 0.5", "0.5. 0.5")                        // a result below the SmallFloat64 range
        try assertSameAnswer("(1/2). 0.5", "0.5. 0.5")                           // a Fraction: sends
        try assertSameAnswer("0.5. 0.5", "3. 0.5")                               // a SmallInteger read only once
        XCTAssertEqual(try c.print("[nil step: {0.5. nil} c: {0.5. 0.5}] on: MessageNotUnderstood do: [:e | e message selector]"), "#*")
    }

    func testValuesCarriedFromOneRunToTheNextStayRight() throws {
        // Each run's stores are the next run's loads (the program keeps their doubles); a swap through a
        // temporary stores loaded values; two activations of the method take turns with other values.
        let spin = """
            spin: n from: a to: b
                | x y t k |
                x := a. y := b. k := 0.
                [k < n] whileTrue: [
                    t := x. x := y. y := t. x := x * 0.5 + y.
                    k := k + 1].
                ^ {x. y}
            """
        try c.rt.compile(spin, inClass: "Object")
        try c.rt.compile(spin.replacingOccurrences(of: "spin:", with: "referenceSpin:")
            .replacingOccurrences(of: "0.5", with: "(0.5 yourself)"), inClass: "Object")
        XCTAssertEqual(try floatBlocks(of: "spin:from:to:"), 1)
        for (n, a, b) in [(0, "1.0", "2.0"), (1, "1.0", "2.0"), (7, "0.25", "-3.5"), (40, "3", "0.5"), (9, "1.0e-300", "0.5")] {
            let call = "spin: \(n) from: \(a) to: \(b)"
            let mixed = "{nil \(call). nil spin: 3 from: 0.5 to: 0.75. nil \(call)}"
            XCTAssertEqual(try c.print(mixed), try c.print(mixed.replacingOccurrences(of: "spin:", with: "referenceSpin:")), call)
        }
        XCTAssertEqual(try c.print("nil spin: 2 from: 1.0 to: 2.0"), "#(2.5 2.0)")
    }

    /// Compiles `source` and a reference copy without float blocks (its float literals sent `yourself`),
    /// whose selector's first keyword starts with "reference" (`referenceScale:by:` for `scale:by:`).
    private func compileWithReference(_ source: String, selector: String) throws {
        try c.rt.compile(source, inClass: "Object")
        let keyword = String(selector.prefix { $0 != ":" }) + ":"
        var reference = source.replacingOccurrences(of: keyword, with: "reference" + keyword.prefix(1).uppercased() + keyword.dropFirst())
        for literal in ["0.5", "1.0", "2.0"] { reference = reference.replacingOccurrences(of: literal, with: "(\(literal) yourself)") }
        try c.rt.compile(reference, inClass: "Object")
        XCTAssertGreaterThan(try floatBlocks(of: selector), 0)
    }

    func testARunThatGivesUpAfterWritingARegisterLeavesNoDecodedValueBehind() throws {
        // `x := x * 2.0 + 1.0` writes the register x is decoded into; `x / d` then gives up (ZeroDivide is
        // the bytecodes' to signal). The next activation's x holds the oop that register was decoded from
        // before: it must be decoded again, not taken from the register (2.0 * 2.0 + 1.0 = 5.0).
        try c.rt.compile("twice: a over: d | x y k | x := a. k := 0. x := x * 2.0 + 1.0. y := x / d. ^ {x. y}", inClass: "Object")
        XCTAssertEqual(try floatBlocks(of: "twice:over:"), 1)
        XCTAssertEqual(try c.print("nil twice: 0.5 over: 4.0"), "#(2.0 0.5)")
        XCTAssertEqual(try c.print("[nil twice: 0.5 over: 0.0] on: ZeroDivide do: [:e | #zeroDivide]"), "#zeroDivide")
        XCTAssertEqual(try c.print("nil twice: 0.5 over: 1.0"), "#(2.0 2.0)")
        XCTAssertEqual(try c.print("nil twice: 2.0 over: 1.0"), "#(5.0 5.0)")
    }

    func testAStoreThatCannotBeEncodedUndoesTheStoresBeforeIt() throws {
        // x is stored before y; y (1.2e39) is beyond the SmallFloat64 range, so x must be as it was when the
        // bytecodes run the statements again (else they would compute 2.0 * 2.0 + 1.0).
        try compileWithReference("scale: a by: s | x y k | x := a. k := 0. x := x * 2.0 + 1.0. y := x * s. ^ {x. y. y class}",
                                 selector: "scale:by:")
        for (a, s) in [("0.5", "6.0e38"), ("0.5", "1.0"), ("0.5", "6.0e38"), ("0.25", "0.5")] {
            let call = "nil scale: \(a) by: \(s)"
            XCTAssertEqual(try c.print(call), try c.print(call.replacingOccurrences(of: "scale:", with: "referenceScale:")), call)
        }
        XCTAssertEqual(try c.print("(nil scale: 0.5 by: 6.0e38) first"), "2.0")
        XCTAssertEqual(try c.print("(nil scale: 0.5 by: 6.0e38) last"), "BoxedFloat64")
    }

    func testAnOperationTakesOverATemporarysRegisterOnlyWhenItsOldValueIsNotReadAfter() throws {
        // `a := c` gives a the value of `x * 2.0`, computed before `a + 1.0` reads a's old value: a keeps
        // its own register. x's last value (`e - a`) is computed after every read of its old value, so it
        // goes into x's register and on to the next run.
        try compileWithReference("""
            shuffle: n from: a0 with: x0
                | a x c d e k |
                a := a0. x := x0. k := 0.
                [k < n] whileTrue: [
                    c := x * 2.0. d := a + 1.0. a := c. e := a * d + 0.5. x := e - a.
                    k := k + 1].
                ^ {a. x. c. d. e}
            """, selector: "shuffle:from:with:")
        for (n, a, x) in [(1, "0.5", "0.25"), (5, "0.5", "0.25"), (6, "-1.5", "0.125"), (3, "1", "0.5"), (4, "0.5", "1")] {
            let call = "nil shuffle: \(n) from: \(a) with: \(x)"
            XCTAssertEqual(try c.print(call), try c.print(call.replacingOccurrences(of: "shuffle:", with: "referenceShuffle:")), call)
        }
    }

    func testComparisonsOfEarlierResultsAndSwappedOperands() throws {
        // The comparison reads the last result (P), the one before (Q) or a register; one with a result
        // only on the right is run swapped (`2.0 < p` as `p > 2.0`).
        try compileWithReference("""
            compare: a with: b
                | r |
                r := 0.
                a * b > (b * 2.0) ifTrue: [r := r + 1].
                2.0 < (a * b + 1.0) ifTrue: [r := r + 10].
                a * b - (b * 2.0) <= 0.5 ifTrue: [r := r + 100].
                a * 2.0 * b >= (a * b * 2.0) ifTrue: [r := r + 1000].
                a * 2.0 = (b * 2.0) ifFalse: [r := r + 10000].
                1.0 ~= (a - b * 0.5) ifTrue: [r := r + 100000].
                ^ r
            """, selector: "compare:with:")
        for (a, b) in [("1.5", "2.0"), ("2.0", "2.0"), ("0.5", "-3.0"), ("-0.0", "0.0"), ("3.0", "1.0"), ("1.0e38", "6.0e38"), ("2", "0.5")] {
            let call = "nil compare: \(a) with: \(b)"
            XCTAssertEqual(try c.print(call), try c.print(call.replacingOccurrences(of: "compare:", with: "referenceCompare:")), call)
        }
        XCTAssertEqual(try c.print("nil compare: 2.0 with: 2.0"), "101110")
    }

    func testDivisionByZeroSignalsAsTheBytecodesDo() throws {
        try c.rt.compile("ratio: a | b q | b := a - a. q := a * 2.0 / b. ^ q", inClass: "Object")
        XCTAssertEqual(try floatBlocks(of: "ratio:"), 1)
        XCTAssertEqual(try c.print("[nil ratio: 0.5] on: ZeroDivide do: [:e | #zeroDivide]"), "#zeroDivide")
        XCTAssertEqual(try c.print("[nil ratio: 0.5. nil ratio: 0.5] on: ZeroDivide do: [:e | #zeroDivide]"), "#zeroDivide")
    }

    func testTheProgramIsAnInlineCacheTheImageDoesNotKeep() throws {
        XCTAssertEqual(try c.print("nil step: {0.5. 0.25} c: {0.25. 0.5}. (Object >> #step:c:) literals count: [:each | each class == ByteArray]"), "1")
        let method = try c.rt.evaluate("Object >> #step:c:")
        let literals = c.rt.vm.fetchSlot(method, CodeLayout.literals)
        let (_, saved) = try XCTUnwrap(c.rt.vm.imageLiterals(of: method))
        guard case .slots(let slots) = saved else { return XCTFail("\(saved)") }
        let vm = c.rt.vm
        let programs = (0..<slots.count).filter { i in
            let literal = vm.fetchSlot(literals, i)
            return vm.isPointer(literal) && vm.className(vm.classOf(literal)) == "ByteArray"
        }
        XCTAssertEqual(programs.count, 1)
        for i in programs { XCTAssertEqual(slots[i], vm.nilObj, "the program's slot is saved empty") }
    }
}
