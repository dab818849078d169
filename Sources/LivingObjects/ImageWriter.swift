// Committing the object space to a store: every object reachable from the VM's roots and class
// table is encoded again, and those whose record changed (or that are new) are written as one
// commit. OIDs stay the same between commits while no full collection moves objects.

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

    /// Writes every object reachable from the VM's roots to `store` as one commit, and remembers the
    /// store: later commits reuse the OIDs. Not while an evaluation is running.
    @discardableResult
    public func commitImage(to store: SQLiteStore, message: String) throws -> CommitID {
        try imageSession?.checkWritable(to: store.path)
        let specials: ImageSpecials
        do { specials = try vm.prepareImageSave() } catch let e as VMError { throw RuntimeError.image(e.description) }
        let session = try session(for: store)
        if vm.fullCollections != session.collectionsAtTable {
            session.oids = [:]
            session.fingerprints = [:]
            session.collectionsAtTable = vm.fullCollections
        }
        let graph = ReachableObjects(vm, roots: specials.roots + specials.classTable)
        try assignOIDs(graph.objects, session)

        let oids = session.oids, nilRef = StoredObject.reference(oids[vm.nilObj]!)
        @inline(__always) func value(_ v: Oop) -> UInt64 {
            isImmediate(v) ? v : v == 0 ? nilRef : StoredObject.reference(oids[v]!)
        }
        var writes: [StoredObject] = [], written: [(UInt64, Int)] = []
        for (o, contents) in zip(graph.objects, graph.contents) {
            let header = vm.imageHeader(of: o)
            let classOID = oids[vm.classAt(header.classIndex)]!
            let stored: StoredObject.Contents
            switch contents {
            case .slots(let slots): stored = .slots(slots.map(value))
            case .bytes(let bytes): stored = .bytes(bytes)
            }
            let record = StoredObject(oid: oids[o]!, classOID: classOID, format: UInt8(header.format),
                                      identityHash: UInt32(header.hash), contents: stored)
            let fingerprint = record.fingerprint
            if session.fingerprints[record.oid] != fingerprint {
                writes.append(record)
                written.append((record.oid, fingerprint))
            }
        }
        writes += specialsRecords(specials, session.specialsOIDs, arrayClass: oids[vm.root(.classArray)]!, value: value)
        do {
            session.base = try store.commit(base: session.base, writes: writes,
                                            roots: [ImageSpecialsRecord.rootName: session.specialsOIDs[0]],
                                            author: Runtime.commitAuthor, message: message)
        } catch let conflict as CommitConflict {
            throw RuntimeError.image("\(store.path) was changed by another session since this one read it (\(conflict)); nothing was written")
        } catch {
            throw RuntimeError.image("cannot commit the image to \(store.path): \(error)")
        }
        for (oid, fingerprint) in written { session.fingerprints[oid] = fingerprint }
        return session.base
    }

    private func session(for store: SQLiteStore) throws -> ImageSession {
        if let s = imageSession, s.store === store { return s }
        let base: CommitID
        do { base = try store.headCommit() } catch { throw RuntimeError.image("cannot read \(store.path): \(error)") }
        let s = ImageSession(store: store, base: base, collections: vm.fullCollections)
        imageSession = s
        return s
    }

    /// Objects already in the table keep their OIDs; new ones get a fresh consecutive range.
    private func assignOIDs(_ objects: [Oop], _ session: ImageSession) throws {
        let fresh = objects.filter { session.oids[$0] == nil }
        let specialsNeeded = session.specialsOIDs.isEmpty ? ImageSpecialsRecord.recordCount : 0
        guard fresh.count + specialsNeeded > 0 else { return }
        var next: UInt64
        do { next = try session.store.allocateOIDs(count: fresh.count + specialsNeeded).lowerBound } catch {
            throw RuntimeError.image("cannot allocate OIDs in \(session.store.path): \(error)")
        }
        for o in fresh { session.oids[o] = next; next += 1 }
        if specialsNeeded > 0 { session.specialsOIDs = (0..<UInt64(specialsNeeded)).map { next + $0 } }
    }

    private func specialsRecords(_ specials: ImageSpecials, _ oids: [UInt64], arrayClass: UInt64,
                                 value: (Oop) -> UInt64) -> [StoredObject] {
        let head: [UInt64] = [intOop(ImageSpecialsRecord.version), StoredObject.reference(oids[1]), StoredObject.reference(oids[2]),
                              intOop(Int(specials.hashState >> 4)), intOop(Int(specials.cacheEpoch >> 26))]
        return [
            StoredObject(oid: oids[0], classOID: arrayClass, format: UInt8(Format.indexable), slots: head),
            StoredObject(oid: oids[1], classOID: arrayClass, format: UInt8(Format.indexable), slots: specials.roots.map(value)),
            StoredObject(oid: oids[2], classOID: arrayClass, format: UInt8(Format.indexable), slots: specials.classTable.map(value)),
        ]
    }
}

/// Every object reachable from some roots (through classes and pointer slots), breadth first, so that
/// the first roots (nil, true, false) come first; with the contents to save.
struct ReachableObjects {
    private(set) var objects: [Oop] = []
    private(set) var contents: [ImageContents] = []

    init(_ vm: VM, roots: [Oop]) {
        var seen = Set<Oop>(), objects: [Oop] = [], contents: [ImageContents] = []
        func visit(_ o: Oop) {
            if o != 0 && isPointer(o) && seen.insert(o).inserted { objects.append(o) }
        }
        for r in roots { visit(r) }
        var i = 0
        while i < objects.count {
            let o = objects[i]
            visit(vm.classAt(vm.imageHeader(of: o).classIndex))
            let c = vm.imageContents(of: o)
            if case .slots(let slots) = c { for s in slots { visit(s) } }
            contents.append(c)
            i += 1
        }
        self.objects = objects
        self.contents = contents
    }
}

extension Runtime {
    /// The author recorded with commits: the user's login name.
    static var commitAuthor: String { ProcessInfo.processInfo.environment["USER"] ?? "lo" }

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
