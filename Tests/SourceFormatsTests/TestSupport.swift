// Helpers shared by the SourceFormats tests: parsing shortcuts, temporary folders, location stripping.

import Foundation
import XCTest
@testable import SourceFormats

/// A class header that test methods can be appended to (the methods start on line 3).
let fooHeader = "Class { #name : #Foo, #superclass : #Object, #category : #Tests }\n\n"

/// Parses a Tonel class file, failing the test if it is not one.
func parseClass(_ text: String, file: String = "Foo.class.st") throws -> (ClassDefinition, [MethodDefinition]) {
    guard case .classDefinition(let definition, let methods) = try TonelReader.parse(contents: text, file: file) else {
        XCTFail("not a class definition")
        throw CocoaError(.fileReadCorruptFile)
    }
    return (definition, methods)
}

/// The source of the only method of `Foo` whose Tonel text (header, brackets and all) is `method`.
func sourceOfMethod(_ method: String) throws -> String {
    let (_, methods) = try parseClass(fooHeader + method)
    XCTAssertEqual(methods.count, 1)
    return methods.first?.source ?? ""
}

/// The error that parsing Tonel text throws (nil, and a test failure, if it parses).
func tonelError(_ text: String, file: String = "Broken.class.st") -> SourceFormatError? {
    do {
        _ = try TonelReader.parse(contents: text, file: file)
        XCTFail("expected a SourceFormatError")
        return nil
    } catch {
        return error
    }
}

extension MethodDefinition {
    var unlocated: MethodDefinition {
        var copy = self
        copy.location = SourceLocation(file: "", line: 0)
        return copy
    }
}

extension ClassDefinition {
    var unlocated: ClassDefinition {
        var copy = self
        copy.location = SourceLocation(file: "", line: 0)
        return copy
    }
}

extension PackageDefinition {
    var unlocated: PackageDefinition {
        PackageDefinition(name: name, classes: classes.map(\.unlocated), extensions: extensions,
                          methods: methods.map(\.unlocated))
    }
}

extension XCTestCase {
    /// A fresh empty folder, removed when the test ends.
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "SourceFormatsTests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Writes `files` (relative path → contents) under `directory`, creating folders as needed.
    func writeFiles(_ files: [String: String], in directory: String) throws {
        for (relativePath, contents) in files {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(relativePath)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
    }
}
