// Committing the object space to a store: the persistent objects the VM noted as changed, and the
// new objects reachable from them or from the VM's roots and class table, are written as one commit.
// An object keeps its OID for as long as it lives.

import Foundation
import Store
import VMCore

extension Runtime {
    /// The store this runtime was opened from or last committed to.
    public var imageStore: SQLiteStore? { imageSession?.store }

    /// Commits the object space to the store it was opened from (or last committed to).
    @discardableResult
    public func commitImage(message: String) throws -> CommitID {
        guard let store = imageSession?.store else { throw RuntimeError.image("this object space has no image to commit to") }
        return try commitImage(to: store, message: message)
    }

    /// Writes the objects changed since the last commit and the new objects they (or the VM's roots
    /// and class table) reach to `store` as one commit, with the methods compiled since the last one,
    /// and remembers the store: later commits reuse the OIDs. The first commit to a store writes
    /// every object reachable from the roots. When nothing changed, nothing is committed and the
    /// session's base is answered. May run in the middle of an evaluation: the running processes'
    /// stacks are not saved.
    @discardableResult
    public func commitImage(to store: SQLiteStore, message: String) throws -> CommitID {
        try imageSession?.checkWritable(to: store.path)
        imageSession?.lookUpBlobClass()
        let session = try session(for: store)
        // Only old objects get OIDs: when the changes reach young ones, every object is made old
        // (they move) and the changes are collected again. Otherwise nothing need move. The first
        // commit to a store writes every object: they are made old first.
        if session.specialsOIDs.isEmpty { vm.scavenge(tenureAll: true) }
        var (changes, specials) = collectChanges(session)
        if changes.reachesYoung {
            vm.scavenge(tenureAll: true)
            (changes, specials) = collectChanges(session)
        }
        let assigned = try assignOIDs(changes.new, session)
        if session.headerCounters == nil {
            let state = specials?.saved ?? vm.imageSpecials()
            session.headerCounters = (Int(state.hashState >> 4), Int(state.cacheEpoch >> 26))
        }

        // A new object's OID is the next of the range assigned, and it has no fingerprint yet.
        var writes: [StoredObject] = [], written: [(oid: UInt64, fingerprint: UInt64, isNew: Bool)] = []
        writes.reserveCapacity(changes.objects.count + ImageSpecialsRecord.recordCount)
        written.reserveCapacity(writes.capacity)
        func write(_ record: StoredObject, isNew: Bool) {
            let fingerprint = record.fingerprint
            guard isNew || session.fingerprints[record.oid] != fingerprint else { return }
            writes.append(record)
            written.append((record.oid, fingerprint, isNew))
        }
        var classes: [Oop] = []
        for (i, (o, contents)) in zip(changes.objects, changes.contents).enumerated() {
            let isNew = i >= changes.changedCount
            let oid = isNew ? assigned.firstOID + UInt64(i - changes.changedCount) : session.oids[o]!
            guard let record = session.record(of: o, oid: oid, contents: contents, vm: vm) else {
                for o in assigned.fresh { session.forget(o) }
                if session.isBlob(o) {
                    throw RuntimeError.image("cannot commit: a Blob has no bytes in the store (a Blob is made by Blob fromFile: or Blob fromBytes:)")
                }
                throw RuntimeError.image("cannot commit: \(describe(o)) refers to an object that is neither saved nor new")
            }
            write(record, isNew: isNew)
            if vm.isClass(o) { classes.append(o) }
        }
        if let specials { for record in specialsRecords(specials.saved, session) { write(record, isNew: false) } }
        let methodChanges = session.pendingMethodVersions.map(\.change)
        // Nothing changed: no commit (history records only changes).
        if writes.isEmpty && methodChanges.isEmpty && !assigned.specials {
            vm.clearChangedObjects()
            if let specials { session.savedSpecials = (specials.words, specials.oidChanges) }
            return session.base
        }
        let previousBase = session.base
        // The shape of each class written, so that its instances can be migrated once it changes.
        for cls in classes {
            let oid = session.oids[cls]!, index = vm.imageHeader(of: cls).hash
            if !session.shapes.isKnown(oid, index: index), let shape = session.shapes.memoryShape(of: cls, oid: oid, loading: true) {
                session.shapes.note(shape)
            }
        }
        let roots = assigned.specials ? [ImageSpecialsRecord.rootName: session.specialsOIDs[0]] : [:]
        var shapesRecorded = 0
        do {
            try checkUnseenWrites(writes, roots: roots.keys, session)
            session.base = try session.commitChecked { gcGeneration in
                let shapes = session.shapes.pending
                shapesRecorded = shapes.count
                return try store.commit(base: session.base, writes: writes, roots: roots, methodVersions: methodChanges, shapes: shapes,
                                        author: ImageSession.author, message: message, gcGeneration: gcGeneration)
            } referringTo: { writes.lazy.flatMap(\.referencedOIDs) + roots.values } writing: { writes.map(\.oid) }
              afterGC: { try session.noteShapesAGCMayHaveDeleted(writes) }
        } catch {
            // The new objects are not in the store: they get OIDs again with the next commit, and
            // the changed objects stay changed.
            for o in assigned.fresh { session.forget(o) }
            if assigned.specials { session.specialsOIDs = [] }
            if let conflict = error as? CommitConflict { throw RuntimeError.commitConflict(describe(conflict, session)) }
            if let reclaimed = error as? ReclaimedObjects { throw RuntimeError.commitConflict(describe(reclaimed, session)) }
            if let error = error as? RuntimeError { throw error }
            throw RuntimeError.image("cannot commit the image to \(store.path): \(error)")
        }
        session.fingerprints.reserveCapacity(session.fingerprints.count + written.count)
        for w in written { session.fingerprints[w.oid] = w.fingerprint }
        // Unless this commit follows the snapshot directly (then they are all of the new snapshot): the
        // objects of the snapshot since committed (not the VM-state records, which are not objects).
        if !session.advanceSnapshot(after: previousBase, to: session.base) {
            // What other sessions' commits between the base and this one wrote (nil if unreadable).
            let others = try? store.writes(after: previousBase, before: session.base)
            // Moving the snapshot may read the store: only once enough would stay loaded otherwise.
            let pinned = session.committedSinceSnapshot.count + session.madeSinceSnapshot.count + written.count
            if pinned < ImageSession.snapshotMoveThreshold || others.map({ !session.moveSnapshot(to: session.base, pastOthers: $0) }) ?? true {
                for w in written {
                    if w.isNew { session.madeSinceSnapshot.insert(w.oid) }
                    else if session.objects[w.oid] != nil { session.committedSinceSnapshot.insert(w.oid) }
                }
                noteUnseenWrites(others, session)
            }
        }
        vm.clearChangedObjects()
        if let specials { session.savedSpecials = (specials.words, specials.oidChanges) }
        session.pendingMethodVersions.removeFirst(methodChanges.count)
        session.shapes.recorded(first: shapesRecorded)
        return session.base
    }

    /// Other sessions' commits came between this session's base and its new commit: what they wrote is
    /// not what memory holds (the snapshot stays), so from now on writing it conflicts. Past
    /// `ImageSession.unseenWritesLimit` of them (a session left open while others commit a lot), or if
    /// they cannot be read, every commit conflicts until an abort.
    private func noteUnseenWrites(_ others: (oids: Set<UInt64>, roots: Set<String>)?, _ session: ImageSession) {
        guard session.unseenWrites != nil else { return }
        guard let others else { session.unseenWrites = nil; return }
        session.unseenWrites!.oids.formUnion(others.oids)
        session.unseenWrites!.roots.formUnion(others.roots)
        if session.unseenWrites!.oids.count > ImageSession.unseenWritesLimit { session.unseenWrites = nil }
    }

    /// Throws `CommitConflict` when the commit writes what another session committed after this
    /// session's snapshot and before its base (the store checks what came after the base).
    private func checkUnseenWrites(_ writes: [StoredObject], roots: some Collection<String>, _ session: ImageSession) throws {
        guard let unseen = session.unseenWrites else {
            throw RuntimeError.commitConflict("this session cannot tell what other sessions committed since its snapshot "
                + "(too much, or it could not be read); nothing was written (System abort, then try again)")
        }
        if unseen.oids.isEmpty && unseen.roots.isEmpty { return }
        let oids = writes.map(\.oid).filter(unseen.oids.contains)
        let names = roots.filter(unseen.roots.contains).sorted()
        if !oids.isEmpty || !names.isEmpty { throw CommitConflict(oids: oids, roots: names) }
    }

    /// What a commit writes: the changed objects and the new objects they reach, and the roots and
    /// class table (with the words they were read from, `VM.imageSpecialsWords`) unless they are
    /// saved as they are (`ImageSession.specialsAreSaved`). Unchanged roots and class-table entries
    /// all have OIDs: no new object is reached through them.
    private func collectChanges(_ session: ImageSession) -> (CommitSet, (saved: ImageSpecials, words: [Oop], oidChanges: Int)?) {
        var specials: (saved: ImageSpecials, words: [Oop], oidChanges: Int)?
        if !session.specialsAreSaved() {
            var saved = vm.imageSpecials()
            // Loading every object for another store made forwarders of small ghosts among them.
            saved.roots = saved.roots.map(vm.followed)
            saved.classTable = saved.classTable.map(vm.followed)
            specials = (saved, vm.imageSpecialsWords(), session.oidChanges)
        }
        // Ghosts are never written: they are unchanged (ImageLoader.swift).
        let changes = CommitSet(vm, changed: vm.changedObjects.filter { !vm.isGhost($0) },
                                roots: specials.map { $0.saved.roots + $0.saved.classTable } ?? [])
        return (changes, specials)
    }

    /// The session of `store`; committing to another store than the session's starts a new session,
    /// in which no object has an OID yet.
    private func session(for store: SQLiteStore) throws -> ImageSession {
        if let s = imageSession, s.store === store { return s }
        // Another store gets every object: those not loaded yet are read from this session's first.
        if let problem = imageSession?.loader?.loadAll() { throw RuntimeError.image(problem) }
        let base: CommitID, gcGeneration: UInt32
        do {
            gcGeneration = try store.gcGeneration()
            base = try store.headCommit()
        } catch {
            throw RuntimeError.image("cannot read \(store.path): \(error)")
        }
        if let source = imageSession?.store { try copyBlobs(from: source, to: store) }
        imageSession?.forgetAll()
        let s = ImageSession(store: store, base: base, gcGeneration: gcGeneration, vm: vm)
        s.blobClassIndex = imageSession?.blobClassIndex
        s.pendingMethodVersions = imageSession?.pendingMethodVersions ?? []
        s.loader = ImageLoader(session: s, vm: vm)
        imageSession = s
        return s
    }

    /// New objects get a fresh consecutive range of OIDs (and become persistent), and so do the
    /// records of the VM state on the first commit to a store.
    private func assignOIDs(_ fresh: [Oop], _ session: ImageSession) throws -> (fresh: [Oop], firstOID: UInt64, specials: Bool) {
        let specialsNeeded = session.specialsOIDs.isEmpty ? ImageSpecialsRecord.recordCount : 0
        guard fresh.count + specialsNeeded > 0 else { return ([], 0, false) }
        var next: UInt64
        do { next = try session.takeOIDs(fresh.count + specialsNeeded) } catch {
            throw RuntimeError.image("cannot allocate OIDs in \(session.store.path): \(error)")
        }
        let first = next
        session.reserveCapacity(session.oids.count + fresh.count)
        for o in fresh { session.adopt(o, oid: next); next += 1 }
        if specialsNeeded > 0 { session.specialsOIDs = (0..<UInt64(specialsNeeded)).map { next + $0 } }
        return (fresh, first, specialsNeeded > 0)
    }

    private func specialsRecords(_ specials: ImageSpecials, _ session: ImageSession) -> [StoredObject] {
        let oids = session.specialsOIDs, arrayClass = session.oids[vm.root(.classArray)]!
        let counters = session.headerCounters!, shape = UInt32(vm.imageHeader(of: vm.root(.classArray)).hash)
        func value(_ v: Oop) -> UInt64 { isImmediate(v) ? v : StoredObject.reference(session.oids[v == 0 ? vm.nilObj : v]!) }
        let head: [UInt64] = [intOop(ImageSpecialsRecord.version), StoredObject.reference(oids[1]), StoredObject.reference(oids[2]),
                              intOop(counters.hashState), intOop(counters.cacheEpoch)]
        return [
            StoredObject(oid: oids[0], classOID: arrayClass, format: UInt8(Format.indexable), shape: shape, slots: head),
            StoredObject(oid: oids[1], classOID: arrayClass, format: UInt8(Format.indexable), shape: shape, slots: specials.roots.map(value)),
            StoredObject(oid: oids[2], classOID: arrayClass, format: UInt8(Format.indexable), shape: shape,
                         slots: specials.classTable.map(value)),
        ]
    }

    /// Names the objects of a conflict this session knows: "an Association (#Counter), an Array (OID 812)".
    private func describe(_ conflict: CommitConflict, _ session: ImageSession) -> String {
        if let rollback = conflict.rollback {
            return "\(session.store.path) was rolled back (commit \(rollback.rawValue)) since this session began; "
                + "nothing was written (System abort, then try again)"
        }
        var names = describe(oids: conflict.oids, session)
        if !conflict.roots.isEmpty { names.append("the roots \(conflict.roots.joined(separator: ", "))") }
        return "\(session.store.path) was changed by another session since this one began: "
            + "it committed changes to \(names.joined(separator: ", ")); nothing was written (System abort, then try again)"
    }

    private func describe(_ reclaimed: ReclaimedObjects, _ session: ImageSession) -> String {
        let what = reclaimed.oids.isEmpty
            ? "the changes hold instances of a version of \(describe(oids: reclaimed.layouts, session).joined(separator: ", ")) "
                + "whose layout it reclaimed, another session having redefined the class"
            : "the changes refer to objects it reclaimed, which another session had dropped: "
                + describe(oids: reclaimed.oids, session).joined(separator: ", ")
        // Those objects are gone for good: an abort drops the references the changes made to them,
        // but one this session still holds (in a variable) and stores again fails the same way.
        let advice = reclaimed.oids.isEmpty ? "System abort, then try again"
            : "they are gone from the image, so no commit can refer to them: System abort, then try again "
                + "without them (an object kept in a variable across the abort is one of them still)"
        return "\(session.store.path) was collected (lo gc) since this session began, and \(what); "
            + "nothing was written (\(advice))"
    }

    private func describe(oids: [UInt64], _ session: ImageSession) -> [String] {
        var names = oids.prefix(10).map { oid -> String in
            if session.specialsOIDs.contains(oid) { return "the class table or VM roots (OID \(oid))" }
            guard let o = session.objects[oid] else { return "an object (OID \(oid))" }
            return describe(o) + " (OID \(oid))"
        }
        if oids.count > 10 { names.append("and \(oids.count - 10) more") }
        return names
    }

    /// "an Association (#Counter)", "the class Point", "a Dictionary".
    private func describe(_ o: Oop) -> String {
        let cls = vm.classOf(o), name = vm.className(cls)
        if vm.classOf(cls) == vm.root(.classMetaclass) { return "the class \(vm.className(o))" }
        let article = "AEIOU".contains(name.first ?? "x") ? "an" : "a"
        if cls == vm.root(.classAssociation), let key = vm.stringValue(vm.fetchSlot(o, AssocLayout.key)) {
            return "\(article) \(name) (#\(key))"
        }
        return "\(article) \(name)"
    }
}

/// What a commit writes: the persistent objects changed since the last commit, then every object
/// without an OID that they or some roots reach (through classes and pointer slots), breadth first, so
/// that on the first commit to a store, when no object has an OID, the first roots (nil, true, false)
/// come first. With the contents to save (inline caches left out, so that what they cache is not
/// reached through them). Ghosts have an OID: they are neither written nor traversed. A young object
/// reached stops the traversal (`reachesYoung`): it must be made old before it gets an OID.
struct CommitSet {
    private(set) var objects: [Oop] = []
    private(set) var contents: [ImageContents] = []
    /// The objects that have no OID yet (the tail of `objects`, from `changedCount` on).
    var new: [Oop] { Array(objects[changedCount...]) }
    let changedCount: Int
    /// A young object is reached: the set is incomplete and cannot be written.
    private(set) var reachesYoung = false

    init(_ vm: VM, changed: [Oop], roots: [Oop]) {
        let seen = WordMap()
        var objects = changed, contents: [ImageContents] = []
        var saved = SavedContents(vm)
        var young = false
        for o in changed { saved.noteLiterals(of: o) }      // changed code: its literal frame may be changed too
        func visit(_ o: Oop) {
            if o != 0 && isPointer(o) && !vm.isPersistent(o) && seen.insert(o, 1) {
                objects.append(o)
                if vm.isYoungObject(o) { young = true }
            }
        }
        for r in roots { visit(r) }
        var i = 0
        while i < objects.count && !young {
            let o = objects[i]
            visit(vm.classAt(vm.imageHeader(of: o).classIndex))
            saved.noteLiterals(of: o)          // a method comes before its literal frame
            let c = saved.of(o)
            if case .slots(let slots) = c { for s in slots { visit(s) } }
            contents.append(c)
            i += 1
        }
        self.objects = objects
        self.contents = contents
        changedCount = changed.count
        reachesYoung = young
    }
}

extension Runtime {
    /// Commits the object space to the image at `path`, creating the file if it does not exist.
    @discardableResult
    public func commitImage(toPath path: String, message: String) throws -> CommitID {
        if let s = imageSession, s.store.path == path { return try commitImage(to: s.store, message: message) }
        let store: SQLiteStore
        do { store = try SQLiteStore.openShared(path: path, create: true) } catch {
            throw RuntimeError.image("cannot create image \(path): \(error)")
        }
        return try commitImage(to: store, message: message)
    }
}
