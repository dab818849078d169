// Broken Tonel input: every problem is a SourceFormatError naming the file and the line.

import XCTest
@testable import SourceFormats

final class TonelErrorTests: XCTestCase {
    private func assertError(_ text: String, line: Int, mentions fragment: String,
                             file: StaticString = #filePath, testLine: UInt = #line) {
        guard let error = tonelError(text) else { return }
        XCTAssertEqual(error.location, SourceLocation(file: "Broken.class.st", line: line), "\(error)", file: file, line: testLine)
        XCTAssertTrue(error.message.contains(fragment), "\(error)", file: file, line: testLine)
    }

    func testMethodWithoutClosingBracket() {
        assertError(fooHeader + "Foo >> ok [ ^ 1 ]\n\nFoo >> broken [\n\t^ [ 1\n", line: 5, mentions: "no closing ']'")
    }

    func testUnterminatedStringInMethod() {
        assertError(fooHeader + "Foo >> broken [\n\t^ 'oops\n]\n", line: 4, mentions: "unterminated string in method 'Foo >> broken' (line 3)")
    }

    func testUnterminatedCommentInMethod() {
        assertError(fooHeader + "Foo >> broken [\n\t\"oops ]\n", line: 4, mentions: "unterminated comment")
    }

    func testMissingOpeningBracket() {
        assertError(fooHeader + "Foo >> broken\n\t^ 1\n", line: 3, mentions: "has no '['")
    }

    func testInvalidPattern() {
        assertError(fooHeader + "Foo >> 12 [ ]\n", line: 3, mentions: "is not a method pattern")
    }

    func testMissingArrowIsNotAMethod() {
        assertError(fooHeader + "Foo bar [ ]\n", line: 3, mentions: "expected a method such as")
    }

    func testMetadataWithoutColon() {
        assertError(fooHeader + "{ #category #accessing }\nFoo >> a [ ]\n", line: 3, mentions: "expected ':' after #category")
    }

    func testUnclosedMetadata() {
        assertError(fooHeader + "{ #category : #accessing\nFoo >> a [ ]\n", line: 4, mentions: "expected ',' or '}'")
    }

    func testCategoryThatIsNotText() {
        assertError(fooHeader + "{\n\t#category : [ #a ]\n}\nFoo >> a [ ]\n", line: 4, mentions: "#category must be a symbol or a string")
    }

    func testMethodOfAnotherClass() {
        assertError(fooHeader + "Bar >> a [ ]\n", line: 3, mentions: "does not belong to Foo")
    }

    func testUnterminatedClassComment() {
        assertError("\"\nA comment\nClass { }\n", line: 1, mentions: "not closed by '\"'")
    }

    func testMissingDefinitionKeyword() {
        assertError("\"comment\"\n\nObject subclass: #Foo\n", line: 3, mentions: "expected 'Class {'")
    }

    func testTraitFileIsRejected() {
        assertError("Trait {\n\t#name : #TFoo,\n\t#category : #X\n}\n", line: 1, mentions: "traits are not supported")
    }

    func testClassUsingTraitsIsRejected() {
        assertError("Class {\n\t#name : #Foo,\n\t#superclass : #Object,\n\t#traits : 'TFoo',\n\t#category : #X\n}\n",
                    line: 4, mentions: "traits are not supported (#traits)")
    }

    func testSlotsAreRejected() {
        assertError("Class {\n\t#name : #Foo,\n\t#superclass : #Object,\n\t#slots : [ 'x' ]\n}\n", line: 4, mentions: "slots are not supported")
    }

    func testUnknownClassType() {
        assertError("Class {\n\t#name : #Foo,\n\t#superclass : #Object,\n\t#type : #ephemeron\n}\n", line: 4, mentions: "unsupported class type #ephemeron")
    }

    func testMissingSuperclass() {
        assertError("Class {\n\t#name : #Foo\n}\n", line: 1, mentions: "has no #superclass")
    }

    func testMissingName() {
        assertError("Class { #superclass : #Object }\n", line: 1, mentions: "has no #name")
    }

    func testDuplicateKey() {
        assertError("Class {\n\t#name : #Foo,\n\t#name : #Bar\n}\n", line: 3, mentions: "duplicate key #name")
    }

    func testInstanceVariablesThatAreNotAList() {
        assertError("Class {\n\t#name : #Foo,\n\t#superclass : #Object,\n\t#instVars : #x\n}\n", line: 4, mentions: "#instVars must be a list")
    }

    func testTextAfterPackageDefinition() {
        assertError("Package { #name : #P }\nFoo >> a [ ]\n", line: 2, mentions: "unexpected text after the Package definition")
    }

    func testErrorDescriptionIsFileLineMessage() {
        let error = SourceFormatError(location: SourceLocation(file: "a/Foo.class.st", line: 7), message: "boom")
        XCTAssertEqual(error.description, "a/Foo.class.st:7: boom")
    }
}
