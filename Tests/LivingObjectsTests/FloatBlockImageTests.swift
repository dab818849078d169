// Float blocks in an image: a program is never saved (its slot is an inline cache), so code read back
// derives it again; a float block whose slot a damaged record makes a send's cache is refused when loaded.

import Foundation
@testable import Store
import VMCore
import XCTest
@testable import LivingObjects

final class FloatBlockImageTests: MasterImageTestCase {
    override class var master: MasterImage? { DataImage.master }

    func testProgramsAreDerivedAgainAndADamagedBlockIsRefused() throws {
        let probe = try openedWithoutPrefetching()
        let body = "| b c | b := a * 2.0 + 1.0. c := b * b - 0.5. ^ c"
        try probe.rt.compile("scaled: a \(body)", inClass: "LazyNode")
        try probe.rt.compile("damaged: a \(body) printString", inClass: "LazyNode")
        XCTAssertEqual(try probe.print("{LazyNode new scaled: 0.25. LazyNode new damaged: 0.25}"), "#(1.75 '1.75')")
        _ = try probe.rt.evaluate("System commit")
        let method = try probe.rt.evaluate("LazyNode >> #damaged:")
        let session = try XCTUnwrap(probe.rt.imageSession)
        let bytecodesOID = try XCTUnwrap(session.oids[probe.rt.vm.fetchSlot(method, CodeLayout.bytecodes)])
        let literalsOID = try XCTUnwrap(session.oids[probe.rt.vm.fetchSlot(method, CodeLayout.literals)])
        let store = try SQLiteStore.open(path: image)
        let saved = try XCTUnwrap(try store.load(oid: literalsOID, asOf: try store.headCommit()))
        let nilOID = try XCTUnwrap(session.oids[probe.rt.vm.nilObj])
        XCTAssertEqual(saved.slots?.first, StoredObject.reference(nilOID), "the program's slot (literal 0) is saved empty")

        // Literals: the program's slot, 2.0, 1.0, 0.5, then #printString and its two cache slots (5, 6).
        var code = try XCTUnwrap(try store.load(oid: bytecodesOID, asOf: try store.headCommit())?.bytes)
        XCTAssertEqual(code[0], Opcode.floatBlock.rawValue)
        code[1] = 5
        let hex = code.map { String(format: "%02x", $0) }.joined()
        try store.write { try $0.execute("UPDATE objects SET contents = x'\(hex)' WHERE oid = \(bytecodesOID)") }
        let found = try ImageFile(path: image).check().problems
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("compiled code of #damaged: (object") && $0.hasSuffix("a send's cache slot is a float block's") }, "\(found)")

        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("LazyNode new scaled: 0.25"), "1.75", "derived again from the bytecodes")
        XCTAssertEqual(try image.print("[LazyNode new damaged: 0.25] on: Error do: [:e | e messageText]"),
                       "'the compiled code of this method is damaged in the image (a send''s cache slot is a float block''s): compile it again, or roll back'")
    }
}
