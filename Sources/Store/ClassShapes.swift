// Class shapes: which instance variable each slot of a stored object holds, for every version of a
// class that objects were written with. A record of a pointer object names its version by the class
// index its object had (`StoredObject.shape`); a class that changes shape gets a new class index, so
// a shape, once recorded, never changes. The image migrates an object whose record was written with
// an older version of its class when it loads it.

/// The instance variables of the instances of one version of a class: the class OID and the class
/// index that version had.
public struct ClassShape: Hashable, Sendable {
    public let classOID: UInt64
    public let classIndex: UInt32
    /// The instance format of the class (its `Behavior` format >> 16): 0–1 fixed, 2–3 indexable, 4
    /// weak, 5 ephemeron; 9 and more hold bits (and have no instance variables).
    public let format: UInt8
    /// The names of the named slots, in slot order (inherited ones first).
    public let names: [String]

    public init(classOID: UInt64, classIndex: UInt32, format: UInt8, names: [String]) {
        self.classOID = classOID
        self.classIndex = classIndex
        self.format = format
        self.names = names
    }
}

extension SQLiteStore {
    /// The shapes recorded for these classes, each class's in the order they were recorded.
    public func classShapes(of classOIDs: [UInt64]) throws -> [ClassShape] {
        if classOIDs.isEmpty { return [] }
        try drainLog()
        return try withReader { connection in
            let query = try connection.statement(
                "SELECT class_oid, class_index, format, names FROM shapes WHERE class_oid = ? ORDER BY id")
            var shapes: [ClassShape] = []
            for oid in Set(classOIDs).sorted() {
                query.reset()
                query.bind(1, oid)
                while try query.step() {
                    guard let names = ShapeNames.decode(query.blob(3)) else {
                        throw StoreError.corrupt(path: path, detail: "the shape of class \(oid) at index \(query.int64(1)) cannot be decoded")
                    }
                    shapes.append(ClassShape(classOID: query.uint64(0), classIndex: UInt32(truncatingIfNeeded: query.int64(1)),
                                             format: UInt8(truncatingIfNeeded: query.int64(2)), names: names))
                }
            }
            query.reset()
            return shapes
        }
    }

    /// The greatest class index a shape is recorded for (0 if none): a session gives new classes
    /// greater ones, so that an index never names two versions of one class.
    public func highestShapeIndex() throws -> Int {
        try drainLog()
        return try withReader { connection in
            let query = try connection.statement("""
                SELECT max(coalesce((SELECT max(class_index) FROM shapes), 0),
                           coalesce((SELECT value FROM meta WHERE key = '\(Self.highestShapeIndexKey)'), 0))
                """)
            defer { query.reset() }
            guard try query.step() else { return 0 }
            return Int(query.int64(0))
        }
    }

    /// The `meta` key under which gc keeps the greatest class index of the shapes it deleted.
    static let highestShapeIndexKey = "highest_shape_index"

    /// Records the shapes not recorded yet (inside a commit's transaction).
    static func insert(_ shapes: [ClassShape], commit: CommitID, _ connection: Connection) throws {
        if shapes.isEmpty { return }
        let insert = try connection.statement(
            "INSERT OR IGNORE INTO shapes (class_oid, class_index, format, names, commit_id) VALUES (?, ?, ?, ?, ?)")
        for shape in shapes {
            insert.reset()
            insert.bind(1, shape.classOID)
            insert.bind(2, Int64(shape.classIndex))
            insert.bind(3, Int64(shape.format))
            insert.bind(4, ShapeNames.encode(shape.names))
            insert.bind(5, commit.rawValue)
            try insert.run()
        }
        insert.reset()
    }
}

/// Instance variable names as a blob: each name's UTF-8 length as a varint, then its bytes.
enum ShapeNames {
    static func encode(_ names: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            Varint.append(UInt64(bytes.count), to: &out)
            out += bytes
        }
        return out
    }

    static func decode(_ blob: UnsafeRawBufferPointer) -> [String]? {
        var reader = Varint.Reader(blob)
        var names: [String] = []
        while !reader.atEnd {
            guard let count = reader.varint(), count <= UInt64(reader.remaining) else { return nil }
            names.append(String(decoding: reader.bytes(Int(count)), as: UTF8.self))
        }
        return names
    }
}
