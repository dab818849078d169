import XCTest
import VMCore
@testable import Compiler

/// Control-flow messages compiled inline, with their exact jump offsets.
final class InliningTests: XCTestCase {
    func testIfTrue() {
        XCTAssertEqual(listing(method("foo y := x ifTrue: [1]")),
                       ["pushInstVar 0", "jumpIfFalse 5", "pushInt8 1", "jump 1", "pushNil", "popStoreInstVar 1", "returnSelf"])
    }

    func testIfFalse() {
        XCTAssertEqual(listing(method("foo y := x ifFalse: [1]")),
                       ["pushInstVar 0", "jumpIfTrue 5", "pushInt8 1", "jump 1", "pushNil", "popStoreInstVar 1", "returnSelf"])
    }

    func testIfTrueIfFalse() {
        XCTAssertEqual(listing(method("foo y := x ifTrue: [1] ifFalse: [2]")),
                       ["pushInstVar 0", "jumpIfFalse 5", "pushInt8 1", "jump 2", "pushInt8 2", "popStoreInstVar 1", "returnSelf"])
    }

    func testIfFalseIfTrue() {
        XCTAssertEqual(listing(method("foo y := x ifFalse: [1] ifTrue: [2]")),
                       ["pushInstVar 0", "jumpIfTrue 5", "pushInt8 1", "jump 2", "pushInt8 2", "popStoreInstVar 1", "returnSelf"])
    }

    func testIfTrueAsAStatement() {
        // Used for effect: no nil is pushed for the false case, nothing is popped after the join.
        XCTAssertEqual(listing(method("foo x ifTrue: [self bar]")), [
            "pushInstVar 0", "jumpIfFalse 6", "pushSelf", "send #bar 0", "pop", "returnSelf",
        ])
        XCTAssertEqual(listing(method("foo x ifTrue: [self bar] ifFalse: []. ^ 1")), [
            "pushInstVar 0", "jumpIfFalse 9", "pushSelf", "send #bar 0", "pop", "jump 0", "pushInt8 1", "returnTop",
        ])
    }

    func testBranchesThatReturn() {
        XCTAssertEqual(listing(method("foo x isNil ifTrue: [^ 1] ifFalse: [^ 2]")),
                       ["pushInstVar 0", "sendIsNil", "jumpIfFalse 3", "pushInt8 1", "returnTop", "pushInt8 2", "returnTop"])
    }

    func testAnd() {
        XCTAssertEqual(listing(method("foo y := x and: [y]")),
                       ["pushInstVar 0", "jumpIfFalse 5", "pushInstVar 1", "jump 1", "pushFalse", "popStoreInstVar 1", "returnSelf"])
    }

    func testAReturnedConditionalReturnsFromEachBranch() {
        XCTAssertEqual(listing(method("foo ^ x ifTrue: [1]")),
                       ["pushInstVar 0", "jumpIfFalse 3", "pushInt8 1", "returnTop", "pushNil", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ x ifTrue: [1] ifFalse: [y foo. 2]")), [
            "pushInstVar 0", "jumpIfFalse 3", "pushInt8 1", "returnTop", "pushInstVar 1", "send #foo 0", "pop",
            "pushInt8 2", "returnTop",
        ])
        XCTAssertEqual(listing(method("foo: z ^ x and: [y or: [z]]")), [
            "pushInstVar 0", "jumpIfFalse 10", "pushInstVar 1", "jumpIfTrue 3", "pushTemp -1", "returnTop",
            "pushTrue", "returnTop", "pushFalse", "returnTop",
        ])
        // Nested in a branch, and a `^` inside a branch; an empty branch returns nil.
        XCTAssertEqual(listing(method("foo ^ x ifTrue: [y ifTrue: [^ 1]. 2] ifFalse: []")), [
            "pushInstVar 0", "jumpIfFalse 11", "pushInstVar 1", "jumpIfFalse 3", "pushInt8 1", "returnTop",
            "pushInt8 2", "returnTop", "pushNil", "returnTop",
        ])
        // In a block, `^` is a non-local return: unchanged.
        let m = method("foo ^ [^ x ifTrue: [1]] value")
        guard case .block(let block)? = m.literals.first else { return XCTFail("the block is the first literal") }
        XCTAssertEqual(listing(block.bytecodes, block.literals),
                       ["pushInstVar 0", "jumpIfFalse 5", "pushInt8 1", "jump 1", "pushNil", "nonLocalReturnTop"])
    }

    func testABlocksLastConditionalAnswersFromEachBranch() {
        let m = method("foo ^ { [:a | a ifTrue: [1] ifFalse: [2]]. [:a | a ifTrue: [1]]. [:a | a and: [x]]. [:a | a ifTrue: [1]. 3] }")
        XCTAssertEqual(blocks(m.literals).map(listing), [
            ["pushTemp -1", "jumpIfFalse 3", "pushInt8 1", "blockReturnTop", "pushInt8 2", "blockReturnTop"],
            ["pushTemp -1", "jumpIfFalse 3", "pushInt8 1", "blockReturnTop", "pushNil", "blockReturnTop"],
            ["pushTemp -1", "jumpIfFalse 3", "pushInstVar 0", "blockReturnTop", "pushFalse", "blockReturnTop"],
            // Only a last statement that is a conditional: this one's value is dropped as before.
            ["pushTemp -1", "jumpIfFalse 3", "pushInt8 1", "pop", "pushInt8 3", "blockReturnTop"],
        ])
    }

    func testJumpChainsAreThreaded() {
        // Nested `and:` values: the inner block's jump to the join goes straight to the outer join.
        XCTAssertEqual(listing(method("foo: z y := x and: [y and: [z]]")), [
            "pushInstVar 0", "jumpIfFalse 14", "pushInstVar 1", "jumpIfFalse 5", "pushTemp -1", "jump 5", "pushFalse",
            "jump 1", "pushFalse", "popStoreInstVar 1", "returnSelf",
        ])
        // A forward conditional jump to a loop's backward jump stays forward: loops check for
        // interrupts on their backward jumps, and compare-and-branch superinstructions jump forward only.
        XCTAssertEqual(listing(method("foo [x] whileTrue: [y ifTrue: [self bar]]")), [
            "pushInstVar 0", "jumpIfFalse 14", "pushInstVar 1", "jumpIfFalse 6", "pushSelf", "send #bar 0", "pop",
            "jump -19", "returnSelf",
        ])
    }

    func testOr() {
        XCTAssertEqual(listing(method("foo y := x or: [y]")),
                       ["pushInstVar 0", "jumpIfTrue 5", "pushInstVar 1", "jump 1", "pushTrue", "popStoreInstVar 1", "returnSelf"])
    }

    func testAndOrInAConditionJumpOnEachOperand() {
        // The Boolean of `x and: [y]` is not pushed and tested a second time: each operand jumps.
        XCTAssertEqual(listing(method("foo [x and: [y]] whileTrue: [self bar]")), [
            "pushInstVar 0", "jumpIfFalse 14", "pushInstVar 1", "jumpIfFalse 9", "pushSelf", "send #bar 0", "pop",
            "jump -19", "returnSelf",
        ])
        XCTAssertEqual(listing(method("foo (x or: [y]) ifTrue: [self bar]")), [
            "pushInstVar 0", "jumpIfTrue 5", "pushInstVar 1", "jumpIfFalse 6", "pushSelf", "send #bar 0", "pop",
            "returnSelf",
        ])
        XCTAssertEqual(listing(method("foo: z y := (x and: [y or: [z]]) ifTrue: [1] ifFalse: [2]")), [
            "pushInstVar 0", "jumpIfFalse 15", "pushInstVar 1", "jumpIfTrue 5", "pushTemp -1", "jumpIfFalse 5",
            "pushInt8 1", "jump 2", "pushInt8 2", "popStoreInstVar 1", "returnSelf",
        ])
        // A loop whose condition block has several statements: the last one is the condition.
        XCTAssertEqual(listing(method("foo [self bar. x] whileFalse")), [
            "pushSelf", "send #bar 0", "pop", "pushInstVar 0", "jumpIfFalse -11", "returnSelf",
        ])
    }

    func testWhileTrueWithBody() {
        XCTAssertEqual(listing(method("foo [x] whileTrue: [self bar]")), ["pushInstVar 0", "jumpIfFalse 9", "pushSelf", "send #bar 0", "pop", "jump -14", "returnSelf"])
    }

    func testWhileFalseWithBody() {
        XCTAssertEqual(listing(method("foo [x] whileFalse: [self bar]")), ["pushInstVar 0", "jumpIfTrue 9", "pushSelf", "send #bar 0", "pop", "jump -14", "returnSelf"])
    }

    func testWhileTrueAndWhileFalseWithoutBody() {
        XCTAssertEqual(listing(method("foo [self bar] whileTrue")),
                       ["pushSelf", "send #bar 0", "jumpIfTrue -8", "returnSelf"])
        XCTAssertEqual(listing(method("foo [self bar] whileFalse")),
                       ["pushSelf", "send #bar 0", "jumpIfFalse -8", "returnSelf"])
    }

    func testRepeat() {
        XCTAssertEqual(listing(method("foo [self bar. x > 0 ifTrue: [^ 1]] repeat")), ["pushSelf", "send #bar 0", "pop", "pushInstVar 0", "pushInt8 0", "sendGreater", "jumpIfFalse 3", "pushInt8 1", "returnTop", "jump -20"])
    }

    func testToDo() {
        let m = method("foo: n | s | s := 0. 1 to: n do: [:i | s := s + i]. ^ s")
        // Locals: s, i (the counter), the hidden limit.
        XCTAssertEqual(m.numTemps, 3)
        XCTAssertEqual(listing(m), ["pushInt8 0", "popStoreTemp 7", "pushInt8 1", "popStoreTemp 8", "pushTemp -1", "popStoreTemp 9", "pushTemp 8", "pushTemp 9", "sendLessEq", "jumpIfFalse 17", "pushTemp 7", "pushTemp 8", "sendAdd", "popStoreTemp 7", "pushTemp 8", "pushInt8 1", "sendAdd", "popStoreTemp 8", "jump -25", "pushTemp 7", "returnTop"])
    }

    func testToDoAnswersItsReceiver() {
        XCTAssertEqual(listing(method("foo ^ 5 to: 1 do: [:i | ]")), [
            "pushInt8 5", "dup", "popStoreTemp 7", "pushInt8 1", "popStoreTemp 8",
            "pushTemp 7", "pushTemp 8", "sendLessEq", "jumpIfFalse 10",
            "pushTemp 7", "pushInt8 1", "sendAdd", "popStoreTemp 7", "jump -18", "returnTop",
        ])
    }

    func testToByDoWithNegativeStep() {
        XCTAssertEqual(listing(method("foo 10 to: 1 by: -1 do: [:i | self bar: i]")), ["pushInt8 10", "popStoreTemp 7", "pushInt8 1", "popStoreTemp 8", "pushTemp 7", "pushTemp 8", "sendGreaterEq", "jumpIfFalse 18", "pushSelf", "pushTemp 7", "send #bar: 1", "pop", "pushTemp 7", "pushInt8 -1", "sendAdd", "popStoreTemp 7", "jump -26", "returnSelf"])
    }

    func testToByDoWithFloatStep() {
        let ops = listing(method("foo 1 to: 2 by: 0.5 do: [:i | ]"))
        XCTAssertTrue(ops.contains("sendLessEq"))
        XCTAssertTrue(ops.contains("pushLiteral 0.5"))
    }

    func testToByDoWithComputedStepIsASend() {
        XCTAssertEqual(listing(method("foo: s 1 to: 10 by: s do: [:i | ]")), [
            "pushInt8 1", "pushInt8 10", "pushTemp -1", "pushClosure 0", "send #to:by:do: 3", "pop", "returnSelf",
        ])
    }

    func testTimesRepeat() {
        XCTAssertEqual(listing(method("foo 3 timesRepeat: [self bar]")), ["pushInt8 3", "popStoreTemp 7", "pushTemp 7", "pushInt8 1", "sendGreaterEq", "jumpIfFalse 16", "pushSelf", "send #bar 0", "pop", "pushTemp 7", "pushInt8 1", "sendSub", "popStoreTemp 7", "jump -24", "returnSelf"])
    }

    func testIfNil() {
        XCTAssertEqual(listing(method("foo ^ x ifNil: [0]")),
                       ["pushInstVar 0", "dup", "pushNil", "sendIdentical", "jumpIfFalse 3", "pop", "pushInt8 0", "returnTop"])
    }

    func testIfNotNilWithoutArgument() {
        XCTAssertEqual(listing(method("foo ^ x ifNotNil: [1]")),
                       ["pushInstVar 0", "dup", "pushNil", "sendIdentical", "jumpIfTrue 3", "pop", "pushInt8 1", "returnTop"])
    }

    func testIfNotNilWithArgument() {
        let m = method("foo ^ x ifNotNil: [:v | v + 1]")
        XCTAssertEqual(m.numTemps, 1)
        XCTAssertEqual(listing(m), [
            "pushInstVar 0", "dup", "pushNil", "sendIdentical", "jumpIfTrue 7",
            "popStoreTemp 7", "pushTemp 7", "pushInt8 1", "sendAdd", "returnTop",
        ])
    }

    func testIfNilIfNotNil() {
        XCTAssertEqual(listing(method("foo ^ x ifNil: [0] ifNotNil: [:v | v + 1]")), [
            "pushInstVar 0", "dup", "pushNil", "sendIdentical", "jumpIfFalse 6", "pop", "pushInt8 0", "jump 7",
            "popStoreTemp 7", "pushTemp 7", "pushInt8 1", "sendAdd", "returnTop",
        ])
    }

    func testIfNotNilIfNil() {
        XCTAssertEqual(listing(method("foo ^ x ifNotNil: [:v | v] ifNil: [0]")), [
            "pushInstVar 0", "dup", "pushNil", "sendIdentical", "jumpIfTrue 7",
            "popStoreTemp 7", "pushTemp 7", "jump 3", "pop", "pushInt8 0", "returnTop",
        ])
    }

    func testInlinedBlockTempsAreResetOnEachEntry() {
        // `t` is read before it is assigned: each iteration must see nil.
        XCTAssertEqual(listing(method("foo 1 to: 2 do: [:i | | t | t foo. t := i]")), ["pushInt8 1", "popStoreTemp 7", "pushInt8 2", "popStoreTemp 9", "pushTemp 7", "pushTemp 9", "sendLessEq", "jumpIfFalse 24", "pushNil", "popStoreTemp 8", "pushTemp 8", "send #foo 0", "pop", "pushTemp 7", "popStoreTemp 8", "pushTemp 7", "pushInt8 1", "sendAdd", "popStoreTemp 7", "jump -32", "returnSelf"])
    }

    func testInlinedBlockTempsAssignedBeforeAnyReadAreNotReset() {
        XCTAssertEqual(listing(method("foo 1 to: 2 do: [:i | | t | t := i]")), ["pushInt8 1", "popStoreTemp 7", "pushInt8 2", "popStoreTemp 9", "pushTemp 7", "pushTemp 9", "sendLessEq", "jumpIfFalse 14", "pushTemp 7", "popStoreTemp 8", "pushTemp 7", "pushInt8 1", "sendAdd", "popStoreTemp 7", "jump -22", "returnSelf"])
        var parser = try! Parser("a := 1. b := a + c. c := b. d := d")
        XCTAssertEqual(CodeGenerator.assignedBeforeRead(try! parser.parseDoIt().statements), ["a", "b"])
    }

    func testBlocksWithTheWrongShapeAreSent() {
        XCTAssertEqual(listing(method("foo ^ x ifTrue: [:a | a]")),
                       ["pushInstVar 0", "pushClosure 0", "send #ifTrue: 1", "returnTop"])
        XCTAssertEqual(listing(method("foo: b ^ x ifTrue: b")),
                       ["pushInstVar 0", "pushTemp -1", "send #ifTrue: 1", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ [:a | a] whileTrue")), ["pushClosure 0", "send #whileTrue 0", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ 1 to: 3 do: [self bar]")),
                       ["pushInt8 1", "pushInt8 3", "pushClosure 0", "send #to:do: 2", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ x ifNotNil: [:a :b | a]")),
                       ["pushInstVar 0", "pushClosure 0", "send #ifNotNil: 1", "returnTop"])
    }

    func testReturnFromAnInlinedBlockInsideARealBlock() {
        let m = method("foo ^ [:a | a ifTrue: [^ 1]. 2]")
        let block = blocks(m.literals)[0]
        XCTAssertTrue(block.needsHomeContext)
        XCTAssertEqual(listing(block), ["pushTemp -1", "jumpIfFalse 3", "pushInt8 1", "nonLocalReturnTop", "pushInt8 2", "blockReturnTop"])
    }

    func testNestedInlinedConstructsShareTheFrame() {
        let m = method("foo: c c do: [:e | e ifNotNil: [:v | 1 to: v do: [:i | self bar: i]]]")
        let block = blocks(m.literals)[0]
        XCTAssertEqual(block.numCopied, 0)
        // v, i and the to:do: limit are locals of the real block.
        XCTAssertEqual(block.numTemps, 3)
        XCTAssertEqual(blocks(block.literals).count, 0)
    }
}
