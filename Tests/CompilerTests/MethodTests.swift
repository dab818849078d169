import XCTest
import VMCore
@testable import Compiler

/// Method structure: frame offsets, returns, statements, variables, maxStack and line tables.
final class MethodTests: XCTestCase {
    func testArgumentAndTempOffsets() {
        let m = method("a: p b: q c: r | s t | s := p. t := r. ^ q")
        XCTAssertEqual(m.selector, "a:b:c:")
        XCTAssertEqual(m.numArgs, 3)
        XCTAssertEqual(m.numTemps, 2)
        XCTAssertEqual(listing(m), ["pushTemp -3", "popStoreTemp 7", "pushTemp -1", "popStoreTemp 8", "pushTemp -2", "returnTop"])
    }

    func testEmptyMethodReturnsSelf() {
        let m = method("foo")
        XCTAssertEqual(listing(m), ["returnSelf"])
        XCTAssertEqual(m.maxStack, 0)
        XCTAssertEqual(m.source, "foo")
    }

    func testStatementsArePoppedAndMethodEndsWithReturnSelf() {
        XCTAssertEqual(listing(method("foo self bar. 3")), ["pushSelf", "send #bar 0", "pop", "pushInt8 3", "pop", "returnSelf"])
    }

    func testReturnSelfExpressionUsesReturnTop() {
        XCTAssertEqual(listing(method("foo ^ self")), ["pushSelf", "returnTop"])
    }

    func testNothingIsGeneratedAfterAReturn() {
        let m = method("foo ^ 1. self bar")
        XCTAssertEqual(listing(m), ["pushInt8 1", "returnTop"])
        XCTAssertTrue(m.literals.isEmpty)
    }

    func testInstanceVariables() {
        XCTAssertEqual(listing(method("setX: a x := a. y := x")),
                       ["pushTemp -1", "popStoreInstVar 0", "pushInstVar 0", "popStoreInstVar 1", "returnSelf"])
    }

    func testAssignmentChainsKeepTheValue() {
        XCTAssertEqual(listing(method("foo | t | ^ x := t := y := 3")),
                       ["pushInt8 3", "storeInstVar 1", "storeTemp 7", "storeInstVar 0", "returnTop"])
    }

    func testGlobalsUseOneBindingPerName() {
        let m = method("foo Foo := Bar. ^ Foo baz: Bar")
        XCTAssertEqual(listing(m), [
            "pushGlobal Bar (binding)", "popStoreGlobal Foo (binding)",
            "pushGlobal Foo (binding)", "pushGlobal Bar (binding)", "send #baz: 1", "returnTop",
        ])
        XCTAssertEqual(m.literals.filter { if case .binding = $0 { return true } else { return false } },
                       [.binding("Bar"), .binding("Foo")])
    }

    func testGlobalAssignmentValue() {
        XCTAssertEqual(listing(method("foo ^ Foo := 3")), ["pushInt8 3", "storeGlobal Foo (binding)", "returnTop"])
    }

    func testTempsShadowInstanceVariablesAndInstanceVariablesShadowGlobals() {
        XCTAssertEqual(listing(method("foo | x | ^ x")), ["pushTemp 7", "returnTop"])
        let scope = ClassScope(className: "Foo class", instanceVariables: ["Default"])
        XCTAssertEqual(listing(method("foo ^ Default", in: scope)), ["pushInstVar 0", "returnTop"])
    }

    func testBraceArray() {
        let m = method("foo ^ {1. x. 2 + 3}")
        XCTAssertEqual(listing(m), ["pushInt8 1", "pushInstVar 0", "pushInt8 2", "pushInt8 3", "sendAdd", "popIntoNewArray 3", "returnTop"])
        XCTAssertEqual(m.maxStack, 4)
        XCTAssertEqual(listing(method("foo ^ {}")), ["popIntoNewArray 0", "returnTop"])
    }

    func testThisContext() {
        XCTAssertEqual(listing(method("foo ^ thisContext sender")), ["pushThisContext", "send #sender 0", "returnTop"])
    }

    func testMaxStack() {
        XCTAssertEqual(method("foo ^ 1 + (2 + (3 + 4))").maxStack, 4)
        XCTAssertEqual(method("foo ^ self at: 1 put: 2").maxStack, 3)
        XCTAssertEqual(method("foo ^ x foo; bar: 1 baz: 2").maxStack, 3)
        let closure = method("foo: a bar: b ^ [a + b]")
        XCTAssertEqual(closure.maxStack, 2)
        XCTAssertEqual(blocks(closure.literals)[0].maxStack, 2)
        XCTAssertEqual(method("foo 1 to: 10 do: [:i | self bar: i baz: i]").maxStack, 3, "a loop used for effect leaves no value")
    }

    func testLineTable() {
        let m = method("""
        foo
            | t |
            t := 3.
            ^ t
                + 4
        """)
        XCTAssertEqual(listing(m), ["pushInt8 3", "popStoreTemp 7", "pushTemp 7", "pushInt8 4", "sendAdd", "returnTop"])
        // pushInt8 3 and popStoreTemp: 2 bytes each on line 3; pushTemp on line 4; the operand
        // and the send of `+` on line 5; the return belongs to `^` on line 4.
        XCTAssertEqual(m.lines, [3, 3, 3, 3, 4, 4, 5, 5, 5, 4])
    }

    func testLineTableOfBlocksAndImplicitReturns() {
        let m = method("""
        foo
            ^ [:a |
                a bar.
                a baz]
        """)
        let block = blocks(m.literals)[0]
        XCTAssertEqual(listing(block), ["pushTemp -1", "send #bar 0", "pop", "pushTemp -1", "send #baz 0", "blockReturnTop"])
        XCTAssertEqual(block.lines, [3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4])
        XCTAssertEqual(m.lines, [2, 2, 2, 2])
        XCTAssertEqual(method("foo\n  self bar.\n  self baz\n").lines.suffix(1), [3])
    }

    func testSelectorOfMethod() {
        XCTAssertEqual(SmalltalkCompiler.selector(ofMethod: "foo ^ 1"), "foo")
        XCTAssertEqual(SmalltalkCompiler.selector(ofMethod: "+ other ^ 1"), "+")
        XCTAssertEqual(SmalltalkCompiler.selector(ofMethod: "at: i put: v\n ^ v"), "at:put:")
        XCTAssertEqual(SmalltalkCompiler.selector(ofMethod: "  \"comment\" printOn: s ^ 1 +"), "printOn:")
        XCTAssertNil(SmalltalkCompiler.selector(ofMethod: "3 + 4"))
        XCTAssertNil(SmalltalkCompiler.selector(ofMethod: ""))
        XCTAssertNil(SmalltalkCompiler.selector(ofMethod: "at: 3"))
    }

    func testUnicodeInStringsAndComments() {
        let m = method("grüße \"ünïcödé ☃\" ^ 'ça va ☃' , $☃ asString")
        XCTAssertEqual(m.selector, "grüße")
        XCTAssertTrue(m.literals.contains(.string("ça va ☃")))
        XCTAssertTrue(m.literals.contains(.character(0x2603)))
    }

    func testCarriageReturnLineEndings() {
        XCTAssertEqual(methodError("foo\r\r  ^ zork"), CompileError(line: 3, column: 5, message: "undeclared variable 'zork'"))
        XCTAssertEqual(methodError("foo\r\n\r\n  ^ zork"), CompileError(line: 3, column: 5, message: "undeclared variable 'zork'"))
    }
}
