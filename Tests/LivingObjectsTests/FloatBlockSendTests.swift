import XCTest
@testable import LivingObjects
import VMCore

/// Float blocks (Sources/VMCore/FloatBlocks.swift) with sends to temporaries: getters, `sqrt` and setters
/// run in the block when the send's inline cache holds them, and the block answers what the bytecodes
/// answer. The reference for each method is the same source with its temporaries captured and assigned
/// by a block that never runs (temporaries in a temp vector get no float block).
final class FloatBlockSendTests: XCTestCase {
    private var c: CapturingRuntime!

    override func setUpWithError() throws {
        c = try CapturingRuntime()
        _ = try c.rt.evaluate("Object subclass: #FBody instanceVariableNames: 'v m' classVariableNames: '' package: 'FloatBlock-Test'")
        for source in ["v ^ v", "m ^ m", "v: x v := x", "m: x m := x"] { try c.rt.compile(source, inClass: "FBody") }
    }

    private func floatBlocks(of selector: String) throws -> Int {
        let method = try c.rt.evaluate("Object >> #\(selector)")
        let bytecodes = c.rt.vm.byteArrayContents(c.rt.vm.fetchSlot(method, CodeLayout.bytecodes))
        return try XCTUnwrap(Instruction.decode(bytecodes)).filter { $0.opcode == .floatBlock }.count
    }

    /// Compiles `source` (a method of Object whose first keyword is `keyword`, temporaries `temps`) and
    /// its reference, `reference` + the keyword capitalised.
    private func compileWithReference(_ source: String, keyword: String, temps: [String]) throws {
        try c.rt.compile(source, inClass: "Object")
        let capture = "[:captured | " + temps.map { "\($0) := captured" }.joined(separator: ". ") + "]. "
        var reference = source.replacingOccurrences(of: keyword, with: "reference" + keyword.prefix(1).uppercased() + keyword.dropFirst())
        let body = reference.range(of: "|", options: [], range: reference.range(of: "|")!.upperBound..<reference.endIndex)!.upperBound
        reference.insert(contentsOf: " " + capture, at: body)
        try c.rt.compile(reference, inClass: "Object")
    }

    private func assertSameAnswer(_ call: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let keyword = String(call.split(separator: " ")[1])
        let reference = call.replacingOccurrences(of: keyword, with: "reference" + keyword.prefix(1).uppercased() + keyword.dropFirst())
        XCTAssertEqual(try c.print(call), try c.print(reference), call, file: file, line: line)
    }

    private let exchange = """
        exchange: n with: a and: b by: mag
            | k |
            k := 0.
            [k < n] whileTrue: [
                a v: a v - (b m * mag).
                b v: b v + (a m * mag) + a v.
                k := k + 1].
            ^ {a v. b v}
        """

    private func bodies(_ v1: String, _ m1: String, _ v2: String, _ m2: String) -> String {
        "(FBody new v: \(v1); m: \(m1); yourself) and: (FBody new v: \(v2); m: \(m2); yourself)"
    }

    func testGettersAndSettersRunInTheBlock() throws {
        try compileWithReference(exchange, keyword: "exchange:", temps: ["k"])
        XCTAssertEqual(try floatBlocks(of: "exchange:with:and:by:"), 1)
        XCTAssertEqual(try c.print("nil exchange: 3 with: \(bodies("0.5", "2.0", "0.25", "4.0")) by: 0.125"), "#(-1.0 -0.5)")
        for n in [1, 10, 100] {
            try assertSameAnswer("nil exchange: \(n) with: \(bodies("0.5", "2.0", "0.25", "4.0")) by: 0.125")
            try assertSameAnswer("nil exchange: \(n) with: \(bodies("1.5", "0.5", "-0.25", "3.0")) by: 0.0625")
        }
        // The block ran: its program is still there and covers the statements (it did not give up).
        let program = try c.print("((Object >> #exchange:with:and:by:) literals detect: [:l | l class == ByteArray]) first: 2")
        XCTAssertNotEqual(program, "#[0 0]")
    }

    func testTheSameObjectAsBothReceiversSeesEachSetter() throws {
        // `b v` must read the value `a v:` stored just before when a and b are one object.
        try compileWithReference(exchange, keyword: "exchange:", temps: ["k"])
        let one = "[:one | nil exchange: 2 with: one and: one by: 0.5] value: (FBody new v: 1.0; m: 2.0; yourself)"
        XCTAssertEqual(try c.print(one), try c.print(one.replacingOccurrences(of: "exchange:", with: "referenceExchange:")))
        XCTAssertEqual(try c.print(one), "#(1.0 1.0)")
    }

    func testAGetterThatAnswersNoSmallFloatUndoesTheSettersBeforeIt() throws {
        // `a v:` has run when `a m` answers a SmallInteger, a boxed float, a Fraction, nil: the block gives
        // up, the setter is undone, and the bytecodes run both statements once.
        try compileWithReference(exchange, keyword: "exchange:", temps: ["k"])
        for m1 in ["4", "1.0e300", "(1/2)", "2.0", "3"] {
            try assertSameAnswer("nil exchange: 2 with: \(bodies("0.5", m1, "0.25", "4.0")) by: 0.125")
        }
        XCTAssertEqual(try c.print("nil exchange: 1 with: \(bodies("0.5", "4", "0.25", "4.0")) by: 0.125"), "#(0.0 0.75)")
        XCTAssertEqual(try c.print("[nil exchange: 1 with: \(bodies("0.5", "nil", "0.25", "4.0")) by: 0.125] on: MessageNotUnderstood do: [:e | e message selector]"), "#*")
        // `b v:`'s value is beyond the SmallFloat64 range after `a v:` ran: undone too.
        try assertSameAnswer("nil exchange: 2 with: \(bodies("0.5", "1.0e30", "0.25", "2.0")) by: 1.0e30")
        XCTAssertEqual(try c.print("(nil exchange: 1 with: \(bodies("0.5", "1.0e30", "0.25", "2.0")) by: 1.0e30) first"), "-2.0e30")
    }

    func testARedefinedGetterOrSetterIsHonouredAtOnce() throws {
        try compileWithReference(exchange, keyword: "exchange:", temps: ["k"])
        let call = "nil exchange: 3 with: \(bodies("0.5", "2.0", "0.25", "4.0")) by: 0.125"
        XCTAssertEqual(try c.print(call), "#(-1.0 -0.5)")
        try c.rt.compile("m ^ m * 2.0", inClass: "FBody")
        try assertSameAnswer(call)
        XCTAssertEqual(try c.print(call), "#(-2.5 -2.75)")
        try c.rt.compile("v: x v := x + 1.0", inClass: "FBody")
        try assertSameAnswer(call)
        try c.rt.compile("m ^ m", inClass: "FBody")
        try c.rt.compile("v: x v := x", inClass: "FBody")
        XCTAssertEqual(try c.print(call), "#(-1.0 -0.5)")
        // A subclass whose getter is a method: the same send site, another class.
        _ = try c.rt.evaluate("FBody subclass: #FHeavy instanceVariableNames: '' classVariableNames: '' package: 'FloatBlock-Test'")
        try c.rt.compile("m ^ 10.0", inClass: "FHeavy")
        try assertSameAnswer("nil exchange: 3 with: (FHeavy new v: 0.5; m: 2.0; yourself) and: (FBody new v: 0.25; m: 4.0; yourself) by: 0.125")
    }

    func testSquareRootsOfTemporaries() throws {
        try compileWithReference("""
            hypot: a and: b
                | s d e |
                s := a * a + (b * b).
                d := s sqrt.
                e := d * 2.0 + a sqrt.
                ^ {d. e}
            """, keyword: "hypot:", temps: ["s", "d", "e"])
        XCTAssertEqual(try floatBlocks(of: "hypot:and:"), 1)
        for (a, b) in [("3.0", "4.0"), ("0.0", "-0.0"), ("-0.0", "0.0"), ("-1.0", "2.0"), ("2", "3"), ("2.0", "1.0e300"), ("1.0e30", "1.0e30")] {
            for _ in 0..<3 { try assertSameAnswer("nil hypot: \(a) and: \(b)") }
        }
        XCTAssertEqual(try c.print("nil hypot: 3.0 and: 4.0"), "#(5.0 11.732050807568877)")
    }

    func testABlockThatKeepsGivingUpStopsTrying() throws {
        // `t abs` is no getter: every run gives up; after 64 the block covers nothing, and the answers
        // stay the bytecodes'.
        try compileWithReference("""
            wobble: n from: t0
                | t k |
                t := t0. k := 0.
                [k < n] whileTrue: [t := t abs * 0.5 - 1.0. k := k + 1].
                ^ t
            """, keyword: "wobble:", temps: ["t", "k"])
        XCTAssertEqual(try floatBlocks(of: "wobble:from:"), 1)
        for n in [1, 63, 64, 200] { try assertSameAnswer("nil wobble: \(n) from: 0.5") }
        XCTAssertEqual(try c.print("((Object >> #wobble:from:) literals detect: [:l | l class == ByteArray]) first: 2"), "#[0 0]")
        XCTAssertEqual(try c.print("nil wobble: 2 from: 0.5"), "-0.625")
    }
}
