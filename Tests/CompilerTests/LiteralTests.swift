import XCTest
import VMCore
@testable import Compiler

/// Every literal syntax, read through `foo ^ <literal>`.
final class LiteralTests: XCTestCase {
    /// The constant the method `foo ^ <expression>` pushes first.
    private func value(_ expression: String, file: StaticString = #filePath, line: UInt = #line) -> Literal? {
        let compiled = method("foo ^ " + expression, file: file, line: line)
        guard let first = Instruction.decode(compiled.bytecodes)?.first else { return nil }
        switch first.opcode {
        case .pushInt8: return .integer(first.a)
        case .pushLiteral: return compiled.literals[first.a]
        default: return nil
        }
    }

    func testSmallIntegers() {
        XCTAssertEqual(value("42"), .integer(42))
        XCTAssertEqual(value("1000"), .integer(1000))
        XCTAssertEqual(value("-5"), .integer(-5))
        XCTAssertEqual(value("0"), .integer(0))
    }

    func testRadixIntegers() {
        XCTAssertEqual(value("16r1F"), .integer(31))
        XCTAssertEqual(value("-16r1F"), .integer(-31))
        XCTAssertEqual(value("2r1010"), .integer(10))
        XCTAssertEqual(value("36rZZ"), .integer(1295))
        XCTAssertEqual(value("8r777"), .integer(511))
    }

    func testIntegerExponents() {
        XCTAssertEqual(value("1e10"), .integer(10_000_000_000))
        XCTAssertEqual(value("25e2"), .integer(2500))
        XCTAssertEqual(value("2r1e4"), .integer(16))
        XCTAssertEqual(value("1e30"), .largeInteger("1" + String(repeating: "0", count: 30)))
    }

    func testLargeIntegers() {
        XCTAssertEqual(value("12345678901234567890"), .largeInteger("12345678901234567890"))
        XCTAssertEqual(value("-12345678901234567890"), .largeInteger("-12345678901234567890"))
        XCTAssertEqual(value("9223372036854775807"), .integer(Int.max))
        XCTAssertEqual(value("9223372036854775808"), .largeInteger("9223372036854775808"))
        XCTAssertEqual(value("-9223372036854775808"), .integer(Int.min))
        XCTAssertEqual(value("-9223372036854775809"), .largeInteger("-9223372036854775809"))
        XCTAssertEqual(value("16rFFFFFFFFFFFFFFFFFF"), .largeInteger("4722366482869645213695"))
    }

    func testFloats() {
        XCTAssertEqual(value("1.5"), .float(1.5))
        XCTAssertEqual(value("0.1"), .float(0.1))
        XCTAssertEqual(value("1.5e-3"), .float(0.0015))
        XCTAssertEqual(value("2.0e10"), .float(2.0e10))
        XCTAssertEqual(value("1.0e-10"), .float(1.0e-10))
        XCTAssertEqual(value("-2.5"), .float(-2.5))
        XCTAssertEqual(value("2r1.1"), .float(1.5))
        XCTAssertEqual(value("3.14159265358979323846"), .float(3.14159265358979323846))
    }

    func testIntegerMantissaWithNegativeExponentIsFloat() {
        XCTAssertEqual(value("1e-2"), .float(0.01))
        XCTAssertEqual(value("-5e-1"), .float(-0.5))
    }

    func testScaledDecimals() {
        XCTAssertEqual(value("1.25s2"), .scaledDecimal(numerator: "125", denominator: "100", scale: 2))
        XCTAssertEqual(value("3s2"), .scaledDecimal(numerator: "3", denominator: "1", scale: 2))
        XCTAssertEqual(value("1.5s"), .scaledDecimal(numerator: "15", denominator: "10", scale: 1))
        XCTAssertEqual(value("3s"), .scaledDecimal(numerator: "3", denominator: "1", scale: 0))
        XCTAssertEqual(value("-0.5s2"), .scaledDecimal(numerator: "-5", denominator: "10", scale: 2))
    }

    func testCharacters() {
        XCTAssertEqual(value("$a"), .character(97))
        XCTAssertEqual(value("$ "), .character(32))
        XCTAssertEqual(value("$'"), .character(39))
        XCTAssertEqual(value("$$"), .character(36))
        XCTAssertEqual(value("$€"), .character(0x20AC))
        XCTAssertEqual(value("$\""), .character(34))
    }

    func testStrings() {
        XCTAssertEqual(value("'hello'"), .string("hello"))
        XCTAssertEqual(value("'it''s'"), .string("it's"))
        XCTAssertEqual(value("''"), .string(""))
        XCTAssertEqual(value("'héllo ✓ \"not a comment\"'"), .string("héllo ✓ \"not a comment\""))
        XCTAssertEqual(value("'two\nlines'"), .string("two\nlines"))
    }

    func testSymbols() {
        XCTAssertEqual(value("#foo"), .symbol("foo"))
        XCTAssertEqual(value("#foo:bar:"), .symbol("foo:bar:"))
        XCTAssertEqual(value("#at:"), .symbol("at:"))
        XCTAssertEqual(value("#+"), .symbol("+"))
        XCTAssertEqual(value("#->"), .symbol("->"))
        XCTAssertEqual(value("#|"), .symbol("|"))
        XCTAssertEqual(value("#'hello world'"), .symbol("hello world"))
        XCTAssertEqual(value("#Foo_bar2"), .symbol("Foo_bar2"))
    }

    func testLiteralArray() {
        XCTAssertEqual(value("#(1 $a 'str' #sym sym foo:bar: true false nil #(1 2) (1 2) #[1 2] 1.5 + )"), .array([
            .integer(1), .character(97), .string("str"), .symbol("sym"), .symbol("sym"), .symbol("foo:bar:"),
            .true, .false, .nil, .array([.integer(1), .integer(2)]), .array([.integer(1), .integer(2)]),
            .byteArray([1, 2]), .float(1.5), .symbol("+"),
        ]))
    }

    func testLiteralArrayNegativesAndSelectors() {
        XCTAssertEqual(value("#(-1 - 2 #- at: put: at:put: #at:put: | ->)"), .array([
            .integer(-1), .symbol("-"), .integer(2), .symbol("-"), .symbol("at:"), .symbol("put:"),
            .symbol("at:put:"), .symbol("at:put:"), .symbol("|"), .symbol("->"),
        ]))
        XCTAssertEqual(value("#()"), .array([]))
        XCTAssertEqual(value("#(#(#()))"), .array([.array([.array([])])]))
    }

    func testByteArrays() {
        XCTAssertEqual(value("#[1 2 255]"), .byteArray([1, 2, 255]))
        XCTAssertEqual(value("#[]"), .byteArray([]))
        XCTAssertEqual(value("#[16rFF 0]"), .byteArray([255, 0]))
    }

    func testEqualLiteralsShareASlot() {
        let m = method("foo ^ Array with: 'a' with: 'a' with: #(1 2) with: #(1 2)")
        XCTAssertEqual(m.literals.filter { $0 == .string("a") }.count, 1)
        XCTAssertEqual(m.literals.filter { $0 == .array([.integer(1), .integer(2)]) }.count, 1)
    }

    func testPositiveAndNegativeZeroFloatsStayDistinct() {
        let m = method("foo ^ {0.0. -0.0. 0.0}")
        XCTAssertEqual(m.literals.count, 2)
        XCTAssertEqual(listing(m), ["pushLiteral 0.0", "pushLiteral -0.0", "pushLiteral 0.0", "popIntoNewArray 3", "returnTop"])
    }

    func testPushInt8Range() {
        XCTAssertEqual(listing(method("foo ^ 127")), ["pushInt8 127", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ -128")), ["pushInt8 -128", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ 128")), ["pushLiteral 128", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ -129")), ["pushLiteral -129", "returnTop"])
    }

    func testPseudoVariableConstants() {
        XCTAssertEqual(listing(method("foo ^ {nil. true. false. self. thisContext}")),
                       ["pushNil", "pushTrue", "pushFalse", "pushSelf", "pushThisContext", "popIntoNewArray 5", "returnTop"])
    }

    func testCommentsAnywhere() {
        let m = method("\"c\"foo \"c\" ^ \"c\" 3 \"c\" + \"c\" 4 \"c\"")
        XCTAssertEqual(listing(m), ["pushInt8 3", "pushInt8 4", "sendAdd", "returnTop"])
    }
}
