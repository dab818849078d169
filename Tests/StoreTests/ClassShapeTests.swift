// Class shapes: recorded with a commit, never replaced, read back per class in the order recorded.

import XCTest
@testable import Store

final class ClassShapeTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    private func commit(_ shapes: [ClassShape], writes: [StoredObject] = [], base: CommitID? = nil) throws -> CommitID {
        try store.commit(base: base ?? store.headCommit(), writes: writes, shapes: shapes, author: "t", message: "shapes")
    }

    func testShapesAreReadBackPerClassInTheOrderRecorded() throws {
        let first = ClassShape(classOID: 40, classIndex: 300, format: 1, names: ["a", "b", "c"])
        let second = ClassShape(classOID: 40, classIndex: 310, format: 3, names: ["c", "d", "a"])
        let other = ClassShape(classOID: 41, classIndex: 301, format: 0, names: [])
        _ = try commit([first, other])
        _ = try commit([second])
        XCTAssertEqual(try store.classShapes(of: [40]), [first, second])
        XCTAssertEqual(try store.classShapes(of: [41, 40, 99]), [first, second, other])
        XCTAssertEqual(try store.classShapes(of: []), [])
    }

    func testAShapeOnceRecordedIsNeverReplaced() throws {
        let shape = ClassShape(classOID: 40, classIndex: 300, format: 1, names: ["a"])
        _ = try commit([shape])
        _ = try commit([ClassShape(classOID: 40, classIndex: 300, format: 1, names: ["other"]), shape])
        XCTAssertEqual(try store.classShapes(of: [40]), [shape])
    }

    func testNamesOfAnyCharactersRoundTrip() throws {
        let shape = ClassShape(classOID: 7, classIndex: 8, format: 4, names: ["with space", "ünïcödé", "", "x\ny"])
        _ = try commit([shape])
        XCTAssertEqual(try SQLiteStore.open(path: store.path).classShapes(of: [7]), [shape])
    }

    func testAConflictingCommitRecordsNoShape() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let base = try store.headCommit()
        let object = StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(1)])
        _ = try commit([], writes: [object], base: base)
        XCTAssertThrowsError(try commit([ClassShape(classOID: oid, classIndex: 9, format: 1, names: ["x"])], writes: [object], base: base)) {
            XCTAssertTrue($0 is CommitConflict, "\($0)")
        }
        XCTAssertEqual(try store.classShapes(of: [oid]), [])
    }

    func testBytesWithAShapeAreRefused() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        var bytes = StoredObject(oid: oid, classOID: oid, format: 16, bytes: [1])
        bytes.shape = 5
        XCTAssertThrowsError(try commit([], writes: [bytes])) {
            guard case .invalidRequest? = $0 as? StoreError else { return XCTFail("\($0)") }
        }
    }
}
