// The Pharo class-definition expressions a ClassDefinition prints as.

import XCTest
@testable import SourceFormats

final class DefinitionMessageTests: XCTestCase {
    func testOrdinaryClass() {
        let point = ClassDefinition(name: "Point", superclassName: "Object", instanceVariables: ["x", "y"], package: "Kernel-Numbers")
        XCTAssertEqual(point.definitionMessage,
                       "Object subclass: #Point instanceVariableNames: 'x y' classVariableNames: '' package: 'Kernel-Numbers'")
    }

    func testSubclassKeywordFollowsTheType() {
        let keywords: [ClassType: String] = [
            .normal: "subclass:", .variable: "variableSubclass:", .bytes: "variableByteSubclass:",
            .words: "variableWordSubclass:", .doubleWords: "variableDoubleWordSubclass:", .weak: "weakSubclass:",
            .immediate: "immediateSubclass:", .compiledMethod: "variableByteSubclass:",
        ]
        for (type, keyword) in keywords {
            let definition = ClassDefinition(name: "T", superclassName: "Object", package: "P", type: type)
            XCTAssertTrue(definition.definitionMessage.hasPrefix("Object \(keyword) #T "), "\(type)")
        }
    }

    func testRootClassPoolsAndQuotes() {
        let definition = ClassDefinition(name: "ProtoObject", superclassName: nil, classVariables: ["A", "B"],
                                         poolDictionaries: ["Pool"], package: "It's")
        XCTAssertEqual(definition.definitionMessage,
                       "nil subclass: #ProtoObject instanceVariableNames: '' classVariableNames: 'A B' poolDictionaries: 'Pool' package: 'It''s'")
    }

    func testClassSideDefinitionOnlyWithClassInstanceVariables() {
        XCTAssertNil(ClassDefinition(name: "Foo", superclassName: "Object").classSideDefinitionMessage)
        XCTAssertEqual(ClassDefinition(name: "Foo", superclassName: "Object", classInstanceVariables: ["a", "b"]).classSideDefinitionMessage,
                       "Foo class instanceVariableNames: 'a b'")
    }
}
