// What a runtime remembers about the image it was opened from or committed to.

import Store
import VMCore

/// The link between an object space and its store: which snapshot it is based on and which OID each
/// object has. Oops are addresses, valid only until the next full collection moves objects (saving
/// makes every object old first, and old objects move only when compacted): when one has happened,
/// the table is dropped and the next commit gives every object a fresh OID.
///
/// A commit writes only objects whose record differs from the one the store already has: each
/// record's fingerprint (a 64-bit hash of class, format, identity hash and contents) is kept per OID.
final class ImageSession {
    let store: SQLiteStore
    var base: CommitID
    var oids: [Oop: UInt64] = [:]
    /// `VM.fullCollections` when `oids` was last valid.
    var collectionsAtTable: Int
    /// The OIDs of the records describing the VM state (`ImageSpecialsRecord`).
    var specialsOIDs: [UInt64] = []
    /// OID → fingerprint of the record the store holds at `base`.
    var fingerprints: [UInt64: Int] = [:]
    /// Opened as of a past commit (`Runtime(image:asOf:)`): a view of history, never committed.
    var isReadOnly = false

    init(store: SQLiteStore, base: CommitID, collections: Int) {
        self.store = store
        self.base = base
        self.collectionsAtTable = collections
    }

    /// Throws if committing to `path` would write from a read-only view of that image's history.
    func checkWritable(to path: String) throws {
        guard isReadOnly, path == store.path else { return }
        throw RuntimeError.image(
            "\(path) is open as of commit \(base.rawValue), a read-only view of its history: nothing was committed "
            + "(to make that state current again, roll back to it: lo rollback \(base.rawValue))")
    }
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
    var fingerprint: Int {
        var h = Hasher()
        h.combine(classOID)
        h.combine(format)
        h.combine(identityHash)
        switch contents {
        case .slots(let slots): h.combine(0); h.combine(slots)
        case .bytes(let bytes): h.combine(1); h.combine(bytes)
        case .largeBytes(let large): h.combine(2); h.combine(large)
        }
        return h.finalize()
    }
}
