import XCTest
import VMCore
@testable import Compiler

final class LexerTests: XCTestCase {
    private func kinds(_ source: String) -> [TokenKind] {
        Lexer.tokenize(source).map(\.kind).filter { $0 != .end }
    }

    func testAssignmentWithoutSpaces() {
        XCTAssertEqual(kinds("x:=3"), [.identifier("x"), .assignment, .number(.integer(Natural(3)))])
    }

    func testKeywordsAndColons() {
        XCTAssertEqual(kinds("at:put: [:a"), [.keyword("at:"), .keyword("put:"), .leftBracket, .colon, .identifier("a")])
    }

    func testBinarySelectors() {
        XCTAssertEqual(kinds("a->b <= ~= ==> \\\\ // ,"), [
            .identifier("a"), .binary("->"), .identifier("b"), .binary("<="), .binary("~="), .binary("==>"),
            .binary("\\\\"), .binary("//"), .binary(","),
        ])
        XCTAssertEqual(kinds("||"), [.binary("|"), .binary("|")])
        XCTAssertEqual(kinds("x+-1"), [.identifier("x"), .binary("+"), .binary("-"), .number(.integer(Natural(1)))])
    }

    func testNumberFollowedByPeriodOrLetters() {
        XCTAssertEqual(kinds("1.foo"), [.number(.integer(Natural(1))), .period, .identifier("foo")])
        XCTAssertEqual(kinds("2 even"), [.number(.integer(Natural(2))), .identifier("even")])
        XCTAssertEqual(kinds("3sin"), [.number(.integer(Natural(3))), .identifier("sin")])
        XCTAssertEqual(kinds("1e"), [.number(.integer(Natural(1))), .identifier("e")])
    }

    func testPositionsCountCodePointsPerLine() {
        let tokens = Lexer.tokenize("é\n\tab  'ç'\r\n  c")
        XCTAssertEqual(tokens.map(\.position), [
            SourcePosition(line: 1, column: 1), SourcePosition(line: 2, column: 2), SourcePosition(line: 2, column: 6),
            SourcePosition(line: 3, column: 3), SourcePosition(line: 3, column: 4),
        ])
    }

    func testLexicalErrorStopsTokenizing() {
        let tokens = Lexer.tokenize("a 'open")
        XCTAssertEqual(tokens.count, 2)
        XCTAssertEqual(tokens[1].kind, .error(CompileError(line: 1, column: 3, message: "unterminated string")))
    }

    func testBlockArgumentsFollowedByTemporariesWithADoubleBar() {
        let m = method("foo ^ [:a || t | t := a. t]")
        XCTAssertEqual(listing(blocks(m.literals)[0]), ["pushTemp -1", "popStoreTemp 7", "pushTemp 7", "blockReturnTop"])
    }
}
