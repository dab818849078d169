// Telling Tonel, chunk format and plain statement scripts apart.

import XCTest
@testable import SourceFormats

final class FormatDetectionTests: XCTestCase {
    func testTonelFilesAreRecognised() {
        XCTAssertTrue(TonelReader.looksLikeTonel("Class {\n\t#name : #Foo }"))
        XCTAssertTrue(TonelReader.looksLikeTonel("\n\"\nA \"\"quoted\"\" comment.\n\"\nClass{ }"))
        XCTAssertTrue(TonelReader.looksLikeTonel("Extension { #name : #Object }"))
        XCTAssertTrue(TonelReader.looksLikeTonel("Package { #name : #P }"))
        XCTAssertTrue(TonelReader.looksLikeTonel("Trait { #name : #T }"))
    }

    func testScriptsAreNotTonel() {
        XCTAssertFalse(TonelReader.looksLikeTonel("Class new"))
        XCTAssertFalse(TonelReader.looksLikeTonel("\"comment\" Transcript show: 'hi'"))
        XCTAssertFalse(TonelReader.looksLikeTonel("\"unterminated Class {"))
        XCTAssertFalse(TonelReader.looksLikeTonel(""))
    }

    func testChunkFilesAreRecognised() {
        XCTAssertTrue(ChunkReader.looksLikeChunkFormat("Object subclass: #Foo!"))
        XCTAssertTrue(ChunkReader.looksLikeChunkFormat("\"intro\"\n!Foo methodsFor: 'x'!\nx ^ 1! !"))
    }

    func testBangsInsideLiteralsAndCommentsDoNotMakeChunkFormat() {
        XCTAssertFalse(ChunkReader.looksLikeChunkFormat("Transcript show: 'Hello!'; cr.\n\"Done!\"\n$! printNl"))
        XCTAssertFalse(ChunkReader.looksLikeChunkFormat("3 + 4"))
        XCTAssertFalse(ChunkReader.looksLikeChunkFormat("'unterminated !"))
    }
}
