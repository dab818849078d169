// check() verifies records against the class shapes they name and the instances index; vacuum deletes
// the shapes no kept record needs.

import Foundation
import XCTest
@testable import Store

final class ShapeUpkeepTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    private func shape(_ classOID: UInt64, _ index: UInt32, _ names: [String], format: UInt8 = 1) -> ClassShape {
        ClassShape(classOID: classOID, classIndex: index, format: format, names: names)
    }

    private func shapes(of classOID: UInt64) throws -> [UInt32] {
        try store.classShapes(of: [classOID]).map(\.classIndex)
    }

    func testCheckFindsRecordsWhoseShapeIsMissingOrDoesNotFit() throws {
        let range = try store.allocateOIDs(count: 5)
        let (cls, fits, unknown, wrong, indexed) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2,
                                                    range.lowerBound + 3, range.lowerBound + 4)
        let classObject = StoredObject(oid: cls, classOID: cls, format: 1, identityHash: 40, slots: [])
        let writes = [
            classObject,
            StoredObject(oid: fits, classOID: cls, format: 1, shape: 40, slots: [smallInteger(1), smallInteger(2)]),
            StoredObject(oid: unknown, classOID: cls, format: 1, shape: 41, slots: [smallInteger(1)]),
            StoredObject(oid: wrong, classOID: cls, format: 1, shape: 40, slots: [smallInteger(1), smallInteger(2), smallInteger(3)]),
            StoredObject(oid: indexed, classOID: cls, format: 3, shape: 42, slots: [smallInteger(1), smallInteger(2), smallInteger(3)]),
        ]
        _ = try store.commit(base: try store.headCommit(), writes: writes, roots: ["Smalltalk": cls],
                             shapes: [shape(cls, 40, ["a", "b"]), shape(cls, 42, ["a"], format: 3)], author: "t", message: "shapes")
        let problems = try store.check()
        XCTAssertEqual(problems.map(\.kind), [.shapeMismatch, .shapeMismatch], "\(problems)")
        XCTAssertTrue(problems[0].detail.contains("object \(unknown)") && problems[0].detail.contains("not recorded"), problems[0].detail)
        XCTAssertTrue(problems[1].detail.contains("object \(wrong)") && problems[1].detail.contains("3 slots"), problems[1].detail)
    }

    func testCheckFindsAnObjectMissingFromTheInstancesIndex() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [])],
                             roots: ["Smalltalk": oid], author: "t", message: "one")
        XCTAssertEqual(try store.check(), [])
        try store.write { try $0.execute("DELETE FROM instances") }
        XCTAssertEqual(try store.check().map(\.kind), [.instanceIndex])
    }

    func testVacuumDeletesTheShapesNoKeptRecordNeeds() throws {
        let range = try store.allocateOIDs(count: 6)
        let (root, cls, old, legacyClass, legacy, garbage) = (range.lowerBound, range.lowerBound + 1, range.lowerBound + 2,
                                                             range.lowerBound + 3, range.lowerBound + 4, range.lowerBound + 5)
        func rootObject(_ refs: [UInt64]) -> StoredObject { StoredObject(oid: root, classOID: root, format: 2, slots: refs.map(ref)) }
        let c1 = try store.commit(
            base: try store.headCommit(),
            writes: [rootObject([cls, old, legacyClass, legacy, garbage]),
                     StoredObject(oid: cls, classOID: root, format: 1, identityHash: 50, slots: []),
                     StoredObject(oid: old, classOID: cls, format: 1, shape: 50, slots: [smallInteger(1)]),
                     StoredObject(oid: legacyClass, classOID: root, format: 1, identityHash: 62, slots: []),
                     StoredObject(oid: legacy, classOID: legacyClass, format: 1, slots: [smallInteger(1)]),
                     StoredObject(oid: garbage, classOID: cls, format: 1, shape: 52, slots: [smallInteger(1)])],
            roots: ["Smalltalk": root],
            shapes: [shape(cls, 50, ["a"]), shape(cls, 52, ["z"]), shape(legacyClass, 60, ["a"]), shape(legacyClass, 61, ["a", "b"])],
            author: "t", message: "shapes 50 and 52 of cls, 60 and 61 of the legacy class")
        // The class changes twice (index 51, then 53) and `old` is written in shape 51; garbage goes.
        let c2 = try store.commit(
            base: c1,
            writes: [rootObject([cls, old, legacyClass, legacy]),
                     StoredObject(oid: cls, classOID: root, format: 1, identityHash: 53, slots: []),
                     StoredObject(oid: old, classOID: cls, format: 1, shape: 51, slots: [smallInteger(1), smallInteger(2)])],
            shapes: [shape(cls, 51, ["a", "b"]), shape(cls, 53, ["a", "b", "c"])], author: "t", message: "cls changes")
        XCTAssertEqual(try shapes(of: cls), [50, 52, 51, 53])
        let report = try store.vacuum(retain: .zero)
        XCTAssertEqual(report.shapesRemoved, 3, "50 and 52 of cls (no kept record), 61 of the legacy class")
        XCTAssertEqual(try shapes(of: cls), [51, 53], "51: old's record; 53: the class's own index")
        XCTAssertEqual(try shapes(of: legacyClass), [60], "the first: records without a shape follow it")
        XCTAssertEqual(try store.check(), [])
        XCTAssertEqual(try store.load(oid: old, asOf: c2)?.shape, 51)
    }
}
