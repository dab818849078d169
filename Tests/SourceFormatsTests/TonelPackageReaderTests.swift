// Reading Tonel package folders and repositories from disk.

import XCTest
@testable import SourceFormats

final class TonelPackageReaderTests: XCTestCase {
    private let shapes: [String: String] = [
        "package.st": "Package { #name : #Shapes }\n",
        "Square.class.st": "Class { #name : #Square, #superclass : #Rectangle, #category : #Shapes }\n\nSquare >> side [ ^ 1 ]\n",
        "Rectangle.class.st": "Class { #name : #Rectangle, #superclass : #Shape }\n\nRectangle >> area [ ^ 2 ]\n",
        "Shape.class.st": "Class { #name : #Shape, #superclass : #Object, #category : #'Shapes-Core' }\n\nShape >> area [ ^ 0 ]\n",
        "Number.extension.st": "Extension { #name : #Number }\n\n{ #category : #'*Shapes' }\nNumber >> squared [ ^ self * self ]\n",
        "notes.txt": "not a source file",
    ]

    func testReadsClassesSuperclassFirstThenExtensions() throws {
        let directory = try temporaryDirectory()
        try writeFiles(shapes, in: directory)
        let package = try TonelReader.readPackage(directory: directory)
        XCTAssertEqual(package.name, "Shapes")
        XCTAssertEqual(package.classes.map(\.name), ["Shape", "Rectangle", "Square"])
        XCTAssertEqual(package.extensions, ["Number"])
        XCTAssertEqual(package.methods.map { "\($0.className)>>\($0.selector ?? "")" },
                       ["Shape>>area", "Rectangle>>area", "Square>>side", "Number>>squared"])
        XCTAssertEqual(package.methods.last?.location, SourceLocation(file: directory + "/Number.extension.st", line: 4))
    }

    func testClassWithoutCategoryGetsThePackageName() throws {
        let directory = try temporaryDirectory()
        try writeFiles(shapes, in: directory)
        let package = try TonelReader.readPackage(directory: directory)
        XCTAssertEqual(package.classes.map(\.package), ["Shapes-Core", "Shapes", "Shapes"])
    }

    func testFolderWithoutPackageFileIsAnError() throws {
        let directory = try temporaryDirectory()
        XCTAssertThrowsError(try TonelReader.readPackage(directory: directory)) { error in
            XCTAssertEqual((error as? SourceFormatError)?.message, "not a Tonel package: there is no package.st")
        }
    }

    func testTraitFileInPackageIsRejectedWithItsPath() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["package.st": "Package { #name : #P }", "TFoo.trait.st": "Trait { #name : #TFoo }"], in: directory)
        XCTAssertThrowsError(try TonelReader.readPackage(directory: directory)) { error in
            XCTAssertEqual((error as? SourceFormatError)?.location, SourceLocation(file: directory + "/TFoo.trait.st", line: 1))
        }
    }

    func testClassDefinedTwiceIsAnError() throws {
        let directory = try temporaryDirectory()
        let definition = "Class { #name : #Foo, #superclass : #Object }"
        try writeFiles(["package.st": "Package { #name : #P }", "A.class.st": definition, "B.class.st": definition], in: directory)
        XCTAssertThrowsError(try TonelReader.readPackage(directory: directory)) { error in
            XCTAssertEqual((error as? SourceFormatError)?.location.file, directory + "/B.class.st")
        }
    }

    func testSuperclassCycleIsAnError() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["package.st": "Package { #name : #P }",
                        "A.class.st": "Class { #name : #A, #superclass : #B }",
                        "B.class.st": "Class { #name : #B, #superclass : #A }"], in: directory)
        XCTAssertThrowsError(try TonelReader.readPackage(directory: directory)) { error in
            XCTAssertTrue((error as? SourceFormatError)?.message.contains("form a cycle") ?? false)
        }
    }

    func testRepositoryPackagesAreOrderedByName() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["Zeta/package.st": "Package { #name : #Zeta }",
                        "Alpha/package.st": "Package { #name : #Alpha }",
                        "docs/readme.md": "not a package",
                        ".properties": "{\n\t#format : #tonel\n}"], in: directory)
        XCTAssertEqual(try TonelReader.readRepository(directory: directory).map(\.name), ["Alpha", "Zeta"])
    }

    func testPackagesTxtOrderComesFirst() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["Kernel/package.st": "Package { #name : #Kernel }",
                        "Base/package.st": "Package { #name : #Base }",
                        "Tests/package.st": "Package { #name : #Tests }",
                        "packages.txt": "Kernel\n\n  Base  \n"], in: directory)
        XCTAssertEqual(try TonelReader.readRepository(directory: directory).map(\.name), ["Kernel", "Base", "Tests"])
    }

    func testPackagesTxtNamingAMissingFolderIsAnError() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["Kernel/package.st": "Package { #name : #Kernel }", "packages.txt": "Kernel\nKernal\n"], in: directory)
        XCTAssertThrowsError(try TonelReader.readRepository(directory: directory)) { error in
            XCTAssertEqual((error as? SourceFormatError)?.location, SourceLocation(file: directory + "/packages.txt", line: 2))
        }
    }

    func testPropertiesOfAnotherFormatAreAnError() throws {
        let directory = try temporaryDirectory()
        try writeFiles([".properties": "{ #format : #filetree }"], in: directory)
        XCTAssertThrowsError(try TonelReader.readRepository(directory: directory)) { error in
            XCTAssertTrue((error as? SourceFormatError)?.message.contains("not #tonel") ?? false)
        }
    }

    func testReadFileOfAMissingPath() {
        XCTAssertThrowsError(try TonelReader.readFile(path: "/nonexistent/Foo.class.st")) { error in
            XCTAssertEqual((error as? SourceFormatError)?.location, SourceLocation(file: "/nonexistent/Foo.class.st", line: 0))
        }
    }
}
