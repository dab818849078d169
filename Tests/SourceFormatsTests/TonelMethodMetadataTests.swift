// Method metadata (`{ #category : ... }`), class-side methods and extension methods in Tonel.

import XCTest
@testable import SourceFormats

final class TonelMethodMetadataTests: XCTestCase {
    func testCategoryAsPlainQuotedAndStringValues() throws {
        let text = fooHeader + """
        { #category : #accessing }
        Foo >> a [ ]

        { #category : #'instance creation' }
        Foo >> b [ ]

        { #category : 'it\\'s' }
        Foo >> c [ ]
        """
        let (_, methods) = try parseClass(text)
        XCTAssertEqual(methods.map(\.category), ["accessing", "instance creation", "it's"])
    }

    func testMissingMetadataMeansEmptyCategory() throws {
        let (_, methods) = try parseClass(fooHeader + "Foo >> a [\n\t^ 1\n]\n")
        XCTAssertEqual(methods.first?.category, "")
    }

    func testOtherMetadataKeysAreIgnored() throws {
        let text = fooHeader + "{\n\t#category : #tests,\n\t#author : 'jd',\n\t#tags : [ #slow ]\n}\nFoo >> a [ ]\n"
        let (_, methods) = try parseClass(text)
        XCTAssertEqual(methods.first?.category, "tests")
        XCTAssertEqual(methods.first?.location.line, 8)
    }

    func testMetadataWithoutCategory() throws {
        let (_, methods) = try parseClass(fooHeader + "{ #author : 'jd' }\nFoo >> a [ ]\n")
        XCTAssertEqual(methods.first?.category, "")
    }

    func testClassSideMethods() throws {
        let text = fooHeader + "{ #category : #'instance creation' }\nFoo class >> new: n [\n\t^ self basicNew: n\n]\n"
        let (_, methods) = try parseClass(text)
        XCTAssertEqual(methods, [MethodDefinition(
            className: "Foo", isClassSide: true, category: "instance creation",
            source: "new: n\n\t^ self basicNew: n", location: SourceLocation(file: "Foo.class.st", line: 4))])
    }

    func testExtensionMethodsOnBothSides() throws {
        let text = "Extension { #name : #Object }\n\n{ #category : #'*Tests' }\nObject >> isFoo [\n\t^ false\n]\n\n{ #category : #'*Tests' }\nObject class >> foo [\n\t^ 1\n]\n"
        guard case .classExtension(let className, let methods) = try TonelReader.parse(contents: text, file: "Object.extension.st") else {
            return XCTFail("not an extension")
        }
        XCTAssertEqual(className, "Object")
        XCTAssertEqual(methods.map(\.isClassSide), [false, true])
        XCTAssertEqual(methods.map(\.category), ["*Tests", "*Tests"])
        XCTAssertEqual(methods.map(\.source), ["isFoo\n\t^ false", "foo\n\t^ 1"])
    }
}
