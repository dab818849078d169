// The instances of a class in the store, found without reading the image: `allInstances` on an image
// larger than the heap. The `instances` table holds (class OID, OID) for every class an object was
// written with, in any version — a superset of the instances at any snapshot, which
// `instanceOIDs(ofClass:asOf:)` narrows down by reading the headers of those OIDs as of the snapshot.

extension SQLiteStore {
    /// The OIDs of the objects whose class is `classOID` as of `snapshot`, ascending. The candidates
    /// come from the `instances` index, then one `headers(of:asOf:)` read keeps those that exist then
    /// with that class (an object may have been given another class by `become:`).
    public func instanceOIDs(ofClass classOID: UInt64, asOf snapshot: CommitID) throws -> [UInt64] {
        let candidates: [UInt64] = try withReader { connection in
            let query = try connection.statement("SELECT oid FROM instances WHERE class_oid = ? ORDER BY oid")
            query.bind(1, classOID)
            var oids: [UInt64] = []
            while try query.step() { oids.append(query.uint64(0)) }
            query.reset()
            return oids
        }
        if candidates.isEmpty { return [] }
        return try headers(of: candidates, asOf: snapshot).filter { $0.classOID == classOID }.map(\.oid)
    }

    /// Notes the class of each object written (inside a commit's transaction), read back from its
    /// encoded header. Sorted by class and OID first, so that the index is appended to in runs.
    static func noteInstances(_ writes: [CommitRequest.Write], _ connection: Connection) throws {
        if writes.isEmpty { return }
        let classes = writes.map { write -> (UInt64, UInt64) in
            if let object = write.outOfLine { return (object.classOID, write.oid) }
            let header = write.record!.bytes.withUnsafeBytes { RecordCoding.decodeHeader(oid: write.oid, $0) }
            return (header!.header.classOID, write.oid)
        }
        let insert = try connection.statement("INSERT OR IGNORE INTO instances VALUES (?, ?)")
        for (classOID, oid) in classes.sorted(by: <) {
            insert.reset()
            insert.bind(1, classOID)
            insert.bind(2, oid)
            try insert.run()
        }
        insert.reset()
    }

    /// Fills the index from every version there is (upgrading a store of format 3 or older).
    static func indexInstances(_ connection: Connection) throws {
        let scan = try connection.statement("SELECT oid, header FROM objects")
        let insert = try connection.statement("INSERT OR IGNORE INTO instances VALUES (?, ?)")
        while try scan.step() {
            let oid = scan.uint64(0)
            guard let (header, _) = RecordCoding.decodeHeader(oid: oid, scan.blob(1)) else {
                throw StoreError.corrupt(path: connection.path, detail: "the header of a version of object \(oid) cannot be decoded")
            }
            insert.reset()
            insert.bind(1, header.classOID)
            insert.bind(2, oid)
            try insert.run()
        }
        scan.reset()
        insert.reset()
    }

    /// After vacuum deleted objects: their rows go too (rows of objects that still exist stay, even for a
    /// class no kept version has: the index is a superset).
    static func dropDeletedInstances(_ connection: Connection) throws {
        try connection.execute("DELETE FROM instances WHERE oid NOT IN (SELECT oid FROM objects)")
    }
}
