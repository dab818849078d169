import XCTest
import VMCore
@testable import Compiler

/// Compile errors: message, line and column of the offending token.
final class ErrorTests: XCTestCase {
    private func assertError(_ source: String, _ line: Int, _ column: Int, _ message: String,
                             file: StaticString = #filePath, sourceLine: UInt = #line) {
        XCTAssertEqual(methodError(source), CompileError(line: line, column: column, message: message),
                       file: file, line: sourceLine)
    }

    func testDescription() {
        XCTAssertEqual(CompileError(line: 3, column: 7, message: "undeclared variable 'zork'").description,
                       "line 3, column 7: undeclared variable 'zork'")
    }

    func testLexicalErrors() {
        assertError("foo ^ 'abc", 1, 7, "unterminated string")
        assertError("foo ^ 3 \"comment", 1, 9, "unterminated comment")
        assertError("foo ^ ¿", 1, 7, "unknown character '¿'")
        assertError("foo\u{7}", 1, 4, "unknown character U+0007")
        assertError("foo ^ $", 1, 7, "expected a character after '$'")
        assertError("foo ^ # ", 1, 7, "expected a symbol, '(' or '[' after '#'")
    }

    func testNumberErrors() {
        assertError("foo ^ 37r1", 1, 7, "radix must be between 2 and 36")
        assertError("foo ^ 2r102", 1, 11, "digit '2' is not valid in radix 2")
        assertError("foo ^ 1e99999999", 1, 8, "exponent too large")
        assertError("foo ^ 16r1.8s2", 1, 7, "a scaled decimal must be written in base 10")
        assertError("foo ^ #[1 256]", 1, 11, "byte array elements must be integers between 0 and 255")
        assertError("foo ^ #[-1]", 1, 9, "byte array elements must be integers between 0 and 255")
    }

    func testUnclosedBrackets() {
        assertError("foo\n  ^ [:x | x\n", 3, 1, "expected ']' to close the block opened at line 2")
        assertError("foo ^ (1 + 2", 1, 13, "expected ')' to close the parenthesis opened at line 1")
        assertError("foo ^ (1 + 2]", 1, 13, "expected ')' to close the parenthesis opened at line 1")
        assertError("foo ^ {1. 2", 1, 12, "expected '}' to close the brace array opened at line 1")
        assertError("foo ^ #(1 2", 1, 12, "expected ')' to close the literal array opened at line 1")
        assertError("foo ^ #[1 2", 1, 12, "expected ']' to close the byte array opened at line 1")
        assertError("foo | a ", 1, 9, "expected '|' to close the temporaries declared at line 1")
        assertError("foo <primitive: 60", 1, 19, "expected '>' to close the pragma opened at line 1")
    }

    func testMissingPieces() {
        assertError("foo ^", 1, 6, "expected an expression")
        assertError("foo ^ x at: ", 1, 13, "missing argument after keyword 'at:'")
        assertError("foo ^ 3 foo: ]", 1, 14, "missing argument after keyword 'foo:'")
        assertError("foo\n\t^ x\n\t\t+ ]", 3, 5, "missing argument after binary selector '+'")
        assertError("foo ^ 3 + - 2", 1, 11, "missing argument after binary selector '+'")
        assertError("foo ^ [:x x]", 1, 11, "expected '|' after the block arguments")
        assertError("foo: ", 1, 6, "expected an argument name after 'foo:'")
        assertError("3 + 4", 1, 1, "expected a message pattern (a selector and its argument names)")
        assertError("foo ^ 1 2", 1, 9, "expected '.' or the end of the source, found a number")
        assertError("foo ^ x; y", 1, 8, "a cascade must follow a message send")
        assertError("foo ^ #(1 . 2)", 1, 11, "unexpected '.' in a literal array")
    }

    func testKeywordWithSpaceBeforeColon() {
        assertError("foo ^ x at : 3", 1, 12, "a keyword must not have a space before its colon")
    }

    func testVariables() {
        assertError("foo ^ zork", 1, 7, "undeclared variable 'zork'")
        assertError("foo ^ [:a | b]", 1, 13, "undeclared variable 'b'")
        assertError("foo | a a | ^ a", 1, 9, "variable 'a' declared twice")
        assertError("foo: a | a |", 1, 10, "variable 'a' declared twice")
        assertError("foo: a bar: a", 1, 13, "variable 'a' declared twice")
        assertError("foo ^ [:a :a | a]", 1, 12, "variable 'a' declared twice")
        assertError("foo ^ [:self | 3]", 1, 9, "cannot use 'self' as a variable name")
        assertError("foo | nil |", 1, 7, "cannot use 'nil' as a variable name")
    }

    func testAssignments() {
        assertError("foo self := 3", 1, 5, "cannot store into 'self'")
        assertError("foo super := 3", 1, 5, "cannot store into 'super'")
        assertError("foo ^ thisContext := 3", 1, 7, "cannot store into 'thisContext'")
        assertError("foo true := 3", 1, 5, "cannot store into 'true'")
        assertError("foo: a a := 3", 1, 8, "cannot assign to argument 'a'")
        assertError("foo [:x | x := 1]", 1, 11, "cannot assign to argument 'x'")
        assertError("foo x ifNotNil: [:v | v := 1]", 1, 23, "cannot assign to argument 'v'")
        assertError("foo ^ super", 1, 7, "'super' can only be used as the receiver of a message")
    }

    func testPragmaErrors() {
        assertError("foo <primitive: 'x'>", 1, 17, "the primitive number must be an integer between 1 and 255 (higher numbers mark quick methods)")
        assertError("foo <primitive: 0>", 1, 17, "the primitive number must be an integer between 1 and 255 (higher numbers mark quick methods)")
        assertError("foo <primitive: 264>", 1, 17, "the primitive number must be an integer between 1 and 255 (higher numbers mark quick methods)")
        assertError("foo <primitive: 1> <primitive: 2>", 1, 20, "a method can have only one primitive")
        assertError("foo <bar: baz>", 1, 11, "expected a literal after 'bar:' in the pragma")
        assertError("foo <primitive: 1 error: ec> | ec |", 1, 32, "variable 'ec' declared twice")
    }

    func testLimits() {
        let sixteen = (1...16).map { "a\($0): x\($0)" }.joined(separator: " ")
        XCTAssertEqual(methodError(sixteen)?.message, "too many arguments (at most 15)")
        let fifteen = (1...15).map { "a\($0): x\($0)" }.joined(separator: " ")
        XCTAssertNil(methodError(fifteen))
        XCTAssertEqual(methodError("foo ^ [:a :b :c :d :e :f :g :h :i :j :k :l :m :n :o :p | a]")?.message,
                       "too many arguments (at most 15)")
        let temps = { (n: Int) in "foo | " + (1...n).map { "t\($0)" }.joined(separator: " ") + " |" }
        XCTAssertNil(methodError(temps(Frame.maxLocals)))
        XCTAssertEqual(methodError(temps(Frame.maxLocals + 1))?.message,
                       "too many temporaries: \(Frame.maxLocals + 1) locals, at most \(Frame.maxLocals)")
    }

    func testMethodTooLarge() {
        let body = String(repeating: "self foo. ", count: 6000)
        XCTAssertEqual(methodError("foo x ifTrue: [\(body)]")?.message, "method too large")
        XCTAssertNil(methodError("foo \(body)"))
    }

    func testTooManyLiterals() {
        let body = (0..<22_000).map { "self m\($0)" }.joined(separator: ". ")
        XCTAssertEqual(methodError("foo " + body)?.message, "too many literals")
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let parens = String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        XCTAssertEqual(methodError("foo ^ " + parens)?.message, "expression nested too deeply")
        XCTAssertEqual(methodError("foo ^ " + String(repeating: "[", count: 10_000))?.message, "expression nested too deeply")
        XCTAssertEqual(methodError("foo ^ #" + String(repeating: "(", count: 10_000))?.message, "literal array nested too deeply")
        XCTAssertEqual(methodError("foo ^ 1" + String(repeating: " + 1", count: 10_000))?.message, "expression nested too deeply")
        XCTAssertEqual(methodError("foo ^ 1" + String(repeating: " foo", count: 10_000))?.message, "expression nested too deeply")
        XCTAssertNil(methodError("foo ^ 1" + String(repeating: " + 1", count: 300)))
    }

    func testFirstErrorInSourceOrderWins() {
        assertError("foo ^ ) 'unterminated", 1, 7, "expected an expression")
    }
}
