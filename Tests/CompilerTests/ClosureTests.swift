import XCTest
import VMCore
@testable import Compiler

/// Real blocks: copied values, temp vectors, frame layout and home-context flags.
final class ClosureTests: XCTestCase {
    func testCapturedArgumentIsCopied() {
        let m = method("foo: a ^ [a]")
        XCTAssertEqual(listing(m), ["pushTemp -1", "pushClosure 0", "returnTop"])
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numCopied, 1)
        XCTAssertEqual(block.numTemps, 0)
        XCTAssertEqual(listing(block), ["pushTemp 7", "blockReturnTop"])
    }

    func testCapturedTempNeverAssignedIsCopied() {
        let m = method("foo | t | ^ [t]")
        XCTAssertEqual(listing(m), ["pushTemp 7", "pushClosure 0", "returnTop"])
        XCTAssertEqual(listing(blocks(m.literals)[0]), ["pushTemp 7", "blockReturnTop"])
    }

    func testCapturedAndAssignedTempLivesInATempVector() {
        let m = method("foo | t | ^ [t := 1]")
        XCTAssertEqual(m.numTemps, 1)
        XCTAssertEqual(listing(m), ["pushNewArray 1", "popStoreTemp 7", "pushTemp 7", "pushClosure 0", "returnTop"])
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numCopied, 1)
        XCTAssertEqual(listing(block), ["pushInt8 1", "storeRemoteTemp 0 7", "blockReturnTop"])
    }

    func testAssignmentInTheDeclaringScopeAlsoMakesItRemote() {
        let m = method("foo | t u | t := 3. u := 4. ^ [t + u]")
        XCTAssertEqual(listing(m), [
            "pushNewArray 2", "popStoreTemp 7",
            "pushInt8 3", "popStoreRemoteTemp 0 7", "pushInt8 4", "popStoreRemoteTemp 1 7",
            "pushTemp 7", "pushClosure 0", "returnTop",
        ])
        XCTAssertEqual(listing(blocks(m.literals)[0]),
                       ["pushRemoteTemp 0 7", "pushRemoteTemp 1 7", "sendAdd", "blockReturnTop"])
    }

    func testBlockFrameLayoutCopiedValuesThenTemps() {
        let m = method("foo: a | t | ^ [:b | | c | c := a + b. t := c]")
        XCTAssertEqual(listing(m), ["pushNewArray 1", "popStoreTemp 7", "pushTemp -1", "pushTemp 7", "pushClosure 0", "returnTop"])
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numArgs, 1)
        XCTAssertEqual(block.numCopied, 2)
        XCTAssertEqual(block.numTemps, 1)
        XCTAssertEqual(listing(block), [
            "pushTemp 7", "pushTemp -1", "sendAdd", "popStoreTemp 9", "pushTemp 9", "storeRemoteTemp 0 8", "blockReturnTop",
        ])
    }

    func testNestedBlocksCopyThroughTheIntermediateBlock() {
        let m = method("foo: a ^ [[a]]")
        XCTAssertEqual(listing(m), ["pushTemp -1", "pushClosure 0", "returnTop"])
        let outer = blocks(m.literals)[0]
        XCTAssertEqual(outer.numCopied, 1)
        XCTAssertEqual(listing(outer), ["pushTemp 7", "pushClosure 0", "blockReturnTop"])
        let inner = blocks(outer.literals)[0]
        XCTAssertEqual(inner.numCopied, 1)
        XCTAssertEqual(listing(inner), ["pushTemp 7", "blockReturnTop"])
    }

    func testTempVectorCopiedTwoLevelsDeep() {
        let m = method("foo | t | [[t := 1]] value. ^ t")
        XCTAssertEqual(listing(m), [
            "pushNewArray 1", "popStoreTemp 7", "pushTemp 7", "pushClosure 0", "sendValue", "pop",
            "pushRemoteTemp 0 7", "returnTop",
        ])
        let outer = blocks(m.literals)[0]
        XCTAssertEqual(listing(outer), ["pushTemp 7", "pushClosure 0", "blockReturnTop"])
        XCTAssertEqual(listing(blocks(outer.literals)[0]), ["pushInt8 1", "storeRemoteTemp 0 7", "blockReturnTop"])
    }

    func testBlockWithItsOwnTempVector() {
        let m = method("foo ^ [| t | [t := 1]. t]")
        let outer = blocks(m.literals)[0]
        XCTAssertEqual(outer.numCopied, 0)
        XCTAssertEqual(outer.numTemps, 1)
        XCTAssertEqual(listing(outer), [
            "pushNewArray 1", "popStoreTemp 7", "pushTemp 7", "pushClosure 0", "pop", "pushRemoteTemp 0 7", "blockReturnTop",
        ])
    }

    func testEachLoopIterationGetsAFreshTempVector() {
        let m = method("foo: c 1 to: 3 do: [:i | | t | t := i. c add: [t := t + 1]]")
        // Locals: i, the loop body's temp vector, the limit.
        XCTAssertEqual(m.numTemps, 3)
        XCTAssertEqual(listing(m), ["pushInt8 1", "popStoreTemp 7", "pushInt8 3", "popStoreTemp 9", "pushTemp 7", "pushTemp 9", "sendLessEq", "jumpIfFalse 31", "pushNewArray 1", "popStoreTemp 8", "pushTemp 7", "popStoreRemoteTemp 0 8", "pushTemp -1", "pushTemp 8", "pushClosure 0", "send #add: 1", "pop", "pushTemp 7", "pushInt8 1", "sendAdd", "popStoreTemp 7", "jump -39", "returnSelf"])
        XCTAssertEqual(listing(blocks(m.literals)[0]),
                       ["pushRemoteTemp 0 7", "pushInt8 1", "sendAdd", "storeRemoteTemp 0 7", "blockReturnTop"])
    }

    func testLoopCounterCapturedByABlockIsCopied() {
        let m = method("foo: c 1 to: 3 do: [:i | c add: [i]]")
        XCTAssertTrue(listing(m).starts(with: ["pushInt8 1", "popStoreTemp 7"]))
        XCTAssertTrue(listing(m).contains("pushClosure 0"))
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numCopied, 1)
        XCTAssertEqual(listing(block), ["pushTemp 7", "blockReturnTop"])
    }

    func testSelfInstanceVariablesAndGlobalsAreNotCopied() {
        let m = method("foo ^ [x + self y + Zork]")
        XCTAssertEqual(listing(m), ["pushClosure 0", "returnTop"])
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numCopied, 0)
        XCTAssertEqual(listing(block), [
            "pushInstVar 0", "pushSelf", "send #y 0", "sendAdd", "pushGlobal Zork (binding)", "sendAdd", "blockReturnTop",
        ])
    }

    func testEmptyBlocksAnswerNil() {
        let m = method("foo ^ {[]. [:x | ]. [:x | | t | ]}")
        XCTAssertEqual(blocks(m.literals).map(listing), Array(repeating: ["pushNil", "blockReturnTop"], count: 3))
        XCTAssertEqual(blocks(m.literals).map(\.numArgs), [0, 1, 1])
        XCTAssertEqual(blocks(m.literals).map(\.numTemps), [0, 0, 1])
    }

    func testBlockArgumentOffsets() {
        let block = blocks(method("foo ^ [:a :b :c | a. b. c]").literals)[0]
        XCTAssertEqual(listing(block), ["pushTemp -3", "pop", "pushTemp -2", "pop", "pushTemp -1", "blockReturnTop"])
    }

    func testEachBlockHasItsOwnLiteralFrame() {
        let m = method("foo ^ [#sym. 'str' size]")
        XCTAssertEqual(m.literals.count, 1)
        XCTAssertEqual(blocks(m.literals)[0].literals, [.symbol("sym"), .string("str")])
    }

    func testNonLocalReturnMarksTheBlockAndItsEnclosingBlocks() {
        let m = method("foo ^ {[[^ 1]]. [2]}")
        let (outer, sibling) = (blocks(m.literals)[0], blocks(m.literals)[1])
        XCTAssertTrue(outer.needsHomeContext)
        XCTAssertTrue(blocks(outer.literals)[0].needsHomeContext)
        XCTAssertFalse(sibling.needsHomeContext)
        XCTAssertEqual(listing(blocks(outer.literals)[0]), ["pushInt8 1", "nonLocalReturnTop"])
    }

    func testBlockContainingOnlyANonReturningNestedBlockDoesNotNeedHome() {
        let m = method("foo ^ [[:x | ^ x]. [3]]")
        let outer = blocks(m.literals)[0]
        XCTAssertTrue(outer.needsHomeContext)
        XCTAssertFalse(blocks(outer.literals)[1].needsHomeContext)
    }

    func testThisContextInABlock() {
        XCTAssertEqual(listing(blocks(method("foo ^ [thisContext]").literals)[0]), ["pushThisContext", "blockReturnTop"])
    }

    func testBlockArgumentShadowsOuterTemp() {
        let m = method("foo | t | t := 1. ^ [:t | t]")
        XCTAssertEqual(listing(m), ["pushInt8 1", "popStoreTemp 7", "pushClosure 0", "returnTop"])
        XCTAssertEqual(listing(blocks(m.literals)[0]), ["pushTemp -1", "blockReturnTop"])
    }

    func testCopiedValuesFollowFirstUseOrder() {
        let m = method("foo: a bar: b ^ [b. a. b]")
        XCTAssertEqual(listing(m), ["pushTemp -1", "pushTemp -2", "pushClosure 0", "returnTop"])
        XCTAssertEqual(listing(blocks(m.literals)[0]), ["pushTemp 7", "pop", "pushTemp 8", "pop", "pushTemp 7", "blockReturnTop"])
    }
}
