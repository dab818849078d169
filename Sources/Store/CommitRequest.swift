// A commit checked and encoded by the caller's thread, before it queues for the writer.

struct CommitRequest: Sendable {
    struct Write: Sendable {
        let oid: UInt64
        /// Where the encoded record (header, then contents) is in `records`: empty for bytes to store
        /// out of line in the commit itself (`outOfLine`).
        let record: Range<Int>
        let headerLength: Int
        let outOfLine: StoredObject?
    }

    /// A posted commit, decoded from its payload, is given the base its poster made it on
    /// (CommitPosts.swift).
    var base: CommitID
    /// Sorted by OID.
    let writes: [Write]
    /// The encoded records of the writes, one after another.
    let records: [UInt8]
    /// The written OIDs as the commit's changed-object list (`OIDList`).
    let changed: [UInt8]
    let roots: [(name: String, oid: UInt64?)]
    let methods: [MethodChange]
    /// Class shapes to record (kept if already recorded).
    let shapes: [ClassShape]
    let author: String
    let message: String
    /// Staged large bytes the writes refer to; each must exist, complete, when the commit is written.
    let largeBytes: [LargeBytes]
    /// The gc generation under which the committer found every object its writes refer to
    /// (GCGeneration.swift): the commit is refused under another. Nil: not checked.
    let gcGeneration: UInt32?

    /// Where the write of `oid` is in `writes`, if the request writes it.
    func writeIndex(of oid: UInt64) -> Int? {
        var low = 0, high = writes.count
        while low < high {
            let middle = (low + high) / 2
            if writes[middle].oid < oid { low = middle + 1 } else { high = middle }
        }
        return low < writes.count && writes[low].oid == oid ? low : nil
    }

    init(base: CommitID, writes objects: [StoredObject], roots: [String: UInt64], removingRoots: [String],
         methods: [MethodChange], shapes: [ClassShape] = [], author: String, message: String,
         gcGeneration: UInt32? = nil) throws {
        let sorted = zip(objects, objects.dropFirst()).allSatisfy({ $0.oid < $1.oid }) ? objects : objects.sorted { $0.oid < $1.oid }
        var writes: [Write] = [], records: [UInt8] = []
        writes.reserveCapacity(sorted.count)
        records.reserveCapacity(24 * sorted.count)
        func encoded(_ object: StoredObject) -> Write {
            let start = records.count
            let headerLength = RecordCoding.append(object, to: &records)
            return Write(oid: object.oid, record: start..<records.count, headerLength: headerLength, outOfLine: nil)
        }
        var largeBytes: [LargeBytes] = []
        var previous: UInt64 = 0
        for object in sorted {
            guard object.oid != 0, object.oid <= StoredObject.maximumOID else {
                throw StoreError.invalidRequest("OID \(object.oid) is out of range")
            }
            guard object.oid != previous else { throw StoreError.invalidRequest("object \(object.oid) written twice") }
            guard object.format < 32 else { throw StoreError.invalidRequest("format \(object.format) of object \(object.oid)") }
            guard object.shape == 0 || object.slots != nil else {
                throw StoreError.invalidRequest("object \(object.oid) has bytes and a shape")
            }
            previous = object.oid
            switch object.contents {
            case let .bytes(bytes) where bytes.count > SQLiteStore.largeBytesThreshold:
                writes.append(Write(oid: object.oid, record: records.count..<records.count, headerLength: 0, outOfLine: object))
            case let .largeBytes(large):
                largeBytes.append(large)
                writes.append(encoded(object))
            default:
                writes.append(encoded(object))
            }
        }
        self.base = base
        self.writes = writes
        self.records = records
        changed = OIDList.encode(sorted: writes.lazy.map(\.oid))
        if removingRoots.isEmpty {
            self.roots = roots.isEmpty ? [] : roots.map { ($0.key, Optional($0.value)) }
        } else {
            let removed = Set(removingRoots)
            guard removed.isDisjoint(with: roots.keys) else { throw StoreError.invalidRequest("a root both set and removed") }
            self.roots = roots.map { ($0.key, Optional($0.value)) } + removed.map { ($0, nil) }
        }
        self.methods = methods
        self.shapes = shapes
        self.author = author
        self.message = message
        self.largeBytes = largeBytes
        self.gcGeneration = gcGeneration
    }
}

/// A record encoded for the `objects` table: header and contents in one buffer.
struct EncodedRecord: Sendable {
    let bytes: [UInt8]
    let headerLength: Int

    init(_ object: StoredObject) {
        var bytes: [UInt8] = []
        headerLength = RecordCoding.encode(object, into: &bytes)
        self.bytes = bytes
    }
}
