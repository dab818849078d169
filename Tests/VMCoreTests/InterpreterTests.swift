import XCTest
@testable import VMCore

final class InterpreterTests: XCTestCase {
    typealias T = TestSpace

    func testArithmeticSendsAndReturns() throws {
        let vm = try T.make()
        // Integer>>double  ^ self + self
        T.install(vm, "Integer", "double", code: [T.op(.pushSelf), T.op(.pushSelf), T.op(.sendAdd), T.op(.returnTop)])
        // Object>>run  ^ 20 double + 2
        T.install(vm, "Object", "run", literals: [.symbol("double"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushInt8, 20), T.op(.send, 0, 0), T.op(.pushInt8, 2), T.op(.sendAdd), T.op(.returnTop)])
        XCTAssertEqual(intValue(try vm.send("run", to: vm.nilObj)), 42)
    }

    func testRecursiveFibonacci() throws {
        let vm = try T.make()
        // Integer>>fib  self < 2 ifTrue: [^ self]. ^ (self - 1) fib + (self - 2) fib
        var code: [Instruction] = [T.op(.pushSelf), T.op(.pushInt8, 2), T.op(.sendLess), T.op(.jumpIfFalse, 2),
                                   T.op(.pushSelf), T.op(.returnTop)]
        code += [T.op(.pushSelf), T.op(.pushInt8, 1), T.op(.sendSub), T.op(.send, 0, 0),
                 T.op(.pushSelf), T.op(.pushInt8, 2), T.op(.sendSub), T.op(.send, 3, 0), T.op(.sendAdd), T.op(.returnTop)]
        T.install(vm, "Integer", "fib", literals: [.symbol("fib"), .cacheSlot, .cacheSlot, .symbol("fib"), .cacheSlot, .cacheSlot], code: code)
        XCTAssertEqual(intValue(try vm.send("fib", to: intOop(20))), 6765)
    }

    func testSmallIntegerOverflowFallsBackToAPrimitive() throws {
        let vm = try T.make()
        T.install(vm, "Integer", "+", numArgs: 1, primitive: 21, code: [T.op(.pushNil), T.op(.returnTop)])
        T.install(vm, "Integer", "*", numArgs: 1, primitive: 29, code: [T.op(.pushNil), T.op(.returnTop)])
        T.install(vm, "Object", "big", literals: [.integer(SmallInt.max)],
                  code: [T.op(.pushLiteral, 0), T.op(.pushLiteral, 0), T.op(.sendMul), T.op(.returnTop)])
        let r = try vm.send("big", to: vm.nilObj)
        XCTAssertEqual(vm.bigIntValue(r)!.description, "1329227995784915870597964051066650625")
    }

    func testDoesNotUnderstandReceivesTheMessage() throws {
        let vm = try T.make()
        // Object>>doesNotUnderstand: aMessage  ^ aMessage
        T.install(vm, "Object", "doesNotUnderstand:", numArgs: 1, code: [T.op(.pushTemp, -1), T.op(.returnTop)])
        T.install(vm, "Object", "run", literals: [.symbol("frob:"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushSelf), T.op(.pushInt8, 5), T.op(.send, 0, 1), T.op(.returnTop)])
        let message = try vm.send("run", to: vm.nilObj)
        XCTAssertEqual(vm.stringValue(fetch(message, MessageLayout.selector)), "frob:")
        XCTAssertEqual(intValue(fetch(fetch(message, MessageLayout.arguments), 0)), 5)
    }

    func testClosuresCopyValuesAndReturnNonLocally() throws {
        let vm = try T.make()
        T.install(vm, "BlockClosure", "value", primitive: 201, code: [T.op(.pushNil), T.op(.returnTop)])
        // Object>>run: x   [:y | ^ x] value: 3. ^ 0   — as hand-written closure code
        var blockCode: [UInt8] = []
        T.op(.pushTemp, Frame.headerSize).encode(into: &blockCode)   // copied x
        T.op(.nonLocalReturnTop).encode(into: &blockCode)
        let block = BlockDescription(numArgs: 0, numCopied: 1, numTemps: 0, maxStack: 2, needsHomeContext: true,
                                     bytecodes: blockCode, literals: [])
        T.install(vm, "Object", "run:", numArgs: 1, literals: [.block(block), .symbol("value"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushTemp, -1), T.op(.pushClosure, 0), T.op(.send, 1, 0), T.op(.pop),
                         T.op(.pushInt8, 0), T.op(.returnTop)])
        XCTAssertEqual(intValue(try vm.send("run:", to: vm.nilObj, with: [intOop(99)])), 99)
    }

    func testLoopsAllocateWithoutGrowingTheHeap() throws {
        let vm = try T.make()
        // Object>>churn: n   1 to: n do: [:i | Array new: 10]  — as a while loop on a temp
        let code: [Instruction] = [
            T.op(.pushInt8, 0), T.op(.popStoreTemp, Frame.headerSize),                   // i := 0
            T.op(.pushTemp, Frame.headerSize), T.op(.pushTemp, -1), T.op(.sendLess),     // [i < n]
            T.op(.jumpIfFalse, 13),
            T.op(.pushNewArray, 10), T.op(.pop),                                         // garbage
            T.op(.pushTemp, Frame.headerSize), T.op(.pushInt8, 1), T.op(.sendAdd), T.op(.popStoreTemp, Frame.headerSize),
            T.op(.jump, -21),
            T.op(.returnSelf)]
        T.install(vm, "Object", "churn:", numArgs: 1, numTemps: 1, code: code)
        _ = try vm.send("churn:", to: vm.nilObj, with: [intOop(2_000_000)])
        XCTAssertGreaterThan(vm.scavengeCount, 10, "about 200 MB of garbage went through eden")
        XCTAssertLessThan(vm.oldTop - vm.oldStart, 64 << 20, "nothing was tenured for good")
    }

    func testSuperinstructionsReplaceOnlyTheFirstOpcodeOfASequence() {
        let t = Frame.headerSize
        let code: [Instruction] = [
            T.op(.pushTemp, t), T.op(.pushTemp, -1), T.op(.sendLessEq), T.op(.jumpIfFalse, 10),    // loop test
            T.op(.pushSelf), T.op(.pushTemp, t), T.op(.pushInt8, 1), T.op(.sendAdd), T.op(.popStoreTemp, t),
            T.op(.jump, -20),
            T.op(.pushInstVar, 0), T.op(.pushTemp, t), T.op(.sendAt), T.op(.sendAtPut), T.op(.pop), T.op(.returnSelf)]
        var bytes: [UInt8] = []
        for i in code { i.encode(into: &bytes) }
        let fused = Superinstructions.fuse(bytes)
        let decoded = Instruction.decode(fused)!
        XCTAssertEqual(decoded.map(\.opcode), [.branchTempTemp, .pushTemp, .sendLessEq, .jumpIfFalse,
                                               .pushSelfTemp, .incrementTemp, .addInt8, .sendAdd, .popStoreTempJump,
                                               .jump, .instVarAtTemp, .pushTemp, .sendAt, .atPutPop, .pop, .returnSelf])
        XCTAssertEqual(decoded.map(\.offset), Instruction.decode(bytes)!.map(\.offset), "boundaries are unchanged")
        XCTAssertEqual(decoded.map(\.a), code.map(\.a), "operands are unchanged")
        var onSelf: [UInt8] = []
        for i in [T.op(.pushSelf), T.op(.pushInt8, 2), T.op(.sendLess), T.op(.jumpIfFalse, 2), T.op(.pushSelf), T.op(.returnTop),
                  T.op(.pushSelf), T.op(.pushInt8, 1), T.op(.sendSub), T.op(.returnTop)] { i.encode(into: &onSelf) }
        XCTAssertEqual(Instruction.decode(Superinstructions.fuse(onSelf))!.map(\.opcode),
                       [.branchSelfInt8, .pushInt8, .sendLess, .jumpIfFalse, .pushSelf, .returnTop,
                        .subSelfInt8, .subInt8, .sendSub, .returnTop])
        // Pushes followed by a send, a nil test or arithmetic; an instance variable's increment.
        var pushes: [UInt8] = []
        for i in [T.op(.pushTemp, t), T.op(.send, 0, 0), T.op(.pushTemp, t), T.op(.sendIsNil), T.op(.pushTemp, t),
                  T.op(.sendNotNil), T.op(.pushTemp, t), T.op(.sendMul), T.op(.pushInt8, 3), T.op(.sendSub),
                  T.op(.pushInstVar, 1), T.op(.pushInt8, 1), T.op(.sendAdd), T.op(.popStoreInstVar, 1),
                  T.op(.pushInstVar, 1), T.op(.pushInt8, 1), T.op(.sendAdd), T.op(.popStoreInstVar, 0),
                  T.op(.pushInstVar, 0), T.op(.pushInt8, 5), T.op(.sendLess), T.op(.jumpIfFalse, 0),
                  T.op(.pushInstVar, 0), T.op(.pushInstVar, 1), T.op(.sendAdd), T.op(.returnTop),
                  T.op(.pushTemp, t), T.op(.pushTemp, -1), T.op(.sendMul), T.op(.popStoreTemp, t),
                  T.op(.pushTemp, t), T.op(.sendAtPut), T.op(.pop), T.op(.pushFalse), T.op(.sendAtPut), T.op(.pop)] {
            i.encode(into: &pushes)
        }
        XCTAssertEqual(Instruction.decode(Superinstructions.fuse(pushes))!.map(\.opcode),
                       [.pushTempSend, .send, .pushTempIsNil, .sendIsNil, .pushTempNotNil, .sendNotNil, .mulTemp, .sendMul,
                        .subInt8, .sendSub, .incrementInstVar, .addInt8, .sendAdd, .popStoreInstVar,
                        .pushInstVar, .addInt8, .sendAdd, .popStoreInstVar,
                        .branchInstVarInt8, .pushInt8, .sendLess, .jumpIfFalse, .pushInstVarInstVar, .pushInstVar, .sendAdd,
                        .returnTop, .tempOpTempStore, .mulTemp, .sendMul, .popStoreTemp,
                        .pushTempAtPutPop, .atPutPop, .pop, .pushFalseAtPutPop, .atPutPop, .pop],
                       "an increment stores into the variable it read")
        // A nil test that a forward conditional jump follows branches at once.
        var nilTests: [UInt8] = []
        for i in [T.op(.pushTemp, t), T.op(.sendIsNil), T.op(.jumpIfFalse, 2), T.op(.pushTemp, t), T.op(.sendNotNil),
                  T.op(.jumpIfTrue, 0), T.op(.pushTemp, t), T.op(.sendIsNil), T.op(.pop),
                  T.op(.pushTemp, t), T.op(.pushTemp, t), T.op(.sendAdd), T.op(.returnTop)] { i.encode(into: &nilTests) }
        XCTAssertEqual(Instruction.decode(Superinstructions.fuse(nilTests))!.map(\.opcode),
                       [.branchTempNil, .sendIsNil, .jumpIfFalse, .branchTempNil, .sendNotNil, .jumpIfTrue,
                        .pushTempIsNil, .sendIsNil, .pop, .tempOpTemp, .addTemp, .sendAdd, .returnTop],
                       "a nil test branches when a forward jump follows; a sum is stored only when a store follows")
        // A temporary that receives a unary send is pushed by pushTempSend, not by the push before it.
        var unary: [UInt8] = []
        for i in [T.op(.pushTemp, t), T.op(.pushTemp, t), T.op(.send, 0, 0), T.op(.pushSelf), T.op(.pushTemp, t),
                  T.op(.send, 0, 0), T.op(.pushTemp, t), T.op(.pushTemp, t), T.op(.send, 0, 1), T.op(.returnTop)] {
            i.encode(into: &unary)
        }
        XCTAssertEqual(Instruction.decode(Superinstructions.fuse(unary))!.map(\.opcode),
                       [.pushTemp, .pushTempSend, .send, .pushSelf, .pushTempSend, .send,
                        .pushTempTemp, .pushTempSend, .send, .returnTop])
        // A backward conditional jump is left to the compare-and-branch of the comparison itself.
        var loop: [UInt8] = []
        for i in [T.op(.pushTemp, t), T.op(.pushInt8, 3), T.op(.sendLess), T.op(.jumpIfTrue, -8)] { i.encode(into: &loop) }
        XCTAssertEqual(Instruction.decode(Superinstructions.fuse(loop))!.first?.opcode, .pushTemp)
    }

    func testCompiledCodeWithSuperinstructionsIsRejected() throws {
        let vm = try T.make()
        var bytes: [UInt8] = []
        for i in [T.op(.pushTempTemp, -1), T.op(.pushTemp, -1), T.op(.returnTop)] { i.encode(into: &bytes) }
        let d = MethodDescription(selector: "bad:", numArgs: 1, numTemps: 0, maxStack: 4, primitive: 0,
                                  bytecodes: bytes, literals: [], pragmas: [], source: "bad:")
        XCTAssertNil(vm.makeCompiledMethod(d, methodClass: vm.globalValue("Object")!))
    }
}
