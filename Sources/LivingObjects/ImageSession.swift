// What a runtime remembers about the image it was opened from or committed to.

import Foundation
import Store
import VMCore

/// The link between an object space and its store: which snapshot it is based on and which OID each
/// object has. Oops are addresses: objects are made old before they get an OID, and when a full
/// collection moves old objects the VM reports the moves (`objectsMoved`), so an object keeps its OID
/// for as long as it lives. Every object with an OID is persistent (header bit), so the VM notes each
/// change to it (`VM.changedObjects`): a commit starts from those, an abort puts back only those.
///
/// Each record's fingerprint (a 64-bit hash of class, format, identity hash and contents) is kept per
/// OID: a changed object whose record is the same as the store's (an inline cache filled, a value
/// stored back) is not written again.
final class ImageSession {
    let store: SQLiteStore
    let vm: VM
    var base: CommitID
    /// The OID of each persistent object, ghosts included (ImageLoader.swift), and the object of each
    /// OID (`adopt`, `forget`).
    let oids = WordMap()
    let objects = WordMap()
    /// The snapshot objects are loaded as of: the commit opened (or the head at the last abort). Commits
    /// move `base`, not this: ghosts are loaded as they were when the objects referring to them were.
    var snapshot: CommitID
    /// Loads ghosts; set by whoever makes the session (opening an image, a first commit to a store).
    var loader: ImageLoader?
    /// The OIDs of objects of the snapshot that this session committed since (`changedUnreached`), and
    /// of objects it committed first since: their records as of the snapshot are not what memory holds,
    /// so they are never evicted (`reloadableOID`). A commit that follows the snapshot directly moves it
    /// (`advanceSnapshot`), and an abort does too, which empties both.
    var committedSinceSnapshot = Set<UInt64>()
    var madeSinceSnapshot = Set<UInt64>()
    /// What other sessions committed after the snapshot and before this session's base: memory holds
    /// those objects as of the snapshot, so writing one would undo their commit (a lost update). A
    /// commit checks its writes against the base, and these besides (`ImageWriter`); nil when they
    /// could not be read or grew past `unseenWritesLimit` (then every commit conflicts until an
    /// abort). An abort empties them.
    var unseenWrites: (oids: Set<UInt64>, roots: Set<String>)? = ([], [])
    nonisolated(unsafe) static var unseenWritesLimit = 1_000_000
    /// The OIDs of the records describing the VM state (`ImageSpecialsRecord`).
    var specialsOIDs: [UInt64] = []
    /// The identity-hash state and cache epoch the image header was written with: kept as they were,
    /// so that the header does not change (and conflict) with every commit.
    var headerCounters: (hashState: Int, cacheEpoch: Int)?
    /// OID → fingerprint of the record the store holds at `base`.
    let fingerprints = WordMap()
    /// The VM-state words (`VM.imageSpecialsWords`) whose records the store holds at `base`, and the
    /// `oidChanges` then: while both are the same, the roots and class table are saved as they are
    /// and need not be encoded again (a commit sets this, an abort clears it).
    var savedSpecials: (words: [Oop], oidChanges: Int)?
    /// How often an object's OID was taken away or moved to another object (`forget`, `objectsMoved`):
    /// a record referring to such an object may read differently since. (A ghost forwarded to its
    /// object is not counted: a reference to the forwarder is saved as one to the object, same OID.)
    private(set) var oidChanges = 0
    /// OIDs the store handed out to this session and no object has yet. The store allocates OIDs in a
    /// transaction of their own, synced like a commit: taking them in blocks spares most commits of new
    /// objects that second sync. OIDs left over when the session ends are never used.
    private var spareOIDs: Range<UInt64> = 0..<0
    static let oidBlock = 1024

    /// The first of `count` fresh consecutive OIDs.
    func takeOIDs(_ count: Int) throws -> UInt64 {
        if spareOIDs.count < count { spareOIDs = try store.allocateOIDs(count: count + Self.oidBlock) }
        let first = spareOIDs.lowerBound
        spareOIDs = first + UInt64(count)..<spareOIDs.upperBound
        return first
    }

    /// The store's gc generation when the session began, read before its snapshot: if a gc ran since,
    /// it may have reclaimed objects this session holds (ImageGCCheck.swift).
    let gcGeneration: UInt32

    /// Opened as of a past commit (`Runtime(image:asOf:)`): a view of history, never committed.
    var isReadOnly = false
    /// Methods compiled since the last commit, oldest first: written with the next commit.
    var pendingMethodVersions: [PendingMethodVersion] = []
    /// The class index of Blob, once looked up (ImageBlobs.swift).
    var blobClassIndex: Int?
    /// The class shapes this session knows and those it records with its next commit (ImageShapes.swift).
    private(set) lazy var shapes = ShapeBook(session: self)

    init(store: SQLiteStore, base: CommitID, gcGeneration: UInt32, vm: VM) {
        self.store = store
        self.base = base
        self.gcGeneration = gcGeneration
        self.vm = vm
        self.snapshot = base
    }

    /// `o` (an old object, a ghost or one loaded) is saved under `oid` from now on: it is persistent.
    func adopt(_ o: Oop, oid: UInt64) {
        assert(oids[o] == nil || oids[o] == oid, "an object's OID is changed by forgetting it first")
        oids[o] = oid
        objects[oid] = o
        vm.makePersistent(o)
    }

    /// A small ghost's object was loaded at another address: the OID names the object, and the ghost
    /// becomes a forwarder to it (VMCore/Forwarders.swift).
    func forward(_ ghost: Oop, to object: Oop, oid: UInt64) {
        oids.removeValue(forKey: ghost)
        vm.forward(ghost, to: object)
        adopt(object, oid: oid)
    }

    func reserveCapacity(_ count: Int) {
        oids.reserveCapacity(count)
        objects.reserveCapacity(count)
    }

    /// `o` is no longer saved under an OID: a commit that gave it one failed, or an abort replaced it.
    func forget(_ o: Oop) {
        if let oid = oids.removeValue(forKey: o), objects[oid] == o { objects[oid] = nil }
        oidChanges += 1
        vm.makeTransient(o)
    }

    /// Leaves every object: the object space is about to be committed to another store.
    func forgetAll() {
        for (o, _) in oids { vm.makeTransient(o) }
        oids.removeAll()
        objects.removeAll()
        oidChanges += 1
        vm.clearChangedObjects()
    }

    /// Whether the roots and class table are still saved as the store holds them at `base` (`savedSpecials`).
    func specialsAreSaved() -> Bool {
        guard let saved = savedSpecials, saved.oidChanges == oidChanges, !specialsOIDs.isEmpty else { return false }
        return vm.imageSpecialsAre(saved.words)
    }

    /// Throws if committing to `path` would write from a read-only view of that image's history.
    func checkWritable(to path: String) throws {
        guard isReadOnly, path == store.path else { return }
        throw RuntimeError.image(
            "\(path) is open as of commit \(base.rawValue), a read-only view of its history: nothing was committed "
            + "(to make that state current again, roll back to it: lo rollback \(base.rawValue))")
    }

    /// A full collection moved or freed objects: the object of each OID is updated in place, the map
    /// from objects to OIDs is rebuilt. The fingerprints of those freed go with them: loading an object
    /// again reads its fingerprint again.
    func objectsMoved(_ newAddress: (Oop) -> Oop?) {
        oids.updateKeys(newAddress)
        oidChanges += 1
        let freed = objects.updateValues { _, o in newAddress(o) }
        fingerprints.removeValues(forKeys: freed)
    }

    /// The OID to load `o` from again once a full collection evicted it (VM.reloadableOID): an object
    /// of the snapshot that this session has not committed since. Nil for the rest.
    func reloadableOID(of o: Oop) -> UInt64? {
        guard let oid = oids[o], !committedSinceSnapshot.contains(oid), !madeSinceSnapshot.contains(oid) else { return nil }
        return oid
    }

    /// After a commit `commit` made on top of `base`: if nothing but this session's own commits came
    /// after the snapshot, records as of the new commit are what memory holds, so loading continues from
    /// there and every object of it can be evicted and loaded again.
    /// Answers whether it did.
    @discardableResult
    func advanceSnapshot(after base: CommitID, to commit: CommitID) -> Bool {
        guard snapshot == base, commit.rawValue == base.rawValue + 1, !isReadOnly else { return false }
        snapshot = commit
        committedSinceSnapshot = []
        madeSinceSnapshot = []
        unseenWrites = ([], [])
        return true
    }

    /// After a commit `commit` that other sessions' commits came before (since the snapshot, they wrote
    /// `unseenWrites` and `others`): if memory holds none of those objects loaded, and each ghost of
    /// them still fits its object as of `commit`, memory is what `commit` holds, so loading continues
    /// from there, as `advanceSnapshot` does. Otherwise everything this session commits would stay
    /// loaded until an abort (`reloadableOID`), and a long run of commits beside another session's
    /// would fill the heap with what cannot be evicted. It may read the store (waiting until `commit`
    /// is in SQLite), so commits try it only past `snapshotMoveThreshold` objects. Answers whether it moved.
    func moveSnapshot(to commit: CommitID, pastOthers others: (oids: Set<UInt64>, roots: Set<String>)) -> Bool {
        guard !isReadOnly, let unseen = unseenWrites, unseen.roots.isEmpty, others.roots.isEmpty else { return false }
        var ghosts: [UInt64] = []
        for oid in unseen.oids.union(others.oids) {
            // The VM-state records (class table, roots) are no objects but what memory holds all the same.
            if specialsOIDs.contains(oid) { return false }
            guard let o = objects[oid] else { continue }
            guard vm.isGhost(o) else { return false }
            ghosts.append(oid)
        }
        if !ghosts.isEmpty {
            guard let headers = try? store.headers(of: ghosts, asOf: commit), headers.count == ghosts.count else { return false }
            for h in headers {
                guard let ghost = objects[h.oid], vm.isGhost(ghost),
                      vm.imageHeader(of: ghost).hash == Int(h.identityHash),
                      vm.ghostClassOID(ghost).map({ $0 == h.classOID }) ?? true,
                      vm.ghostFits(ghost, words: shapes.ghostWords(h, current: objects[h.classOID].map { vm.imageHeader(of: $0).hash }))
                else { return false }
            }
        }
        snapshot = commit
        committedSinceSnapshot = []
        madeSinceSnapshot = []
        unseenWrites = ([], [])
        return true
    }

    /// How many objects committed or made since the snapshot (which stay loaded) make a commit try
    /// `moveSnapshot`; tests lower it.
    nonisolated(unsafe) static var snapshotMoveThreshold = 4096

    /// Who commits: $USER, or "lo". Read once: reading the environment costs more than a commit.
    static let author: String = ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "lo"
}

/// A method compiled since the last commit.
struct PendingMethodVersion {
    var change: MethodChange
    var time: Date
}

/// The root record of an image, named by the store root `specialObjects`: an Array
/// `(version roots classTable hashState cacheEpoch)` whose `roots` and `classTable` are Arrays.
enum ImageSpecialsRecord {
    static let rootName = "specialObjects"
    static let version = 1
    static let size = 5
    static let recordCount = 3          // the specials Array, the roots Array, the class-table Array
}

extension StoredObject {
    /// A hash of everything in the record (within this process: Hasher is seeded per process).
    var fingerprint: UInt64 {
        var h = Hasher()
        h.combine(classOID)
        h.combine(format)
        h.combine(identityHash)
        h.combine(shape)
        switch contents {
        case .slots(let slots): h.combine(0); h.combine(slots)
        case .bytes(let bytes): h.combine(1); h.combine(bytes)
        case .largeBytes(let large): h.combine(2); h.combine(large)
        }
        return UInt64(bitPattern: Int64(h.finalize()))
    }
}
