import XCTest
import VMCore
@testable import Compiler

final class DisassemblerTests: XCTestCase {
    func testListingWithANestedBlock() {
        XCTAssertEqual(disassemble(method("foo ^ [:a | a + x] value: 3")), """
        foo (args: 0, temps: 0, maxStack: 2)
            0: pushClosure 0
              [block (args: 1, copied: 0, temps: 0, maxStack: 2)
                0: pushTemp -1
                2: pushInstVar 0
                4: sendAdd
                5: blockReturnTop
              ]
            3: pushInt8 3
            5: sendValue1
            6: returnTop

        """)
    }

    func testListingShowsLiteralsJumpTargetsAndPrimitive() {
        let text = disassemble(method("foo <primitive: 7> x ifTrue: [Transcript show: 'it''s']. ^ #(1 $a)"))
        XCTAssertTrue(text.hasPrefix("foo (args: 0, temps: 0, maxStack: 2, primitive: 7)\n"), text)
        XCTAssertTrue(text.contains("2: jumpIfFalse 11  ; to 16"), text)
        XCTAssertTrue(text.contains("pushGlobal 0  ; Transcript (binding)"), text)
        XCTAssertTrue(text.contains("pushLiteral 1  ; 'it''s'"), text)
        XCTAssertTrue(text.contains("send 2 1  ; #show:"), text)
        XCTAssertTrue(text.contains("; #(1 $a)"), text)
    }
}
