// Reading the class definition part of Tonel files: keys, comment, root classes, Pharo variants.

import XCTest
@testable import SourceFormats

final class TonelClassDefinitionTests: XCTestCase {
    func testReadsAllDefinitionKeys() throws {
        let text = """
        Class {
        \t#name : #OrderedCollection,
        \t#superclass : #SequenceableCollection,
        \t#instVars : [
        \t\t'array',
        \t\t'firstIndex'
        \t],
        \t#classVars : [
        \t\t'Default'
        \t],
        \t#classInstVars : [ 'cache' ],
        \t#pools : [ 'TextConstants' ],
        \t#type : #variable,
        \t#category : #'Collections-Sequenceable'
        }
        """
        let (definition, methods) = try parseClass(text, file: "OrderedCollection.class.st")
        XCTAssertEqual(definition, ClassDefinition(
            name: "OrderedCollection", superclassName: "SequenceableCollection",
            instanceVariables: ["array", "firstIndex"], classVariables: ["Default"],
            classInstanceVariables: ["cache"], poolDictionaries: ["TextConstants"],
            package: "Collections-Sequenceable", type: .variable, comment: "",
            location: SourceLocation(file: "OrderedCollection.class.st", line: 1)))
        XCTAssertEqual(methods, [])
    }

    func testCommentDropsItsFramingLineBreaksAndUndoublesQuotes() throws {
        let text = "\"\nI am the comment.\nSay \"\"hi\"\".\n\"\nClass {\n\t#name : #Foo,\n\t#superclass : #Object,\n\t#category : #X\n}\n"
        let (definition, _) = try parseClass(text)
        XCTAssertEqual(definition.comment, "I am the comment.\nSay \"hi\".")
        XCTAssertEqual(definition.location.line, 5)
    }

    func testRootClassHasNilSuperclass() throws {
        let (symbolNil, _) = try parseClass("Class { #name : #ProtoObject, #superclass : #nil, #category : #Kernel }")
        let (bareNil, _) = try parseClass("Class { #name : #ProtoObject, #superclass : nil, #category : #Kernel }")
        XCTAssertNil(symbolNil.superclassName)
        XCTAssertNil(bareNil.superclassName)
    }

    func testEveryClassTypeIsRecognised() throws {
        for type in ClassType.allCases {
            let (definition, _) = try parseClass("Class { #name : #T, #superclass : #Object, #type : #\(type.rawValue) }")
            XCTAssertEqual(definition.type, type)
        }
    }

    func testPharo12StringValuesAndPackageWithTag() throws {
        let text = "Class {\n\t#name : 'Point',\n\t#superclass : 'Object',\n\t#instVars : [ 'x', 'y' ],\n\t#package : 'Kernel',\n\t#tag : 'BasicObjects'\n}\n"
        let (definition, _) = try parseClass(text)
        XCTAssertEqual(definition.name, "Point")
        XCTAssertEqual(definition.superclassName, "Object")
        XCTAssertEqual(definition.instanceVariables, ["x", "y"])
        XCTAssertEqual(definition.package, "Kernel-BasicObjects")
    }

    func testUnknownKeysAreIgnored() throws {
        let (definition, _) = try parseClass("Class { #name : #Foo, #superclass : #Object, #future : [ 1, true, { #a : -2 } ] }")
        XCTAssertEqual(definition.name, "Foo")
    }

    func testEmptyTraitCompositionsAreAccepted() throws {
        let text = "Class { #name : #Foo, #superclass : #Object, #traits : '', #classTraits : '{}', #category : #X }"
        let (definition, _) = try parseClass(text)
        XCTAssertEqual(definition.package, "X")
    }

    func testExtensionAndPackageDocuments() throws {
        XCTAssertEqual(try TonelReader.parse(contents: "Extension { #name : #Object }\n", file: "Object.extension.st"),
                       .classExtension(className: "Object", methods: []))
        XCTAssertEqual(try TonelReader.parse(contents: "Package { #name : #'Kernel-Objects' }\n", file: "package.st"),
                       .package(name: "Kernel-Objects"))
    }

    func testCRLFLineEndingsReadLikeLF() throws {
        let text = "\"\r\nComment.\r\n\"\r\nClass { #name : #Foo, #superclass : #Object }\r\n\r\nFoo >> x [\r\n\t^ 1\r\n]\r\n"
        let (definition, methods) = try parseClass(text)
        XCTAssertEqual(definition.comment, "Comment.")
        XCTAssertEqual(methods.first?.source, "x\n\t^ 1")
        XCTAssertEqual(methods.first?.location.line, 6)
    }
}
