// Selectors of method sources, read from their patterns.

import XCTest
@testable import SourceFormats

final class MethodPatternTests: XCTestCase {
    private func selector(_ source: String) -> String? {
        MethodDefinition(className: "Foo", source: source).selector
    }

    func testUnaryBinaryAndKeywordSelectors() {
        XCTAssertEqual(selector("size\n\t^ 0"), "size")
        XCTAssertEqual(selector("<= other\n\t^ true"), "<=")
        XCTAssertEqual(selector("-other ^ 0"), "-")
        XCTAssertEqual(selector("at: i put: v\n\t^ v"), "at:put:")
        XCTAssertEqual(selector("  with:a\n with: b ^ a"), "with:with:")
    }

    func testAssignmentIsNotAKeyword() {
        XCTAssertEqual(selector("value x := 3"), "value")
    }

    func testSourcesWithoutAPattern() {
        XCTAssertNil(selector(""))
        XCTAssertNil(selector("12 foo"))
        XCTAssertNil(selector("at: ^ 1"))
        XCTAssertNil(selector("+ 3"))
    }

    func testSplitsPatternFromBody() {
        let pattern = MethodPattern("\n at: i\n\tput: v \n\t^ v")
        XCTAssertEqual(pattern?.pattern, "at: i\n\tput: v")
        XCTAssertEqual(pattern?.body, " \n\t^ v")
    }
}
