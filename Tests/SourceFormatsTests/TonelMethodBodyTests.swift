// Finding where a Tonel method body ends, and the source it yields.

import XCTest
@testable import SourceFormats

final class TonelMethodBodyTests: XCTestCase {
    func testSourceIsPatternThenBodyVerbatim() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> x [\n\t| a |\n\ta := 1.\n\t^ a\n]\n"), "x\n\t| a |\n\ta := 1.\n\t^ a")
    }

    func testPharoBlankLineAfterPatternIsKept() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> x [\n\n\t^ x\n]\n"), "x\n\n\t^ x")
    }

    func testTrailingBlankLinesAreTrimmed() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> x [\n\t^ x\n\n\t\n]\n"), "x\n\t^ x")
    }

    func testBracketsInsideStringsDoNotCount() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> s [\n\t^ 'a ] b [[ c'\n]\n"), "s\n\t^ 'a ] b [[ c'")
    }

    func testDoubledQuotesInStrings() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> s [\n\t^ 'it''s ] here'\n]\n"), "s\n\t^ 'it''s ] here'")
    }

    func testBracketCharacterLiterals() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> c [\n\t^ $] = $[ or: [ $] isLetter ]\n]\n"),
                       "c\n\t^ $] = $[ or: [ $] isLetter ]")
    }

    func testQuoteCharacterLiterals() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> q [\n\t^ Array with: $' with: $\" with: $$ with: ']'\n]\n"),
                       "q\n\t^ Array with: $' with: $\" with: $$ with: ']'")
    }

    func testBracketsAndQuotesInsideComments() throws {
        let method = "Foo >> d [\n\t\"a ] comment [ with it's quote\"\n\t^ 'say \"]\"'\n]\n"
        XCTAssertEqual(try sourceOfMethod(method), "d\n\t\"a ] comment [ with it's quote\"\n\t^ 'say \"]\"'")
    }

    func testNestedBlocks() throws {
        let method = "Foo >> e [\n\t^ [ :x | [ :y | [ x + y ] value ] value: 2 ] value: 1\n]\n"
        XCTAssertEqual(try sourceOfMethod(method), "e\n\t^ [ :x | [ :y | [ x + y ] value ] value: 2 ] value: 1")
    }

    func testLiteralArraysAndByteArrays() throws {
        let method = "Foo >> f [\n\t^ #( $[ $] #[ 1 2 3 ] #sym: 'x]' #( 1 #[ 4 ] ) )\n]\n"
        XCTAssertEqual(try sourceOfMethod(method), "f\n\t^ #( $[ $] #[ 1 2 3 ] #sym: 'x]' #( 1 #[ 4 ] ) )")
    }

    func testBinaryAndMultiLineKeywordPatterns() throws {
        let (_, methods) = try parseClass(fooHeader + "Foo >> + other [\n\t^ other\n]\n\nFoo >> at: index\n\tput: value [\n\t^ value\n]\n")
        XCTAssertEqual(methods.map(\.source), ["+ other\n\t^ other", "at: index\n\tput: value\n\t^ value"])
        XCTAssertEqual(methods.map(\.selector), ["+", "at:put:"])
    }

    func testBodyOnTheHeaderLine() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> one [ ^ 1 ]\n"), "one ^ 1")
    }

    func testEmptyBody() throws {
        XCTAssertEqual(try sourceOfMethod("Foo >> nothing [\n]\n"), "nothing")
    }

    func testLocationIsTheLineOfThePattern() throws {
        let text = fooHeader + "{ #category : #a }\nFoo >> a [\n\t^ 1\n]\n\n{ #category : #b }\nFoo >> b [\n\t^ 2\n]\n"
        let (_, methods) = try parseClass(text, file: "src/Foo.class.st")
        XCTAssertEqual(methods.map(\.location), [SourceLocation(file: "src/Foo.class.st", line: 4),
                                                 SourceLocation(file: "src/Foo.class.st", line: 9)])
    }
}
