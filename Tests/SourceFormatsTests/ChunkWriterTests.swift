// Writing chunk-format file-outs, and reading them back.

import XCTest
@testable import SourceFormats

final class ChunkWriterTests: XCTestCase {
    private let account = ClassDefinition(
        name: "Account", superclassName: "Object", instanceVariables: ["balance"],
        classInstanceVariables: ["count"], package: "Bank", comment: "Holds money! It's safe.")

    private let methods = [
        MethodDefinition(className: "Account", category: "accessing", source: "balance\n\t^ balance"),
        MethodDefinition(className: "Account", category: "printing", source: "printOn: s\n\ts << 'Account!'"),
        MethodDefinition(className: "Account", category: "accessing", source: "add: n\n\tbalance := balance + n"),
        MethodDefinition(className: "Account", isClassSide: true, category: "instance creation", source: "new\n\t^ super new add: 0"),
    ]

    func testFileOutLayout() {
        let expected = """
        Object subclass: #Account instanceVariableNames: 'balance' classVariableNames: '' package: 'Bank'!

        Account comment: 'Holds money!! It''s safe.'!

        Account class instanceVariableNames: 'count'!

        !Account methodsFor: 'accessing'!
        add: n
        \tbalance := balance + n!

        balance
        \t^ balance! !

        !Account methodsFor: 'printing'!
        printOn: s
        \ts << 'Account!!'! !

        !Account class methodsFor: 'instance creation'!
        new
        \t^ super new add: 0! !


        """
        XCTAssertEqual(ChunkWriter.fileOut(class: account, methods: methods), expected)
    }

    func testFileOutRoundTrip() throws {
        let items = try ChunkReader.parse(contents: ChunkWriter.fileOut(class: account, methods: methods), file: "a.st")
        let doIts = items.compactMap { item -> String? in
            if case .doIt(let text, _) = item { return text } else { return nil }
        }
        XCTAssertEqual(doIts, [account.definitionMessage, "Account comment: 'Holds money! It''s safe.'",
                               "Account class instanceVariableNames: 'count'"])
        let readMethods = items.flatMap { item -> [MethodDefinition] in
            if case .methods(_, _, _, let methods) = item { return methods } else { return [] }
        }
        XCTAssertEqual(Set(readMethods.map(\.unlocated.source)), Set(methods.map(\.source)))
        XCTAssertEqual(readMethods.map(\.unlocated).sorted { $0.source < $1.source }, methods.sorted { $0.source < $1.source })
    }

    func testFileOutOfAPlainClassHasOnlyTheDefinition() {
        let plain = ClassDefinition(name: "Empty", superclassName: "Object", package: "P")
        XCTAssertEqual(ChunkWriter.fileOut(class: plain, methods: []),
                       "Object subclass: #Empty instanceVariableNames: '' classVariableNames: '' package: 'P'!\n\n")
    }
}
