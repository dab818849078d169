// Object headers (what a ghost needs) read without contents, batched reads of records that tolerate
// missing objects, and stores of format 1 upgraded when opened.

import CSQLite
import XCTest
@testable import Store

final class HeaderTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    func testHeadersGiveClassFormatHashAndSizeOfEachKind() throws {
        let oids = Array(try store.allocateOIDs(count: 4))
        var remaining = 100_000
        let large = try store.writeLargeBytes { buffer in
            let count = min(buffer.count, remaining)
            buffer.initializeMemory(as: UInt8.self, repeating: 7)
            remaining -= count
            return count
        }
        let objects = [
            StoredObject(oid: oids[0], classOID: oids[0], format: 2, identityHash: 0x3F_FFFF, slots: [ref(oids[1]), smallInteger(3), ref(oids[0])]),
            StoredObject(oid: oids[1], classOID: oids[0], format: 21, identityHash: 9, bytes: Array("abc".utf8)),
            StoredObject(oid: oids[2], classOID: 12345, format: 16, contents: .largeBytes(large)),
            StoredObject(oid: oids[3], classOID: oids[0], format: 0, slots: []),
        ]
        let commit = try store.commit(base: try store.headCommit(), writes: objects, author: "t", message: "four")
        let headers = try store.headers(of: oids.reversed() + [oids[0], 999_999], asOf: commit)
        XCTAssertEqual(headers, objects.map(\.header), "in OID order, each once, the missing one left out")
        XCTAssertEqual(headers[0], StoredHeader(oid: oids[0], classOID: oids[0], format: 2, identityHash: 0x3F_FFFF, kind: .slots, count: 3))
        XCTAssertEqual(headers[1].kind, .bytes)
        XCTAssertEqual(headers[1].count, 3)
        XCTAssertEqual(headers[2].kind, .largeBytes)
        XCTAssertEqual(headers[2].count, 100_000)
        XCTAssertEqual(headers[3].count, 0)
    }

    func testBatchedReadsSeeTheNewestVersionAsOfTheSnapshotInRunsAndAlone() throws {
        // 200 consecutive OIDs (read as range scans) and a few scattered ones (read one seek each).
        let oids = Array(try store.allocateOIDs(count: 1000))
        func object(_ oid: UInt64, _ size: Int) -> StoredObject {
            StoredObject(oid: oid, classOID: 1, format: 2, slots: Array(repeating: smallInteger(size), count: size))
        }
        let first = try store.commit(base: try store.headCommit(), writes: oids.map { object($0, 1) }, author: "t", message: "v1")
        let changed = Set(oids.filter { $0 % 3 == 0 })
        let second = try store.commit(base: first, writes: changed.sorted().map { object($0, 2) }, author: "t", message: "v2")
        let wanted = Array(oids[100..<300]) + [oids[500], oids[700], oids[999]] + [oids[999] + 5, 0]

        for (snapshot, size) in [(first, { (_: UInt64) in 1 }), (second, { changed.contains($0) ? 2 : 1 })] {
            let records = try store.records(of: wanted.shuffled(), asOf: snapshot)
            XCTAssertEqual(records.map(\.oid), wanted.dropLast(2).sorted())
            XCTAssertEqual(records, records.map { object($0.oid, size($0.oid)) })
            let headers = try store.headers(of: wanted, asOf: snapshot)
            XCTAssertEqual(headers, records.map(\.header))
        }
        XCTAssertEqual(try store.records(of: oids, asOf: CommitID(1)), [], "nothing exists yet at the first commit")
    }

    func testAHeaderThatDisagreesWithItsContentsIsFoundByCheckAndRefusedByReads() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        let commit = try store.commit(base: try store.headCommit(),
                                      writes: [StoredObject(oid: oid, classOID: oid, format: 2, slots: [smallInteger(1), smallInteger(2)])],
                                      author: "t", message: "one")
        try store.drainLog()  // in SQLite before the edit (with the shared log it is applied later)
        let threeSlots = RecordCoding.encode(StoredObject(oid: oid, classOID: oid, format: 2, slots: [1, 1, 1].map(smallInteger)))
        try store.write { connection in
            let update = try connection.statement("UPDATE objects SET header = ? WHERE oid = ?")
            update.bind(1, Array(threeSlots.prefix(3)))
            update.bind(2, oid)
            try update.run()
        }
        XCTAssertEqual(try store.headers(of: [oid], asOf: commit).first?.count, 3)
        XCTAssertThrowsError(try store.records(of: [oid], asOf: commit)) {
            guard case .corrupt? = $0 as? StoreError else { return XCTFail("\($0)") }
        }
        XCTAssertTrue(try store.check().contains { $0.kind == .integrity && $0.detail.contains("object \(oid)") })
    }

    func testAStoreOfFormatOneIsUpgradedWhenOpened() throws {
        let path = directory.file("old.lo")
        let objects = [
            StoredObject(oid: 1, classOID: 1, format: 1, identityHash: 77, slots: [ref(2), smallInteger(-5), character(65)]),
            StoredObject(oid: 2, classOID: 1, format: 18, bytes: Array("old".utf8)),
            StoredObject(oid: 3, classOID: 1, format: 16, contents: .largeBytes(LargeBytes(id: 1, count: 10))),
        ]
        try makeFormatOneStore(at: path, objects: objects)

        let upgraded = try SQLiteStore.open(path: path)
        let head = try upgraded.headCommit()
        XCTAssertEqual(try upgraded.load(oids: [1, 2, 3], asOf: head), objects)
        XCTAssertEqual(try upgraded.headers(of: [1, 2, 3], asOf: head), objects.map(\.header))
        XCTAssertEqual(try Connection(path: path, flags: SQLITE_OPEN_READWRITE).integer("PRAGMA user_version"), 4)
        XCTAssertEqual(try upgraded.instanceOIDs(ofClass: 1, asOf: head), [1, 2, 3], "the instances index is filled")
        XCTAssertEqual(try upgraded.check(), [])
        XCTAssertEqual(try upgraded.classShapes(of: [1]), [])
        let next = try upgraded.commit(base: head, writes: [StoredObject(oid: 2, classOID: 1, format: 16, bytes: [1])],
                                       author: "t", message: "after the upgrade")
        XCTAssertEqual(try SQLiteStore.open(path: path).load(oid: 2, asOf: next)?.bytes, [1])
    }

    func testAStoreOfFormatTwoGetsTheShapesTableWhenOpened() throws {
        let path = directory.file("two.lo")
        let object = StoredObject(oid: 1, classOID: 1, format: 1, identityHash: 9, slots: [ref(1), smallInteger(2)])
        let made = try SQLiteStore.open(path: path, create: true)
        _ = try made.allocateOIDs(count: 1)
        let head = try made.commit(base: try made.headCommit(), writes: [object], author: "t", message: "one")
        let db = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try db.execute("DROP TABLE shapes; DROP TABLE instances; PRAGMA user_version = 2; PRAGMA wal_checkpoint(TRUNCATE)")

        let upgraded = try SQLiteStore.open(path: path)
        XCTAssertEqual(try db.integer("PRAGMA user_version"), 4)
        XCTAssertEqual(try upgraded.load(oid: 1, asOf: head), object, "records of format 2 have no shape")
        let shape = ClassShape(classOID: 1, classIndex: 9, format: 1, names: ["a", "b"])
        _ = try upgraded.commit(base: head, writes: [], shapes: [shape], author: "t", message: "a shape")
        XCTAssertEqual(try SQLiteStore.open(path: path).classShapes(of: [1]), [shape])
        XCTAssertEqual(try upgraded.check(), [])
    }

    /// A store file as format 1 wrote it: one `record` column per version, no size in it, large
    /// bytes ending in their count (made from a new store by putting its objects table back).
    private func makeFormatOneStore(at path: String, objects: [StoredObject]) throws {
        _ = try SQLiteStore.open(path: path, create: true)
        let db = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try db.execute("""
            DROP TABLE objects;
            DROP TABLE long_contents;
            DROP TABLE shapes;
            DROP TABLE instances;
            CREATE TABLE objects(oid INTEGER NOT NULL, commit_id INTEGER NOT NULL, record BLOB NOT NULL,
                PRIMARY KEY (oid, commit_id)) WITHOUT ROWID;
            UPDATE meta SET value = 4 WHERE key = 'next_oid';
            INSERT INTO commits VALUES (2, 0, 't', 'three', 3, x'010101');
            INSERT INTO large_bytes VALUES (1, 10, 1, 0);
            INSERT INTO chunks VALUES (1, 0, x'00010203040506070809');
            INSERT INTO roots VALUES ('Smalltalk', 2, 1);
            PRAGMA user_version = 1;
            """)
        let insert = try db.statement("INSERT INTO objects VALUES (?, 2, ?)")
        for object in objects {
            insert.reset()
            insert.bind(1, object.oid)
            insert.bind(2, formatOneRecord(object))
            try insert.run()
        }
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    private func formatOneRecord(_ object: StoredObject) -> [UInt8] {
        var out: [UInt8] = []
        let kind: UInt8 = object.slots != nil ? 0 : object.bytes != nil ? 1 : 2
        out.append(object.format | kind << 5 | (object.identityHash != 0 ? 0x80 : 0))
        Varint.append(object.classOID, to: &out)
        if object.identityHash != 0 { Varint.append(UInt64(object.identityHash), to: &out) }
        switch object.contents {
        case let .slots(slots):
            // Only what this test writes: references, SmallIntegers and Characters.
            for slot in slots {
                switch slot & 7 {
                case 0: Varint.append(Varint.zigzag(Int64(bitPattern: (slot >> 3) &- object.oid)) << 2, to: &out)
                case 1: Varint.append(Varint.zigzag(Int64(bitPattern: slot) >> 3) << 2 | 1, to: &out)
                default: Varint.append((slot >> 3) << 2 | 2, to: &out)
                }
            }
        case let .bytes(bytes): out += bytes
        case let .largeBytes(large):
            Varint.append(UInt64(large.id), to: &out)
            Varint.append(UInt64(large.count), to: &out)
        }
        return out
    }
}

final class LongContentsTests: XCTestCase {
    private let directory = TemporaryDirectory()
    private lazy var store = try! SQLiteStore.open(path: directory.file("image.lo"), create: true)

    private func count(_ sql: String) throws -> Int64 { try store.write { try $0.integer(sql) ?? 0 } }

    func testLongRecordsLiveOutsideTheObjectsTableAndReadBackEveryWay() throws {
        let oids = Array(try store.allocateOIDs(count: 20))
        let long = StoredObject(oid: oids[10], classOID: oids[0], format: 2, identityHash: 5,
                                slots: (0..<10_000).map { ref(oids[$0 % 20]) })
        let text = StoredObject(oid: oids[11], classOID: oids[0], format: 16, bytes: [UInt8](repeating: 65, count: 2000))
        let small = oids.filter { $0 != long.oid && $0 != text.oid }
            .map { StoredObject(oid: $0, classOID: oids[0], format: 1, slots: [smallInteger(Int($0))]) }
        let commit = try store.commit(base: try store.headCommit(), writes: small + [long, text], author: "t", message: "m")
        try store.drainLog()  // in SQLite before it is counted (with the shared log it is applied later)
        XCTAssertEqual(try count("SELECT count(*) FROM long_contents"), 2)
        XCTAssertEqual(try count("SELECT count(*) FROM objects WHERE typeof(contents) = 'integer'"), 2)
        XCTAssertEqual(try store.load(oids: [long.oid, text.oid], asOf: commit), [long, text])
        XCTAssertEqual(try store.records(of: oids, asOf: commit).filter { $0.oid == long.oid || $0.oid == text.oid }, [long, text],
                       "read in a range scan")
        XCTAssertEqual(try store.loadCluster(startingAt: oids[0], limit: 20, asOf: commit)[10], long)
        XCTAssertEqual(try store.headers(of: [long.oid], asOf: commit), [long.header])
        XCTAssertEqual(try store.check(), [])
    }

    func testRollbackSharesLongContentsAndVacuumDropsThemWithTheLastVersion() throws {
        let oid = try store.allocateOIDs(count: 1).lowerBound
        func version(_ n: Int) -> StoredObject {
            StoredObject(oid: oid, classOID: oid, format: 2, slots: Array(repeating: smallInteger(n), count: 1000))
        }
        let first = try store.commit(base: try store.headCommit(), writes: [version(1)], roots: ["r": oid], author: "t", message: "1")
        let second = try store.commit(base: first, writes: [version(2)], author: "t", message: "2")
        let rolledBack = try store.rollback(to: first, author: "t")
        XCTAssertEqual(try store.load(oid: oid, asOf: rolledBack), version(1))
        XCTAssertEqual(try count("SELECT count(*) FROM long_contents"), 2, "the rollback's version shares version 1's")
        XCTAssertEqual(try store.load(oid: oid, asOf: second), version(2))
        try store.vacuum(retain: .zero)
        XCTAssertEqual(try count("SELECT count(*) FROM long_contents"), 1)
        XCTAssertEqual(try store.load(oid: oid, asOf: try store.headCommit()), version(1))
        XCTAssertEqual(try store.check(), [])
    }
}
