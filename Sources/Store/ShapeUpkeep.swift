// Class shapes in check() and vacuum: every record that names a shape must find it, with a slot count
// that fits it; vacuum deletes the shapes no kept record needs.

/// The shapes kept versions need, gathered while vacuum marks them.
struct ShapeUse {
    private struct Key: Hashable {
        let classOID: UInt64, index: UInt32
    }
    /// The classes that have shapes (read before marking).
    let shapedClasses: Set<UInt64>
    private var named = Set<Key>()
    /// Classes with a pointer record without a shape (store format 2): it follows the first shape.
    private var shapeless = Set<UInt64>()

    init(_ connection: Connection) throws {
        let query = try connection.statement("SELECT DISTINCT class_oid FROM shapes")
        var classes = Set<UInt64>()
        while try query.step() { classes.insert(query.uint64(0)) }
        query.reset()
        shapedClasses = classes
    }

    /// Notes what a kept version needs: the shape it names, or (none) its class's first; and, for a
    /// class, the shape of its own class index (its instances are written with it: a session that
    /// knows it recorded does not record it again).
    mutating func note(_ object: StoredObject) {
        if object.slots != nil && shapedClasses.contains(object.classOID) {
            if object.shape != 0 { named.insert(Key(classOID: object.classOID, index: object.shape)) } else { shapeless.insert(object.classOID) }
        }
        if shapedClasses.contains(object.oid) { named.insert(Key(classOID: object.oid, index: object.identityHash)) }
    }

    /// Deletes the shapes not needed; answers how many. The greatest class index among them is kept
    /// in `meta` first: sessions never give a new class an index a shape had (`highestShapeIndex`).
    func dropUnused(_ connection: Connection) throws -> Int {
        try connection.execute("""
            INSERT INTO meta (key, value) SELECT '\(SQLiteStore.highestShapeIndexKey)', coalesce(max(class_index), 0) FROM shapes WHERE true
            ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)
            """)
        let scan = try connection.statement("SELECT id, class_oid, class_index FROM shapes ORDER BY id")
        var unused: [Int64] = []
        var firstSeen = Set<UInt64>()
        while try scan.step() {
            let classOID = scan.uint64(1)
            let isFirst = firstSeen.insert(classOID).inserted
            let key = Key(classOID: classOID, index: UInt32(truncatingIfNeeded: scan.int64(2)))
            if !named.contains(key) && !(isFirst && shapeless.contains(classOID)) { unused.append(scan.int64(0)) }
        }
        scan.reset()
        let delete = try connection.statement("DELETE FROM shapes WHERE id = ?")
        for id in unused {
            delete.reset()
            delete.bind(1, id)
            try delete.run()
        }
        return unused.count
    }
}

/// The recorded shapes, for check(): each record with a shape must find its own, and fit it.
struct ShapeTable {
    private struct Key: Hashable {
        let classOID: UInt64, index: UInt32
    }
    private var names: [Key: Int] = [:]

    init(_ connection: Connection, _ findings: inout Findings) throws {
        let query = try connection.statement("SELECT class_oid, class_index, names FROM shapes")
        while try query.step() {
            let key = Key(classOID: query.uint64(0), index: UInt32(truncatingIfNeeded: query.int64(1)))
            guard let decoded = ShapeNames.decode(query.blob(2)) else {
                findings.add(.shapeMismatch, "the shape of class \(key.classOID) at index \(key.index) cannot be decoded")
                continue
            }
            names[key] = decoded.count
        }
        query.reset()
    }

    /// A record naming a shape has a shapes row for it, and as many slots as it has named slots (more
    /// for an indexable or weak object: formats 2–4).
    func check(_ object: StoredObject, commit: Int64, _ findings: inout Findings) {
        guard object.shape != 0, let slots = object.slots else { return }
        guard let named = names[Key(classOID: object.classOID, index: object.shape)] else {
            findings.add(.shapeMismatch, "object \(object.oid) at commit \(commit) was written with class index \(object.shape) of class \(object.classOID), whose shape is not recorded")
            return
        }
        let indexable = (2...4).contains(object.format)
        if indexable ? slots.count < named : slots.count != named {
            findings.add(.shapeMismatch, "object \(object.oid) at commit \(commit) has \(slots.count) slots, but the shape it was written with (class \(object.classOID), index \(object.shape)) names \(named)")
        }
    }
}
