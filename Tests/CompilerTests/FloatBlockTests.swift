import XCTest
import VMCore
@testable import Compiler

/// Where the compiler puts a `floatBlock` (FloatRuns.swift) and what the VM derives from the code after
/// it (FloatProgram, Sources/VMCore/FloatBlocks.swift).
final class FloatBlockTests: XCTestCase {
    private let mandelbrotStep = """
        step: ci | zr zi zrzr zizi cr escape |
        zrzr := zizi := zi := cr := 0.0.
        zr := zrzr - zizi + cr.
        zi := 2.0 * zr * zi + ci.
        zrzr := zr * zr.
        zizi := zi * zi.
        zrzr + zizi > 4.0 ifTrue: [escape := 1].
        ^ escape
        """

    func testFloatStatementsAndTheirConditionGetOneBlockBeforeThem() {
        let m = method(mandelbrotStep)
        let code = listing(m)
        let blocks = code.indices.filter { code[$0].hasPrefix("floatBlock") }
        XCTAssertEqual(blocks.count, 1, "\(code)")
        let at = blocks[0]
        XCTAssertEqual(code[at + 1], "pushTemp 9", "before `zr := zrzr - zizi + cr`: \(code)")
        XCTAssertEqual(m.literals[Int(code[at].split(separator: " ")[1])!], .cacheSlot, "its program's slot")
        // The VM derives the whole run: four statements and the comparison with its jump.
        let instructions = Instruction.decode(m.bytecodes)!
        let block = instructions.first { $0.opcode == .floatBlock }!
        let start = block.offset + Opcode.floatBlock.length
        let program = FloatProgram.derive(m.bytecodes, from: start) { m.literals[$0].floatValue }
        let end = start + Int(program[0]) + Int(program[1]) << 8
        let jump = instructions.first { $0.opcode == .jumpIfFalse && $0.offset > start }!
        XCTAssertEqual(end, jump.offset + Opcode.jumpIfFalse.length, "up to and including the conditional jump")
        XCTAssertEqual(Array(program[2...7]), [2, 5, 8, 4, Opcode.sendGreater.rawValue, 0],
                       "2 constants, 5 temps read, 8 operations, 4 stores, `>` feeding jumpIfFalse")
    }

    func testMandelbrotsLoopTailLeadsBackToTheBlock() {
        // The inner loop of the benchmark: after the block's jump over `ifTrue:` (taken: no escape), the
        // path adds 1 to z, jumps back (a safepoint check), tests notDone and z < 50 and reaches the block.
        let m = method("""
            escape: cr with: ci
                | zrzr zi zizi escape z notDone |
                zrzr := 0.0. zizi := zi := 0.0. z := 0. notDone := true. escape := 0.
                [notDone and: [z < 50]] whileTrue: [
                    | zr |
                    zr := zrzr - zizi + cr.
                    zi := 2.0 * zr * zi + ci.
                    zrzr := zr * zr.
                    zizi := zi * zi.
                    zrzr + zizi > 4.0 ifTrue: [notDone := false. escape := 1].
                    z := z + 1].
                ^ escape
            """)
        let block = Instruction.decode(m.bytecodes)!.first { $0.opcode == .floatBlock }!
        let program = FloatProgram.derive(m.bytecodes, from: block.offset + Opcode.floatBlock.length) { m.literals[$0].floatValue }
        let tail = Int(program[24]) | Int(program[25]) << 8
        XCTAssertGreaterThan(tail, 0, "a loop tail")
        XCTAssertEqual(program[26], 1, "after the conditional jump taken")
        XCTAssertEqual(program[27], 1, "zrzr, zizi and zi are stored into their loads' registers: the loads stay decoded")
        let steps = stride(from: tail, to: program.count, by: 8).map { LoopTailStep(rawValue: program[$0]) }
        XCTAssertEqual(steps, [.addConstant, .backwardJump, .testBoolean, .compare, .loop])
        XCTAssertEqual(Int8(bitPattern: program[tail + 6]), 1, "z + 1")
        XCTAssertEqual(program[tail + 27] & LoopTailStep.constantRight, LoopTailStep.constantRight, "z < 50: a constant")
        XCTAssertEqual(program[tail + 26], 50)
        // The same loop with a send in it has no tail (the interpreter runs the rest of the iteration).
        let withSend = method("""
            escape: cr | zr zi z | zr := zi := 0.0. z := 0.
                [z < 50] whileTrue: [zr := zr * zr + cr. zi := zi * 2.0. z := z printString size + z]. ^ z
            """)
        let other = Instruction.decode(withSend.bytecodes)!.first { $0.opcode == .floatBlock }!
        let plain = FloatProgram.derive(withSend.bytecodes, from: other.offset + Opcode.floatBlock.length) { withSend.literals[$0].floatValue }
        XCTAssertGreaterThan(plain[0], 0)
        XCTAssertEqual(plain[24], 0, "no loop tail")
        XCTAssertEqual(plain[25], 0)
    }

    func testNoBlockWhereTheRunWouldNotPay() {
        for source in [
            "foo: a | b c | b := a + 1. c := a * b - 3. ^ c",              // no float literal: integer code
            "foo: a | b | b := a * 2.0. ^ b",                               // one operation
            "foo: a x := a * 2.0 + 1.0",                                    // stores an instance variable
            "foo: a | b | b := a * 2.0 + 1.0. ^ [b] value",                 // b is captured and assigned: a temp vector's
            "foo: a | b | [b := a * 2.0 + 1.0] value. ^ b",
            "foo: a | b | b := (a foo: 2.0) + 1.0. ^ b",                    // a real send
            "foo: a | b | b := a * 2 + 1.0. ^ b",                           // an integer literal
            "foo: a ^ [:b | b * 2.0 + a] value: 1.0",                       // the block's value, not a statement
        ] {
            let hasBlock = listing(method(source)).contains { $0.hasPrefix("floatBlock") }
            XCTAssertFalse(hasBlock, source)
        }
        // In a block: its argument, its own temporary and a copied value (read only) are frame temps.
        let m = method("foo: a ^ [:b | | c | c := b * 2.0 + a. c] value: 1.0")
        XCTAssertTrue(listing(blocks(m.literals)[0]).contains { $0.hasPrefix("floatBlock") })
    }

    func testAComparisonAloneOrInALoopBodyGetsABlock() {
        XCTAssertTrue(listing(method("foo: a a * a + 1.0 > 4.0 ifTrue: [^ 1]. ^ 2")).contains { $0.hasPrefix("floatBlock") })
        let loop = method("foo: a | z n | z := a. n := 0. [n < 50] whileTrue: [z := z - 0.5. n := n + 1]. ^ z")
        XCTAssertFalse(listing(loop).contains { $0.hasPrefix("floatBlock") }, "one operation per iteration: \(listing(loop))")
        let body = method("foo: a | z n | z := a. n := 0. [n < 50] whileTrue: [z := z * z - 0.5 * z. n := n + 1]. ^ z")
        XCTAssertTrue(listing(body).contains { $0.hasPrefix("floatBlock") })
    }

    func testSendsToTemporariesJoinTheRun() {
        // Getters and setters of temporaries (NBody's statements): no float literal needed.
        let nbody = method("""
            foo: iBody with: jBody by: mag
                | dx dy d |
                dx := iBody x - jBody x. dy := iBody y - jBody y. d := dx * dx + (dy * dy).
                iBody vx: iBody vx - (dx * jBody mass * mag).
                ^ d
            """)
        let code = listing(nbody)
        XCTAssertEqual(code.filter { $0.hasPrefix("floatBlock") }.count, 1, "\(code)")
        // The VM runs the sends too: the program covers all four statements (up to the setter's pop).
        let instructions = Instruction.decode(nbody.bytecodes)!
        let start = instructions.first { $0.opcode == .floatBlock }!.offset + Opcode.floatBlock.length
        let program = FloatProgram.derive(nbody.bytecodes, from: start) { nbody.literals[$0].floatValue }
        let end = start + Int(program[0]) + Int(program[1]) << 8
        let pop = instructions.first { $0.opcode == .pop && $0.offset > start }!
        XCTAssertEqual(end, pop.offset + Opcode.pop.length, "\(code)")
        XCTAssertEqual(Array(program[2...5]), [0, 1, 15, 3], "no constant, 1 temp read (mag), 15 steps (6 getters, 8 operations, the setter), 3 stores")
        // A send to a temporary the run assigned ends it (the VM sends to the frame's slot, written at the end).
        let sqrt = method("foo: a | s d e | s := a * a + 1.0. d := s sqrt. e := d * 2.0 + a sqrt. ^ e")
        XCTAssertEqual(listing(sqrt).filter { $0.hasPrefix("floatBlock") }.count, 2, "\(listing(sqrt))")
        for source in [
            "foo: a | b | b := a x + a y. ^ b",                               // one operation
            "foo: a | b | b := (a x: 1.0) + 1.0 * 2.0. ^ b",                // a keyword send in an expression
            "foo: a | b | b := self x + 1.0 * 2.0. ^ b",                    // not a temporary's
            "foo: a | b | b := a size + 1.0 * 2.0. ^ b",                    // a special selector
            "foo: a | b | a x: 1.0. ^ b",                                   // a setter alone: no operation
            "foo: a | b c d | b := a x. c := a y. d := a z - a w * a v. ^ d", // more getters than operations (CD)
        ] {
            XCTAssertFalse(listing(method(source)).contains { $0.hasPrefix("floatBlock") }, source)
        }
    }

    func testTheDerivationStopsAtWhatItCannotRunInDoubles() {
        // `b := a * 2.0 + 1.0. c := a + 1. …`: the second statement reads an integer literal.
        let m = method("foo: a | b c | b := a * 2.0 + 1.0. c := b * 2.0 - 1.0. c := c + 1. ^ c")
        let instructions = Instruction.decode(m.bytecodes)!
        let start = instructions.first { $0.opcode == .floatBlock }!.offset + Opcode.floatBlock.length
        let program = FloatProgram.derive(m.bytecodes, from: start) { m.literals[$0].floatValue }
        let end = start + Int(program[0]) + Int(program[1]) << 8
        let third = instructions.first { $0.opcode == .pushInt8 }!
        XCTAssertEqual(end, third.offset - Opcode.pushTemp.length, "two statements, not the third")
        XCTAssertEqual(program[6], 0, "no comparison")
        // Nothing to run: a block at an instruction that is not float arithmetic covers nothing.
        XCTAssertEqual(FloatProgram.derive(m.bytecodes, from: third.offset) { m.literals[$0].floatValue },
                       [UInt8](repeating: 0, count: 32), "a header of zeros")
        // A comparison must feed a forward conditional jump.
        var code: [UInt8] = []
        for i in [Instruction(offset: 0, opcode: .pushTemp, a: -1), Instruction(offset: 0, opcode: .pushTemp, a: -1),
                  Instruction(offset: 0, opcode: .sendLess), Instruction(offset: 0, opcode: .jumpIfTrue, a: -6)] {
            i.encode(into: &code)
        }
        XCTAssertEqual(FloatProgram.derive(code, from: 0) { _ in nil }[0], 0, "a backward jump is a loop's")
    }
}

private extension Literal {
    var floatValue: Double? { if case .float(let d) = self { d } else { nil } }
}
