// The record encoding: every kind of slot value survives, and small objects stay small.

import XCTest
@testable import Store

final class RecordCodingTests: XCTestCase {
    private func roundTrip(_ object: StoredObject, file: StaticString = #filePath, line: UInt = #line) {
        let encoded = RecordCoding.encode(object)
        XCTAssertEqual(RecordCoding.decode(oid: object.oid, encoded), object, file: file, line: line)
    }

    func testImmediatesAndReferencesRoundTrip() {
        let slots: [UInt64] = [
            ref(1), ref(1_000_000), ref(StoredObject.maximumOID), ref(0),
            smallInteger(0), smallInteger(-1), smallInteger(1 << 59), smallInteger(-(1 << 60)),
            character(65), character(0x10FFFF),
            0x4000_0000_0000_0004, 0xFFFF_FFFF_FFFF_FFFC,  // SmallFloat64 bit patterns
            3, 5, 6, 7, UInt64.max,  // tags the VM does not use today: kept verbatim
        ]
        roundTrip(StoredObject(oid: 500_000, classOID: 17, format: 2, slots: slots))
        roundTrip(StoredObject(oid: StoredObject.maximumOID, classOID: 1, format: 1, slots: [ref(1), ref(StoredObject.maximumOID)]))
    }

    func testBytesAndEmptyObjectsRoundTrip() {
        roundTrip(StoredObject(oid: 9, classOID: 3, format: 16, bytes: Array("hello, world".utf8)))
        roundTrip(StoredObject(oid: 9, classOID: 3, format: 16, bytes: []))
        roundTrip(StoredObject(oid: 9, classOID: 3, format: 0, slots: []))
        roundTrip(StoredObject(oid: 9, classOID: 3, format: 23, contents: .largeBytes(LargeBytes(id: 77, count: 1 << 30))))
    }

    func testTheIdentityHashRoundTripsAndCostsOnlyWhenPresent() {
        roundTrip(StoredObject(oid: 7, classOID: 3, format: 1, identityHash: 0x3F_FFFF, slots: [ref(8), smallInteger(1)]))
        roundTrip(StoredObject(oid: 7, classOID: 3, format: 16, identityHash: 1, bytes: [1, 2, 3]))
        roundTrip(StoredObject(oid: 7, classOID: 3, format: 23, identityHash: 42, contents: .largeBytes(LargeBytes(id: 5, count: 1 << 20))))
        let plain = StoredObject(oid: 7, classOID: 3, format: 1, slots: [smallInteger(1)])
        var hashed = plain
        hashed.identityHash = 1000
        XCTAssertEqual(RecordCoding.encode(hashed).count, RecordCoding.encode(plain).count + 2)
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x81, 0x05]))            // hash flagged but missing
    }

    func testTheShapeOfAPointerObjectRoundTripsAndCostsOnlyWhenPresent() {
        let shaped = StoredObject(oid: 7, classOID: 3, format: 1, identityHash: 12, shape: 1000, slots: [ref(8), smallInteger(1)])
        roundTrip(shaped)
        roundTrip(StoredObject(oid: 7, classOID: 3, format: 2, shape: UInt32.max, slots: []))
        var plain = shaped
        plain.shape = 0
        XCTAssertEqual(RecordCoding.encode(shaped).count, RecordCoding.encode(plain).count + 2)
        let (header, _) = try! XCTUnwrap(RecordCoding.encode(shaped).withUnsafeBytes { RecordCoding.decodeHeader(oid: 7, $0) })
        XCTAssertEqual(header.shape, 1000)
        XCTAssertEqual(header.kind, .slots)
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x61, 0x05, 0x00, 0x00]))  // a shape of 0 is never written
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x61, 0x05, 0x00]))        // shape missing
    }

    func testASmallObjectNearItsNeighboursTakesAFewBytes() {
        let object = StoredObject(oid: 1_000_000, classOID: 40, format: 1,
                                  slots: [ref(1_000_001), smallInteger(1234), ref(5)])
        // 1 format byte, 1 class byte, 1 count byte, slots 1 + 2 + 4 bytes (the far reference to nil costs 4).
        XCTAssertEqual(RecordCoding.encode(object).count, 10)
    }

    func testMalformedRecordsAreRejected() {
        XCTAssertNil(RecordCoding.decode(oid: 1, [UInt8]()))
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x01, 0x80]))            // class varint cut short
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x01, 0x05, 0x83]))      // slot varint cut short
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x61, 0x05]))            // shaped slots without a count
        XCTAssertNil(RecordCoding.decode(oid: 1, [0x41, 0x05, 0x01]))      // large bytes without a count
    }

    func testReferencedOIDsAreTheClassAndTheReferences() {
        let object = StoredObject(oid: 10, classOID: 2, format: 1, slots: [ref(11), smallInteger(3), character(97), ref(12)])
        XCTAssertEqual(object.referencedOIDs, [2, 11, 12])
        XCTAssertEqual(StoredObject(oid: 10, classOID: 2, format: 16, bytes: [0, 0, 0, 0, 0, 0, 0, 0]).referencedOIDs, [2])
        XCTAssertEqual(StoredObject.referencedOID(ref(99)), 99)
        XCTAssertNil(StoredObject.referencedOID(smallInteger(99)))
    }

    func testOIDListsRoundTrip() {
        let oids: [UInt64] = [1, 2, 3, 1000, 1_000_000_000, StoredObject.maximumOID]
        var decoded: [UInt64] = []
        XCTAssertTrue(OIDList.encode(sorted: oids).withUnsafeBytes { OIDList.decode($0, into: &decoded) })
        XCTAssertEqual(decoded, oids)
    }
}
