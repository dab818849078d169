import XCTest
import VMCore
@testable import Compiler

/// Message sends, precedence, cascades, super sends and the send-site literals.
final class SendTests: XCTestCase {
    func testPrecedenceUnaryBinaryKeyword() {
        XCTAssertEqual(listing(method("foo ^ x bar + 2 max: y baz")), [
            "pushInstVar 0", "send #bar 0", "pushInt8 2", "sendAdd", "pushInstVar 1", "send #baz 0",
            "send #max: 1", "returnTop",
        ])
    }

    func testParenthesesAndBinaryLeftToRight() {
        XCTAssertEqual(listing(method("foo ^ 1 + 2 * (3 - 4)")), [
            "pushInt8 1", "pushInt8 2", "sendAdd", "pushInt8 3", "pushInt8 4", "sendSub", "sendMul", "returnTop",
        ])
    }

    func testKeywordMessageWithSeveralParts() {
        XCTAssertEqual(listing(method("foo: a ^ self at: a put: a + 1")), [
            "pushSelf", "pushTemp -1", "pushTemp -1", "pushInt8 1", "sendAdd", "sendAtPut", "returnTop",
        ])
        XCTAssertEqual(listing(method("foo ^ self between: 1 and: 2")), [
            "pushSelf", "pushInt8 1", "pushInt8 2", "send #between:and: 2", "returnTop",
        ])
    }

    func testEverySendSiteGetsItsOwnSelectorAndTwoCacheSlots() {
        let m = method("foo self bar. self bar: 1. ^ self bar")
        XCTAssertEqual(m.literals, [
            .symbol("bar"), .cacheSlot, .cacheSlot, .symbol("bar:"), .cacheSlot, .cacheSlot,
            .symbol("bar"), .cacheSlot, .cacheSlot,
        ])
        let sends = Instruction.decode(m.bytecodes)!.filter { $0.opcode == .send }
        XCTAssertEqual(sends.map(\.a), [0, 3, 6])
        XCTAssertEqual(sends.map(\.b), [0, 1, 0])
    }

    func testSpecialSelectorsUseTheirOpcodes() {
        for opcode in Opcode.allCases {
            guard let (selector, numArgs) = opcode.specialSelector else { continue }
            let source = ["foo: a ^ a \(selector)", "foo: a ^ a \(selector) a", "foo: a ^ a at: a put: a"][numArgs]
            let m = method(source)
            XCTAssertEqual(Instruction.decode(m.bytecodes)!.map(\.opcode).dropLast().last, opcode, selector)
            XCTAssertTrue(m.literals.isEmpty, selector)
        }
    }

    func testSuperSends() {
        let m = method("printOn: s super printOn: s. ^ super = s")
        XCTAssertEqual(listing(m), [
            "pushSelf", "pushTemp -1", "superSend #printOn: 1", "pop",
            "pushSelf", "pushTemp -1", "superSend #= 1", "returnTop",
        ])
        XCTAssertEqual(m.literals, [.symbol("printOn:"), .cacheSlot, .cacheSlot, .symbol("="), .cacheSlot, .cacheSlot])
    }

    func testSuperIsNeverInlined() {
        XCTAssertEqual(listing(method("foo ^ super ifTrue: [1]")), [
            "pushSelf", "pushClosure 0", "superSend #ifTrue: 1", "returnTop",
        ])
    }

    func testCascade() {
        XCTAssertEqual(listing(method("foo Transcript show: 'a'; cr; show: 3 printString")), [
            "pushGlobal Transcript (binding)", "dup", "pushLiteral 'a'", "send #show: 1", "pop",
            "dup", "send #cr 0", "pop",
            "pushInt8 3", "send #printString 0", "send #show: 1", "pop", "returnSelf",
        ])
    }

    func testCascadeReceiverIsTheLastMessagesReceiver() {
        XCTAssertEqual(listing(method("foo ^ OrderedCollection new add: 1; add: 2; yourself")), [
            "pushGlobal OrderedCollection (binding)", "send #new 0",
            "dup", "pushInt8 1", "send #add: 1", "pop",
            "dup", "pushInt8 2", "send #add: 1", "pop",
            "send #yourself 0", "returnTop",
        ])
    }

    func testCascadeOnSuper() {
        XCTAssertEqual(listing(method("foo super a; b: 1")), [
            "pushSelf", "dup", "superSend #a 0", "pop", "pushInt8 1", "superSend #b: 1", "pop", "returnSelf",
        ])
    }

    func testMessagesInACascadeAreNotInlined() {
        let m = method("foo ^ x isNil ifTrue: [1]; yourself")
        XCTAssertEqual(listing(m), [
            "pushInstVar 0", "sendIsNil", "dup", "pushClosure 0", "send #ifTrue: 1", "pop",
            "send #yourself 0", "returnTop",
        ])
        XCTAssertEqual(listing(blocks(m.literals)[0]), ["pushInt8 1", "blockReturnTop"])
    }

    func testBinarySelectorsOfSeveralCharacters() {
        XCTAssertEqual(listing(method("foo ^ (1 -> 2) ==> (3 <= 4) , (5 ~= 6)")), [
            "pushInt8 1", "pushInt8 2", "send #-> 1", "pushInt8 3", "pushInt8 4", "sendLessEq",
            "send #==> 1", "pushInt8 5", "pushInt8 6", "sendNotEq", "send #, 1", "returnTop",
        ])
    }

    func testMinusFollowedByDigit() {
        XCTAssertEqual(listing(method("foo ^ 3 - -2")), ["pushInt8 3", "pushInt8 -2", "sendSub", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ x-1")), ["pushInstVar 0", "pushInt8 1", "sendSub", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ x -1")), ["pushInstVar 0", "pushInt8 1", "sendSub", "returnTop"])
        XCTAssertEqual(listing(method("foo ^ x@-1")), ["pushInstVar 0", "pushInt8 -1", "send #@ 1", "returnTop"])
        XCTAssertEqual(listing(method("foo | t | t := -5. ^ t")), ["pushInt8 -5", "popStoreTemp 7", "pushTemp 7", "returnTop"])
    }

    func testBinaryMethodPattern() {
        let m = method("| aBoolean ^ aBoolean or: [self]")
        XCTAssertEqual(m.selector, "|")
        XCTAssertEqual(m.numArgs, 1)
    }
}
