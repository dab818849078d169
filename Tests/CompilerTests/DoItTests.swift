import XCTest
import VMCore
@testable import Compiler

/// Do-its: the value of the last statement, auto-declared temps.
final class DoItTests: XCTestCase {
    func testAnswersTheLastStatement() {
        let m = doIt("3 + 4")
        XCTAssertEqual(m.selector, "DoIt")
        XCTAssertEqual(m.numArgs, 0)
        XCTAssertEqual(listing(m), ["pushInt8 3", "pushInt8 4", "sendAdd", "returnTop"])
        XCTAssertEqual(listing(doIt("3 + 4.")), ["pushInt8 3", "pushInt8 4", "sendAdd", "returnTop"])
        XCTAssertEqual(listing(doIt("self bar. self")), ["pushSelf", "send #bar 0", "pop", "pushSelf", "returnTop"])
    }

    func testEmptyDoItAnswersNil() {
        XCTAssertEqual(listing(doIt("")), ["pushNil", "returnTop"])
        XCTAssertEqual(listing(doIt("  \"only a comment\" ")), ["pushNil", "returnTop"])
        XCTAssertEqual(listing(doIt("| t |")), ["pushNil", "returnTop"])
    }

    func testExplicitReturn() {
        XCTAssertEqual(listing(doIt("^ 5. 6")), ["pushInt8 5", "returnTop"])
    }

    func testUndeclaredVariablesBecomeTemps() {
        let m = doIt("a := 3. a + 1")
        XCTAssertEqual(m.numTemps, 1)
        XCTAssertEqual(listing(m), ["pushInt8 3", "popStoreTemp 7", "pushTemp 7", "pushInt8 1", "sendAdd", "returnTop"])
    }

    func testAutoDeclaredTempsFollowDeclaredOnes() {
        let m = doIt("| b | c := b. b")
        XCTAssertEqual(m.numTemps, 2)
        XCTAssertEqual(listing(m), ["pushTemp 7", "popStoreTemp 8", "pushTemp 7", "returnTop"])
    }

    func testAutoDeclaredTempAssignedInABlockLivesInATempVector() {
        let m = doIt("#(1 2) do: [:e | sum := e]. sum")
        XCTAssertEqual(listing(m), [
            "pushNewArray 1", "popStoreTemp 7", "pushLiteral #(1 2)", "pushTemp 7", "pushClosure 1",
            "send #do: 1", "pop", "pushRemoteTemp 0 7", "returnTop",
        ])
    }

    func testGlobalsAndInstanceVariables() {
        XCTAssertEqual(listing(doIt("Foo bar")), ["pushGlobal Foo (binding)", "send #bar 0", "returnTop"])
        XCTAssertEqual(listing(doIt("x")), ["pushInstVar 0", "returnTop"])
        XCTAssertEqual(listing(doIt("x", in: objectClass)), ["pushTemp 7", "returnTop"])
    }

    func testErrors() {
        XCTAssertEqual(doItError("x := "), CompileError(line: 1, column: 6, message: "expected an expression"))
        XCTAssertEqual(doItError("self := 1"), CompileError(line: 1, column: 1, message: "cannot store into 'self'"))
        XCTAssertEqual(doItError("<foo>")?.message, "expected an expression")
        XCTAssertEqual(doItError("3 + 4)"), CompileError(line: 1, column: 6, message: "expected '.' or the end of the source, found ')'"))
    }
}
