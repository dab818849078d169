// A session that began before a gc may hold objects the gc reclaimed (another session dropped them):
// before it commits, it checks that the objects its writes refer to still exist (Store/GCGeneration.swift).

import Store

/// Objects a commit refers to that a gc reclaimed since the session began, or classes (`layouts`)
/// whose version the commit writes instances of had their layout reclaimed.
struct ReclaimedObjects: Error {
    var oids: [UInt64] = []
    var layouts: [UInt64] = []
}

extension ImageSession {
    /// Runs `commit` with the gc generation to commit under: the store's, once every object the writes
    /// refer to (`referenced`, but for those written: `written`) is known to exist if a gc ran since
    /// this session began. A gc that runs meanwhile makes the store refuse the commit: the check is
    /// made again. Throws `ReclaimedObjects` naming those gone. After a gc, `afterGC` runs first too.
    func commitChecked(_ commit: (UInt32) throws -> CommitID, referringTo referenced: () -> [UInt64],
                       writing written: () -> [UInt64], afterGC: () throws -> Void) throws -> CommitID {
        var attempts = 1
        while true {
            let generation = try store.gcGeneration()
            if generation != gcGeneration {
                try afterGC()
                let writtenOIDs = Set(written())
                let missing = try store.missingObjects(among: referenced().lazy.filter { !writtenOIDs.contains($0) })
                guard missing.isEmpty else { throw ReclaimedObjects(oids: missing) }
            }
            do {
                return try commit(generation)
            } catch StoreError.collectedMeanwhile where attempts < Self.gcCheckAttempts {
                attempts += 1
            }
        }
    }

    /// After a gc, which deletes the shapes no kept record needs: the shapes the records to write name
    /// (and those of the classes among them) that the store no longer has are recorded again, from the
    /// classes in memory (this session may still hold a version of a class that the image left behind).
    func noteShapesAGCMayHaveDeleted(_ writes: [StoredObject]) throws {
        var used: [UInt64: Set<Int>] = [:]
        for w in writes {
            if w.slots != nil && w.shape != 0 { used[w.classOID, default: []].insert(Int(w.shape)) }
            if let cls = objects[w.oid], vm.isClass(cls) { used[w.oid, default: []].insert(Int(w.identityHash)) }
        }
        if used.isEmpty { return }
        var recorded: [UInt64: Set<Int>] = [:]
        for shape in try store.classShapes(of: Array(used.keys)) { recorded[shape.classOID, default: []].insert(Int(shape.classIndex)) }
        var unrecordable: [UInt64] = []
        for (classOID, indexes) in used {
            for index in indexes.subtracting(recorded[classOID] ?? []) {
                guard let cls = vm.registeredClass(at: index), oids[cls] == classOID else { continue }
                // Its instance variable names were not loaded, and the gc reclaimed them: the records
                // would name a shape nobody can read.
                guard let shape = shapes.memoryShape(of: cls, oid: classOID, loading: true) else {
                    unrecordable.append(classOID)
                    continue
                }
                shapes.noteAgain(shape)
            }
        }
        if !unrecordable.isEmpty { throw ReclaimedObjects(layouts: unrecordable.sorted()) }
    }

    /// How often a commit is checked again when gcs keep running meanwhile, before it fails.
    static let gcCheckAttempts = 5
}
