// Writing Tonel in Pharo's layout, and reading back exactly what was written.

import XCTest
@testable import SourceFormats

final class TonelWriterTests: XCTestCase {
    private let point = ClassDefinition(
        name: "Point", superclassName: "Object", instanceVariables: ["x", "y"],
        package: "Kernel-Numbers", comment: "I am a point.\nSay \"cheese\".")

    private let pointMethods = [
        MethodDefinition(className: "Point", category: "accessing", source: "x\n\t^ x"),
        MethodDefinition(className: "Point", category: "accessing", source: "y\n\t^ y"),
        MethodDefinition(className: "Point", isClassSide: true, category: "instance creation",
                         source: "x: ax y: ay\n\t^ self new setX: ax y: ay"),
        MethodDefinition(className: "Point", category: "arithmetic", source: "+ other\n\t^ (x + other x) @ (y + other y)"),
    ]

    private let pointFile = """
    "
    I am a point.
    Say ""cheese"".
    "
    Class {
    \t#name : #Point,
    \t#superclass : #Object,
    \t#instVars : [
    \t\t'x',
    \t\t'y'
    \t],
    \t#category : #'Kernel-Numbers'
    }

    { #category : #accessing }
    Point >> x [
    \t^ x
    ]

    { #category : #accessing }
    Point >> y [
    \t^ y
    ]

    { #category : #arithmetic }
    Point >> + other [
    \t^ (x + other x) @ (y + other y)
    ]

    { #category : #'instance creation' }
    Point class >> x: ax y: ay [
    \t^ self new setX: ax y: ay
    ]

    """

    func testRendersPharoLayoutSortedByCategoryThenSelector() {
        XCTAssertEqual(TonelWriter.render(class: point, methods: pointMethods), pointFile)
    }

    func testRendersEveryDefinitionKeyInPharoOrder() {
        let definition = ClassDefinition(
            name: "Cache", superclassName: nil, instanceVariables: ["a"], classVariables: ["Default"],
            classInstanceVariables: ["instances"], poolDictionaries: ["Pool"], package: "Base", type: .weak)
        let expected = "Class {\n\t#name : #Cache,\n\t#superclass : #nil,\n\t#type : #weak,\n\t#instVars : [\n\t\t'a'\n\t],\n\t#classVars : [\n\t\t'Default'\n\t],\n\t#pools : [\n\t\t'Pool'\n\t],\n\t#classInstVars : [\n\t\t'instances'\n\t],\n\t#category : #Base\n}\n"
        XCTAssertEqual(TonelWriter.render(class: definition, methods: []), expected)
    }

    func testRendersExtensionAndPackageFiles() {
        let method = MethodDefinition(className: "Object", category: "*Shapes", source: "isShape\n\t^ false")
        XCTAssertEqual(TonelWriter.renderExtension(className: "Object", methods: [method]),
                       "Extension { #name : #Object }\n\n{ #category : #'*Shapes' }\nObject >> isShape [\n\t^ false\n]\n")
        XCTAssertEqual(TonelWriter.renderPackageFile(name: "Kernel-Objects"), "Package { #name : #'Kernel-Objects' }\n")
    }

    func testCanonicalFileRoundTripsToTheSameText() throws {
        let (definition, methods) = try parseClass(pointFile)
        XCTAssertEqual(TonelWriter.render(class: definition, methods: methods), pointFile)
    }

    func testClassRoundTrip() throws {
        let trickyMethods = pointMethods + [
            MethodDefinition(className: "Point", category: "it's odd", source: "odd: a with: b\n\t\"]\" ^ #( $] $' ) , 'x]' , (a ifTrue: [ b ])"),
            MethodDefinition(className: "Point", source: "uncategorized ^ 1"),
            MethodDefinition(className: "Point", category: "a\\b", source: "empty"),
        ]
        let (definition, methods) = try parseClass(TonelWriter.render(class: point, methods: trickyMethods))
        XCTAssertEqual(definition.unlocated, point)
        XCTAssertEqual(Set(methods.map(\.unlocated.source)), Set(trickyMethods.map(\.source)))
        XCTAssertEqual(methods.map(\.unlocated).sorted { $0.source < $1.source }, trickyMethods.sorted { $0.source < $1.source })
    }

    func testWrittenLocationsPointAtThePattern() throws {
        let text = TonelWriter.render(class: point, methods: pointMethods)
        let (_, methods) = try parseClass(text)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for method in methods {
            XCTAssertTrue(lines[method.location.line - 1].contains(">> " + (method.source.split(separator: "\n").first ?? "")))
        }
    }

    func testPackageRoundTrip() throws {
        let directory = try temporaryDirectory()
        let package = PackageDefinition(
            name: "Geometry",
            classes: [ClassDefinition(name: "Shape", superclassName: "Object", package: "Geometry"),
                      ClassDefinition(name: "Circle", superclassName: "Shape", instanceVariables: ["radius"],
                                      package: "Geometry", type: .normal, comment: "A round shape.")],
            extensions: ["Number", "Object"],
            methods: [MethodDefinition(className: "Shape", category: "accessing", source: "area\n\t^ self subclassResponsibility"),
                      MethodDefinition(className: "Circle", category: "accessing", source: "area\n\t^ radius squared * Float pi"),
                      MethodDefinition(className: "Circle", isClassSide: true, category: "instance creation", source: "radius: r\n\t^ self new setRadius: r"),
                      MethodDefinition(className: "Number", category: "*Geometry", source: "circle\n\t^ Circle radius: self")])
        try TonelWriter.write(package: package, to: directory)
        XCTAssertEqual(try TonelReader.readPackage(directory: directory).unlocated, package)
    }

    func testWritingReplacesStaleSourceFiles() throws {
        let directory = try temporaryDirectory()
        try writeFiles(["Old.class.st": "Class { #name : #Old, #superclass : #Object }", "keep.txt": "kept"], in: directory)
        try TonelWriter.write(package: PackageDefinition(name: "P"), to: directory)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["keep.txt", "package.st"])
    }

    func testRewritingWhatWasReadIsAFixedPoint() throws {
        let first = try temporaryDirectory(), second = try temporaryDirectory()
        try writeFiles(["package.st": "Package { #name : #P }",
                        "Foo.class.st": fooHeader + "{ #category : #b }\nFoo >> b [ ^ 2 ]\n{ #category : #a }\nFoo class >> a: x [\n\n\t^ x\n]\n",
                        "Object.extension.st": "Extension { #name : #Object }\nObject >> isFoo [ ^ false ]"], in: first)
        let read = try TonelReader.readPackage(directory: first)
        try TonelWriter.write(package: read, to: first)
        try TonelWriter.write(package: try TonelReader.readPackage(directory: first), to: second)
        for name in ["package.st", "Foo.class.st", "Object.extension.st"] {
            XCTAssertEqual(try String(contentsOfFile: first + "/" + name, encoding: .utf8),
                           try String(contentsOfFile: second + "/" + name, encoding: .utf8), name)
        }
        XCTAssertEqual(try TonelReader.readPackage(directory: first).unlocated.methods.count, read.methods.count)
    }
}
