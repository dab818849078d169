// The instances of a class in the store, found without reading the image: `allInstances` on an image
// larger than the heap. The `instances` table notes, for every class an object was written with in
// any version, the object's OID — a superset of the instances at any snapshot, which
// `instanceOIDs(ofClass:asOf:)` narrows down by reading the headers of those OIDs as of the snapshot.
// A row holds a class's members among 64 consecutive OIDs as a bitmap: objects made together get
// consecutive OIDs, so a commit of many objects adds few rows, and rewriting an object adds none.

/// Members of classes, by blocks of 64 OIDs: (class, block, bitmap), bit i standing for the OID
/// block * 64 + i. Adding OIDs in ascending order merges them as they come.
struct InstanceBlocks {
    private var entries: [(classOID: UInt64, block: UInt64, bits: UInt64)] = []

    mutating func add(classOID: UInt64, oid: UInt64) {
        let block = oid >> 6, bit: UInt64 = 1 << (oid & 63)
        var i = entries.count - 1
        while i >= 0 && entries[i].block == block {
            if entries[i].classOID == classOID {
                entries[i].bits |= bit
                return
            }
            i -= 1
        }
        entries.append((classOID, block, bit))
    }

    /// Writes them into the index, keeping what is there: one upsert per class and block, which
    /// writes nothing when the bits are set already. A commit skips the bits the connection's commits
    /// are known to have set (`CommitCache`).
    func write(_ connection: Connection, usingCommitCache: Bool = false) throws {
        if entries.isEmpty { return }
        let sorted = entries.count == 1 ? entries : entries.sorted { ($0.classOID, $0.block) < ($1.classOID, $1.block) }
        var upsert: Statement?
        var i = 0
        while i < sorted.count {
            let classOID = sorted[i].classOID, block = sorted[i].block
            var bits = sorted[i].bits, end = i + 1
            while end < sorted.count && sorted[end].classOID == classOID && sorted[end].block == block {
                bits |= sorted[end].bits
                end += 1
            }
            i = end
            if usingCommitCache && connection.commitCache.hasNoted(classOID: classOID, block: block, bits: bits) { continue }
            if upsert == nil { upsert = try connection.statement(.noteInstances) } else { upsert!.reset() }
            upsert!.bind(1, classOID)
            upsert!.bind(2, block)
            upsert!.bind(3, bits)
            try upsert!.run()
            if usingCommitCache { connection.commitCache.noted(classOID: classOID, block: block, bits: bits) }
        }
        upsert?.reset()
    }
}

extension SQLiteStore {
    /// The OIDs of the objects whose class is `classOID` as of `snapshot`, ascending. The candidates
    /// come from the `instances` index, then one `headers(of:asOf:)` read keeps those that exist then
    /// with that class (an object may have been given another class by `become:`).
    public func instanceOIDs(ofClass classOID: UInt64, asOf snapshot: CommitID) throws -> [UInt64] {
        try awaitApplied(snapshot)
        let candidates: [UInt64] = try withReader { connection in
            let query = try connection.statement("SELECT block, bits FROM instances WHERE class_oid = ? ORDER BY block")
            query.bind(1, classOID)
            var oids: [UInt64] = []
            while try query.step() {
                let block = query.uint64(0)
                var mask = query.uint64(1)
                while mask != 0 {
                    oids.append(block << 6 | UInt64(mask.trailingZeroBitCount))
                    mask &= mask - 1
                }
            }
            query.reset()
            return oids
        }
        if candidates.isEmpty { return [] }
        return try headers(of: candidates, asOf: snapshot).filter { $0.classOID == classOID }.map(\.oid)
    }

    /// Notes the class of each object written (inside a commit's transaction), read back from its
    /// encoded header.
    static func noteInstances(_ request: CommitRequest, _ connection: Connection) throws {
        var blocks = InstanceBlocks()
        request.records.withUnsafeBytes { records in
            for write in request.writes {
                if let object = write.outOfLine {
                    blocks.add(classOID: object.classOID, oid: write.oid)
                } else if let (header, _) = RecordCoding.decodeHeader(oid: write.oid, UnsafeRawBufferPointer(rebasing: records[write.record])) {
                    blocks.add(classOID: header.classOID, oid: write.oid)
                }
            }
        }
        try blocks.write(connection, usingCommitCache: true)
    }

    /// Whether the index notes `oid` under `classOID` (for check()).
    static func isNotedInstance(_ oid: UInt64, of classOID: UInt64, _ query: Statement) throws -> Bool {
        query.reset()
        query.bind(1, classOID)
        query.bind(2, oid >> 6)
        return try query.step() && query.uint64(0) & 1 << (oid & 63) != 0
    }

    static let notedInstanceQuery = "SELECT bits FROM instances WHERE class_oid = ? AND block = ?"

    /// Fills the index from every version there is (upgrading a store of format 3 or older).
    static func indexInstances(_ connection: Connection) throws {
        let scan = try connection.statement("SELECT oid, header FROM objects")
        var blocks = InstanceBlocks()
        while try scan.step() {
            let oid = scan.uint64(0)
            guard let (header, _) = RecordCoding.decodeHeader(oid: oid, scan.blob(1)) else {
                throw StoreError.corrupt(path: connection.path, detail: "the header of a version of object \(oid) cannot be decoded")
            }
            blocks.add(classOID: header.classOID, oid: oid)
        }
        scan.reset()
        try blocks.write(connection)
    }

    /// After vacuum: the index made again from the versions kept (noted while marking them), so that
    /// deleted objects and classes no kept version has any more leave it.
    static func rebuildInstances(_ blocks: InstanceBlocks, _ connection: Connection) throws {
        try connection.execute("DELETE FROM instances")
        try blocks.write(connection)
    }
}
