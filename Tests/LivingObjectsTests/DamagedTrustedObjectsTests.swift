// Objects whose fields the interpreter reads without checking (compiled code, a closure's block and
// argument count) are checked when loaded from an image: a record damaged on disk gives an error
// when used, never a crash.

import Foundation
@testable import Store
import VMCore
import XCTest
@testable import LivingObjects

final class DamagedTrustedObjectsTests: MasterImageTestCase {
    override class var master: MasterImage? { DataImage.master }
    static let noCode = "'this block has no code to run (made without any, or its compiled code is damaged in the image)'"

    /// A committed closure `[:x | x + n]` in the global `Adder`, and the OIDs of it and its block.
    private func committedAdder() throws -> (closure: UInt64, block: UInt64) {
        let probe = try openedWithoutPrefetching()
        try probe.rt.compile("adding: n ^ [:x | x + n]", inClass: "LazyNode")
        XCTAssertEqual(try probe.print("Smalltalk at: #Adder put: (LazyNode new adding: 3). System commit. Adder value: 4"), "7")
        let closure = try XCTUnwrap(probe.rt.global("Adder"))
        let block = probe.rt.vm.fetchSlot(closure, ClosureLayout.compiledBlock)
        let oids = try XCTUnwrap(probe.rt.imageSession?.oids)
        return (try XCTUnwrap(oids[closure]), try XCTUnwrap(oids[block]))
    }

    private func execute(_ sql: String) throws {
        try SQLiteStore.open(path: image).write { try $0.execute(sql) }
    }

    /// The newest record of `oid` becomes a copy of the newest record of `source`.
    private func replaceRecord(of oid: UInt64, byThatOf source: UInt64) throws {
        try execute("""
            UPDATE objects SET
              header = (SELECT header FROM objects WHERE oid = \(source) ORDER BY commit_id DESC LIMIT 1),
              contents = (SELECT contents FROM objects WHERE oid = \(source) ORDER BY commit_id DESC LIMIT 1)
            WHERE oid = \(oid) AND commit_id = (SELECT MAX(commit_id) FROM objects WHERE oid = \(oid))
            """)
    }

    /// The OID of a committed object that `expression` answers.
    private func committed(_ expression: String) throws -> UInt64 {
        let probe = try openedWithoutPrefetching()
        let o = try probe.rt.evaluate("Smalltalk at: #Committed put: (\(expression)). System commit. Committed")
        return try XCTUnwrap(probe.rt.imageSession?.oids[o])
    }

    func testAClosureWhoseBlockIsNotCodeFailsWhenRunInsteadOfCrashing() throws {
        let (closure, block) = try committedAdder()
        try replaceRecord(of: block, byThatOf: try committed("Array new: 9 withAll: 1"))
        // (and that the method making such closures has lost its block, and the class index is stale)
        let found = try ImageFile(path: image).check().problems
        XCTAssertTrue(found.contains("a closure (object \(closure)): its compiled block is not a CompiledBlock"), "lo check finds it: \(found)")
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("[Adder value: 4] on: Error do: [:e | e messageText]"), Self.noCode, image.err)
        XCTAssertEqual(try image.print("(Data at: 4) value + 3"), "7", "the rest of the image is fine")
    }

    func testAClosureWhoseBlockIsMissingIsAnObjectFault() throws {
        let (closure, block) = try committedAdder()
        try execute("DELETE FROM objects WHERE oid = \(block)")
        let image = try openedWithoutPrefetching()
        let text = try image.print("[Adder value: 4] on: ObjectFault do: [:e | e messageText]")
        XCTAssertTrue(text.contains("cannot load object \(closure)") && text.contains("object \(block) does not exist"), text)
        XCTAssertEqual(try image.print("(Data at: 4) value + 3"), "7")
    }

    /// A commit of the stored object `oid` with only its first `count` slots.
    private func truncate(_ oid: UInt64, to count: Int) throws {
        let store = try SQLiteStore.open(path: image)
        let head = try store.headCommit()
        var record = try XCTUnwrap(try store.load(oid: oid, asOf: head))
        record.contents = .slots(Array(try XCTUnwrap(record.slots).prefix(count)))
        _ = try store.commit(base: head, writes: [record], author: "test", message: "damage")
    }

    func testCompiledCodeWithTooFewFieldsIsNeverRun() throws {
        let probe = try openedWithoutPrefetching()
        try probe.rt.compile("tripled: n ^ n * 3", inClass: "LazyNode")
        try probe.rt.compile("sixfold: n ^ (self tripled: n) * 2", inClass: "LazyNode")
        XCTAssertEqual(try probe.print("System commit. LazyNode new sixfold: 2"), "12")
        let method = try probe.rt.evaluate("LazyNode >> #tripled:")
        try truncate(try XCTUnwrap(probe.rt.imageSession?.oids[method]), to: CodeLayout.numTemps)
        try truncate(try committedAdder().block, to: CodeLayout.frameSize)

        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("[LazyNode new sixfold: 2] on: MessageNotUnderstood do: [:e | e message selector]"), "#tripled:", image.err)
        XCTAssertEqual(try image.print("[Adder value: 4] on: Error do: [:e | e messageText]"), Self.noCode, image.err)
        XCTAssertEqual(try image.print("(Data at: 4) value + 3"), "7", "the rest of the image is fine")
        try image.rt.compile("tripled: n ^ n + n + n", inClass: "LazyNode")
        XCTAssertEqual(try image.print("LazyNode new sixfold: 2"), "12", "compiled again, it runs")
    }

    /// A method whose literal frame is a byte object already loaded: its words are not read as slots.
    func testALiteralFrameThatIsABytesObjectIsDamagedCode() throws {
        let text = try committed("'some text, long enough to fill a few words of memory' copy")
        let probe = try openedWithoutPrefetching()
        try probe.rt.compile("greeting ^ 'hello' , ' world'", inClass: "LazyNode")
        XCTAssertEqual(try probe.print("System commit. LazyNode new greeting"), "'hello world'")
        let method = try XCTUnwrap(probe.rt.imageSession?.oids[try probe.rt.evaluate("LazyNode >> #greeting")])
        let store = try SQLiteStore.open(path: image)
        let head = try store.headCommit()
        var record = try XCTUnwrap(try store.load(oid: method, asOf: head))
        var slots = try XCTUnwrap(record.slots)
        slots[CodeLayout.literals] = StoredObject.reference(text)
        record.contents = .slots(slots)
        _ = try store.commit(base: head, writes: [record], author: "test", message: "damage")

        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Committed size"), "52", "the String is loaded first")
        XCTAssertTrue(try image.print("[LazyNode new greeting] on: Error do: [:e | e messageText]").contains("literal frame missing"), image.err)
    }
}
