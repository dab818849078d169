// Committing the object space to a store: every object reachable from the VM's roots and class
// table is encoded again, and those whose record changed (or that are new) are written as one
// commit. An object keeps its OID for as long as it lives.

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

    /// Writes every object reachable from the VM's roots to `store` as one commit, with the methods
    /// compiled since the last one, and remembers the store: later commits reuse the OIDs. When
    /// nothing changed, nothing is committed and the session's base is answered. May run in the
    /// middle of an evaluation: the running processes' stacks are not saved.
    @discardableResult
    public func commitImage(to store: SQLiteStore, message: String) throws -> CommitID {
        try imageSession?.checkWritable(to: store.path)
        let specials: ImageSpecials
        do { specials = try vm.prepareImageSave() } catch let e as VMError { throw RuntimeError.image(e.description) }
        let session = try session(for: store)
        var graph = ReachableObjects(vm, roots: specials.roots + specials.classTable)
        // Changed objects that only ghosts may still refer to are written too (ImageLoader.swift).
        let hidden = session.changedUnreached(vm) { graph.reached.contains($0) }
        if !hidden.isEmpty { graph = ReachableObjects(vm, roots: specials.roots + specials.classTable + hidden) }
        let assigned = try assignOIDs(graph.objects, session)
        if session.headerCounters == nil {
            session.headerCounters = (Int(specials.hashState >> 4), Int(specials.cacheEpoch >> 26))
        }

        var writes: [StoredObject] = [], written: [(UInt64, Int)] = []
        func write(_ record: StoredObject) {
            let fingerprint = record.fingerprint
            guard session.fingerprints[record.oid] != fingerprint else { return }
            writes.append(record)
            written.append((record.oid, fingerprint))
        }
        for (o, contents) in zip(graph.objects, graph.contents) {
            write(session.record(of: o, oid: session.oids[o]!, contents: contents, vm: vm)!)
        }
        specialsRecords(specials, session).forEach(write)
        let changes = session.pendingMethodVersions.map(\.change)
        // Nothing changed: no commit (history records only changes).
        if writes.isEmpty && changes.isEmpty && !assigned.specials { return session.base }
        do {
            session.base = try store.commit(base: session.base, writes: writes,
                                            roots: assigned.specials ? [ImageSpecialsRecord.rootName: session.specialsOIDs[0]] : [:],
                                            methodVersions: changes, author: ImageSession.author, message: message)
        } catch {
            // The new objects are not in the store: they get OIDs again with the next commit.
            for o in assigned.fresh { session.forget(o) }
            if assigned.specials { session.specialsOIDs = [] }
            if let conflict = error as? CommitConflict { throw RuntimeError.commitConflict(describe(conflict, session)) }
            throw RuntimeError.image("cannot commit the image to \(store.path): \(error)")
        }
        for (oid, fingerprint) in written { session.fingerprints[oid] = fingerprint }
        session.pendingMethodVersions.removeFirst(changes.count)
        return session.base
    }

    private func session(for store: SQLiteStore) throws -> ImageSession {
        if let s = imageSession, s.store === store { return s }
        // Another store gets every object: those not loaded yet are read from this session's first.
        if let problem = imageSession?.loader?.loadAll() { throw RuntimeError.image(problem) }
        let base: CommitID
        do { base = try store.headCommit() } catch { throw RuntimeError.image("cannot read \(store.path): \(error)") }
        let s = ImageSession(store: store, base: base)
        s.pendingMethodVersions = imageSession?.pendingMethodVersions ?? []
        s.loader = ImageLoader(session: s, vm: vm)
        imageSession = s
        return s
    }

    /// Objects already in the table keep their OIDs; new ones get a fresh consecutive range, and so do
    /// the records of the VM state on the first commit to a store.
    private func assignOIDs(_ objects: [Oop], _ session: ImageSession) throws -> (fresh: [Oop], specials: Bool) {
        let fresh = objects.filter { session.oids[$0] == nil }
        let specialsNeeded = session.specialsOIDs.isEmpty ? ImageSpecialsRecord.recordCount : 0
        guard fresh.count + specialsNeeded > 0 else { return ([], false) }
        var next: UInt64
        do { next = try session.store.allocateOIDs(count: fresh.count + specialsNeeded).lowerBound } catch {
            throw RuntimeError.image("cannot allocate OIDs in \(session.store.path): \(error)")
        }
        for o in fresh { session.register(o, oid: next); next += 1 }
        if specialsNeeded > 0 { session.specialsOIDs = (0..<UInt64(specialsNeeded)).map { next + $0 } }
        return (fresh, specialsNeeded > 0)
    }

    private func specialsRecords(_ specials: ImageSpecials, _ session: ImageSession) -> [StoredObject] {
        let oids = session.specialsOIDs, arrayClass = session.oids[vm.root(.classArray)]!
        let counters = session.headerCounters!
        func value(_ v: Oop) -> UInt64 { isImmediate(v) ? v : StoredObject.reference(session.oids[v == 0 ? vm.nilObj : v]!) }
        let head: [UInt64] = [intOop(ImageSpecialsRecord.version), StoredObject.reference(oids[1]), StoredObject.reference(oids[2]),
                              intOop(counters.hashState), intOop(counters.cacheEpoch)]
        return [
            StoredObject(oid: oids[0], classOID: arrayClass, format: UInt8(Format.indexable), slots: head),
            StoredObject(oid: oids[1], classOID: arrayClass, format: UInt8(Format.indexable), slots: specials.roots.map(value)),
            StoredObject(oid: oids[2], classOID: arrayClass, format: UInt8(Format.indexable), slots: specials.classTable.map(value)),
        ]
    }

    /// Names the objects of a conflict this session knows: "an Association (#Counter), an Array (OID 812)".
    private func describe(_ conflict: CommitConflict, _ session: ImageSession) -> String {
        let byOID = Dictionary(session.oids.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        var names = conflict.oids.prefix(10).map { oid -> String in
            if session.specialsOIDs.contains(oid) { return "the class table or VM roots (OID \(oid))" }
            guard let o = byOID[oid] else { return "an object (OID \(oid))" }
            return describe(o) + " (OID \(oid))"
        }
        if conflict.oids.count > 10 { names.append("and \(conflict.oids.count - 10) more") }
        if !conflict.roots.isEmpty { names.append("the roots \(conflict.roots.joined(separator: ", "))") }
        return "\(session.store.path) was changed by another session since this one began: "
            + "it committed changes to \(names.joined(separator: ", ")); nothing was written (System abort, then try again)"
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

/// Every object reachable from some roots (through classes and pointer slots), breadth first, so that
/// the first roots (nil, true, false) come first; with the contents to save (inline caches left out,
/// so that what they cache is not reached through them). Ghosts are left out: they are unchanged.
struct ReachableObjects {
    private(set) var objects: [Oop] = []
    private(set) var contents: [ImageContents] = []
    /// Every object reached, ghosts included.
    private(set) var reached = Set<Oop>()

    init(_ vm: VM, roots: [Oop]) {
        var seen = Set<Oop>(), objects: [Oop] = [], contents: [ImageContents] = []
        var saved = SavedContents(vm)
        func visit(_ o: Oop) {
            if o != 0 && isPointer(o) && seen.insert(o).inserted && !vm.isGhost(o) { objects.append(o) }
        }
        for r in roots { visit(r) }
        var i = 0
        while i < objects.count {
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
        self.reached = seen
    }
}

extension Runtime {
    /// Commits the object space to the image at `path`, creating the file if it does not exist.
    @discardableResult
    public func commitImage(toPath path: String, message: String) throws -> CommitID {
        if let s = imageSession, s.store.path == path { return try commitImage(to: s.store, message: message) }
        let store: SQLiteStore
        do { store = try SQLiteStore.open(path: path, create: true) } catch {
            throw RuntimeError.image("cannot create image \(path): \(error)")
        }
        return try commitImage(to: store, message: message)
    }
}
