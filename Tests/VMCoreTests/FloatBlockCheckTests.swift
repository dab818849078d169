import XCTest
@testable import VMCore

/// The check of loaded code (CodeCheck.swift) and float blocks: a float block's slot must exist and be
/// its own — a send's inline cache or another float block writing it would hand the block a program
/// that is not its own.
final class FloatBlockCheckTests: XCTestCase {
    private func instructions(_ list: [Instruction]) -> [UInt8] {
        var bytes: [UInt8] = []
        for i in list { i.encode(into: &bytes) }
        return bytes
    }

    /// `b := a * a + a` in a method of one argument and one temporary, with a float block on slot
    /// `slot`, a send `a foo` whose selector is literal `send`, and a second float block on `second`.
    private func loadedCheck(slot: Int, send: Int = 1, second: Int? = nil, literals: Int = 4) -> String? {
        var code: [Instruction] = [Instruction(offset: 0, opcode: .floatBlock, a: slot)]
        let statement = [Instruction(offset: 0, opcode: .pushTemp, a: -1), Instruction(offset: 0, opcode: .pushTemp, a: -1),
                         Instruction(offset: 0, opcode: .sendMul), Instruction(offset: 0, opcode: .pushTemp, a: -1),
                         Instruction(offset: 0, opcode: .sendAdd), Instruction(offset: 0, opcode: .popStoreTemp, a: 7)]
        code += statement
        if let second { code += [Instruction(offset: 0, opcode: .floatBlock, a: second)] + statement }
        code += [Instruction(offset: 0, opcode: .pushTemp, a: -1), Instruction(offset: 0, opcode: .send, a: send, b: 0),
                 Instruction(offset: 0, opcode: .returnTop)]
        var kinds = [LiteralKind](repeating: .other, count: literals)
        if send < literals { kinds[send] = .symbol }
        let parts = CompiledCodeParts(isBlock: false, integers: [nil, nil, 1, 1, 1 + 2 + 2, nil, 0],
                                      bytecodes: instructions(code), literals: kinds, hasHomeMethod: true,
                                      homeClassIsClassShaped: true)
        return parts.check().problem
    }

    func testAFloatBlockWithItsOwnSlotPasses() {
        XCTAssertNil(loadedCheck(slot: 0))
        XCTAssertNil(loadedCheck(slot: 0, second: 4, literals: 5))
    }

    func testDamagedFloatBlocksAreRefused() {
        XCTAssertEqual(loadedCheck(slot: 4), "a float block's literal is not a cache slot", "no such literal")
        XCTAssertEqual(loadedCheck(slot: 60_000), "a float block's literal is not a cache slot")
        XCTAssertEqual(loadedCheck(slot: 2), "a send's cache slot is a float block's")
        XCTAssertEqual(loadedCheck(slot: 0, second: 0), "two float blocks share a literal slot")
        XCTAssertEqual(loadedCheck(slot: 1), "bad send site", "the slot is the send's selector: emptied on load")
    }

    func testCompilerOutputNamesACacheSlot() {
        let code = instructions([Instruction(offset: 0, opcode: .floatBlock, a: 0), Instruction(offset: 0, opcode: .returnSelf)])
        func check(_ kind: LiteralKind) -> String? {
            if case .failure(let p) = CodeCheck.deepestStack(in: code, literals: [kind], numArgs: 0, locals: 0, isBlock: false) {
                return p.text
            }
            return nil
        }
        XCTAssertNil(check(.cacheSlot))
        XCTAssertEqual(check(.symbol), "a float block's literal is not a cache slot")
        XCTAssertEqual(check(.binding), "a float block's literal is not a cache slot")
    }

    func testImagesKeepNoPrograms() {
        // `cacheSlots` names the slots the loader empties and the image writer saves empty.
        let code = instructions([Instruction(offset: 0, opcode: .floatBlock, a: 5), Instruction(offset: 0, opcode: .returnSelf)])
        XCTAssertEqual(CompiledCodeParts.cacheSlots(of: code), [5])
    }
}
