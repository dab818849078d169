// Reading chunk-format file-ins: do-its, method sections, class comments, `!!` escapes, errors.

import XCTest
@testable import SourceFormats

final class ChunkReaderTests: XCTestCase {
    private let fileIn = """
    Object subclass: #Account
    \tinstanceVariableNames: 'balance'
    \tclassVariableNames: ''
    \tpackage: 'Bank'!

    !Account methodsFor: 'accessing' stamp: 'jd 1/1/2020 10:00'!
    balance
    \t^ balance! !

    !Account class methodsFor: 'instance creation'!
    new
    \t^ super new setBalance: 0!

    named: aString
    \t"Shout!!"
    \t^ self new name: aString! !

    Transcript show: 'Wow!! done'; cr!
    """

    private func location(_ line: Int) -> SourceLocation { SourceLocation(file: "bank.st", line: line) }

    func testReadsDoItsAndMethodSectionsWithLocations() throws {
        let items = try ChunkReader.parse(contents: fileIn, file: "bank.st")
        XCTAssertEqual(items, [
            .doIt("Object subclass: #Account\n\tinstanceVariableNames: 'balance'\n\tclassVariableNames: ''\n\tpackage: 'Bank'", location(1)),
            .methods(className: "Account", isClassSide: false, category: "accessing", [
                MethodDefinition(className: "Account", category: "accessing", source: "balance\n\t^ balance", location: location(7)),
            ]),
            .methods(className: "Account", isClassSide: true, category: "instance creation", [
                MethodDefinition(className: "Account", isClassSide: true, category: "instance creation",
                                 source: "new\n\t^ super new setBalance: 0", location: location(11)),
                MethodDefinition(className: "Account", isClassSide: true, category: "instance creation",
                                 source: "named: aString\n\t\"Shout!\"\n\t^ self new name: aString", location: location(14)),
            ]),
            .doIt("Transcript show: 'Wow! done'; cr", location(18)),
        ])
    }

    func testDoubledBangIsALiteralBang() throws {
        XCTAssertEqual(try ChunkReader.parse(contents: "x := 'a!!b!!!!'!", file: "f"),
                       [.doIt("x := 'a!b!!'", SourceLocation(file: "f", line: 1))])
    }

    func testLeadingBlankLinesAreSkippedButCounted() throws {
        XCTAssertEqual(try ChunkReader.parse(contents: "\n\n   \n\t1 + 2\n\n!\n\n3!", file: "f"),
                       [.doIt("1 + 2", SourceLocation(file: "f", line: 4)), .doIt("3", SourceLocation(file: "f", line: 8))])
    }

    func testPharoClassSideVariablesAndCommentAreDoIts() throws {
        let items = try ChunkReader.parse(contents: "Foo class instanceVariableNames: 'count'!\nFoo comment: 'It''s a foo!!'!\n", file: "f")
        XCTAssertEqual(items, [.doIt("Foo class instanceVariableNames: 'count'", SourceLocation(file: "f", line: 1)),
                               .doIt("Foo comment: 'It''s a foo!'", SourceLocation(file: "f", line: 2))])
    }

    func testSqueakCommentStamp() throws {
        let items = try ChunkReader.parse(contents: "!Account commentStamp: 'jd 1/1/2020' prior: 0!\nI hold money!! Really.!\n", file: "f")
        XCTAssertEqual(items, [.classComment(className: "Account", comment: "I hold money! Really.", SourceLocation(file: "f", line: 2))])
    }

    func testEmptySectionAndMissingFinalTerminators() throws {
        let items = try ChunkReader.parse(contents: "!Foo methodsFor: 'none'! !\n!Foo methodsFor: 'x'!\nx ^ 1!", file: "f")
        XCTAssertEqual(items, [
            .methods(className: "Foo", isClassSide: false, category: "none", []),
            .methods(className: "Foo", isClassSide: false, category: "x",
                     [MethodDefinition(className: "Foo", category: "x", source: "x ^ 1", location: SourceLocation(file: "f", line: 3))]),
        ])
    }

    func testFinalDoItWithoutTerminatorIsAccepted() throws {
        XCTAssertEqual(try ChunkReader.parse(contents: "1!\n2 + 3\n", file: "f"),
                       [.doIt("1", SourceLocation(file: "f", line: 1)), .doIt("2 + 3", SourceLocation(file: "f", line: 2))])
    }

    func testCarriageReturnLineEndings() throws {
        let items = try ChunkReader.parse(contents: "!Foo methodsFor: 'a'!\rx\r\t^ 1! !\r", file: "f")
        XCTAssertEqual(items, [.methods(className: "Foo", isClassSide: false, category: "a",
                                        [MethodDefinition(className: "Foo", category: "a", source: "x\n\t^ 1",
                                                          location: SourceLocation(file: "f", line: 2))])])
    }

    func testTruncatedMethodIsAnError() {
        XCTAssertThrowsError(try ChunkReader.parse(contents: "!Foo methodsFor: 'a'!\nx\n\t^ 1", file: "f")) { error in
            XCTAssertEqual(error as? SourceFormatError,
                           SourceFormatError(location: SourceLocation(file: "f", line: 2), message: "this method is not terminated by '!'"))
        }
    }

    func testUnsupportedSectionHeaderIsAnError() {
        XCTAssertThrowsError(try ChunkReader.parse(contents: "1!\n\n!Foo reorganize!\n('a' b)!", file: "f")) { error in
            let error = error as? SourceFormatError
            XCTAssertEqual(error?.location, SourceLocation(file: "f", line: 3))
            XCTAssertTrue(error?.message.contains("unsupported section '!Foo reorganize!'") ?? false)
        }
    }

    func testCommentStampWithoutCommentIsAnError() {
        XCTAssertThrowsError(try ChunkReader.parse(contents: "!Foo commentStamp: 'x' prior: 0!\n", file: "f"))
    }
}
