import XCTest
@testable import LivingObjects
import VMCore

/// Sends of methods with a primitive: value primitives answered at the send (ValuePrimitives.swift),
/// `value…` of blocks, and the method's code when the primitive fails — before and after the send
/// site's inline cache is filled, and after the method is redefined.
final class PrimitiveSendTests: XCTestCase {
    var c: CapturingRuntime!
    override func setUpWithError() throws {
        c = try CapturingRuntime()
        _ = try c.rt.evaluate("Object subclass: #Probe instanceVariableNames: 'x' classVariableNames: '' package: 'Probe-Test'")
        // Each send site below runs three times: the first fills its inline cache, the others hit it.
        try c.rt.compile("thrice: aBlock ^ (1 to: 3) collect: [:i | aBlock value]", inClass: "Probe")
    }

    func testSqrtAnswersEveryKindOfFloat() throws {
        XCTAssertEqual(try c.print("Probe new thrice: [4.0 sqrt]"), "#(2.0 2.0 2.0)")
        // A SmallFloat64 whose root is one, a boxed Float, zero, a negative number, infinity.
        XCTAssertEqual(try c.print("Probe new thrice: [1.0e-300 sqrt]"), "#(1.0e-150 1.0e-150 1.0e-150)")
        XCTAssertEqual(try c.print("Probe new thrice: [1.0e300 sqrt]"), "#(1.0e150 1.0e150 1.0e150)")
        XCTAssertEqual(try c.print("{0.0 sqrt. -0.0 sqrt. -4.0 sqrt isNaN. Float infinity sqrt}"), "an Array(0.0 -0.0 true Float infinity)")
        XCTAssertEqual(try c.print("| d | d := 0.0. 1 to: 1000 do: [:i | d := d + i asFloat sqrt]. d rounded"), "21097")
    }

    func testAFailingValuePrimitiveRunsTheMethodsCode() throws {
        try c.rt.compile("root <primitive: 55> ^ #fallback", inClass: "Probe")
        _ = try c.rt.evaluate("Probe class compile: 'codePoint: n <primitive: 120> ^ #notACodePoint'")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p root]"), "#(#fallback #fallback #fallback)")
        XCTAssertEqual(try c.print("Probe new thrice: [Probe codePoint: 16r110000]"), "#(#notACodePoint #notACodePoint #notACodePoint)")
        XCTAssertEqual(try c.print("Probe new thrice: [Probe codePoint: -1]"), "#(#notACodePoint #notACodePoint #notACodePoint)")
        XCTAssertEqual(try c.print("Probe new thrice: [Probe codePoint: 'a']"), "#(#notACodePoint #notACodePoint #notACodePoint)")
        XCTAssertEqual(try c.print("Probe new thrice: [(Probe codePoint: 16r10FFFF) value]"), "#(1114111 1114111 1114111)")
        XCTAssertEqual(try c.print("[Character value: -1] on: Error do: [:e | #caught]"), "#caught")
        // basicNew's primitive with a receiver that is no class fails the same way, cached or not.
        try c.rt.compile("instance <primitive: 70> ^ #notAClass", inClass: "Probe")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p instance]"), "#(#notAClass #notAClass #notAClass)")
    }

    func testARedefinedMethodIsHonouredAfterTheCacheFilled() throws {
        try c.rt.compile("root <primitive: 55> ^ #fallback", inClass: "Probe")
        try c.rt.compile("rootOf: f ^ f root", inClass: "Probe")
        try c.rt.compile("root ^ self sqrt", inClass: "Float")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p rootOf: 9.0]"), "#(3.0 3.0 3.0)")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p rootOf: p]"), "#(#fallback #fallback #fallback)")
        // The send site in rootOf: has cached Float>>root and Probe>>root; both are redefined.
        try c.rt.compile("root ^ #redefined", inClass: "Probe")
        try c.rt.compile("root <primitive: 55> ^ #floatFallback", inClass: "Float")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p rootOf: p]"), "#(#redefined #redefined #redefined)")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p rootOf: 16.0]"), "#(4.0 4.0 4.0)")
        try c.rt.compile("root <primitive: 120> ^ #floatFallback", inClass: "Float")
        XCTAssertEqual(try c.print("| p | p := Probe new. p thrice: [p rootOf: 16.0]"), "#(#floatFallback #floatFallback #floatFallback)")
    }

    func testBasicNewMakesInstancesOfEveryShape() throws {
        _ = try c.rt.evaluate("Object subclass: #Empty instanceVariableNames: '' classVariableNames: '' package: 'Probe-Test'")
        XCTAssertEqual(try c.print("Probe new thrice: [Probe new]"), "an Array(a Probe a Probe a Probe)")
        XCTAssertEqual(try c.print("Probe new thrice: [Empty basicNew class]"), "an Array(Empty Empty Empty)")
        XCTAssertEqual(try c.print("Probe new thrice: [(Probe basicNew instVarAt: 1) isNil]"), "#(true true true)")
        XCTAssertEqual(try c.print("Probe new thrice: [Array basicNew size]"), "#(0 0 0)")
        XCTAssertEqual(try c.print("Probe new thrice: [(Array basicNew: 3) size]"), "#(3 3 3)")
        XCTAssertEqual(try c.print("Probe new thrice: [(String new: 2) size]"), "#(2 2 2)")
        // An instance of a metaclass is a class: it gets a class index, so it can make instances itself.
        XCTAssertEqual(try c.print("Probe new thrice: [Probe class basicNew class == Probe class]"), "#(true true true)")
        XCTAssertEqual(try c.print("[3 basicNew] on: Error do: [:e | #caught]"), "#caught")
    }

    func testBlocksTakeOneToFourArgumentsAndRefuseOtherCounts() throws {
        XCTAssertEqual(try c.print("Probe new thrice: [[:a :b | a - b] value: 7 value: 2]"), "#(5 5 5)")
        XCTAssertEqual(try c.print("Probe new thrice: [[:a :b :d | a - b - d] value: 7 value: 2 value: 1]"), "#(4 4 4)")
        XCTAssertEqual(try c.print("[:a :b :d :e | a - b - d - e] value: 7 value: 2 value: 1 value: 1"), "3")
        XCTAssertEqual(try c.print("Probe new thrice: [[[:a | a] value: 1 value: 2] on: Error do: [:e | #caught]]"), "#(#caught #caught #caught)")
        XCTAssertEqual(try c.print("[[:a :b | a] value: 1] on: Error do: [:e | #caught]"), "#caught")
        // value:value: sent to something that is not a block runs BlockClosure's code only for blocks.
        XCTAssertEqual(try c.print("[3 value: 1 value: 2] on: MessageNotUnderstood do: [:e | #dnu]"), "#dnu")
        // A deep recursion through value:value: is a catchable error, not a crash.
        XCTAssertEqual(try c.print("| b | b := nil. b := [:n :m | n = 0 ifTrue: [m] ifFalse: [b value: n - 1 value: m + 1]]. b value: 10000 value: 0"), "10000")
        XCTAssertEqual(try c.print("| b | b := nil. b := [:n :m | b value: n value: m]. [b value: 1 value: 2] on: Error do: [:e | #deep]"), "#deep")
    }
}
