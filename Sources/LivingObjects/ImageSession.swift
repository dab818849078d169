// What a runtime remembers about the image it was opened from or committed to.

import Store
import VMCore

/// The link between an object space and its store: which snapshot it is based on and which OID each
/// object has. Oops are addresses, valid only until the next full collection moves objects (saving
/// makes every object old first, and old objects move only when compacted): when one has happened,
/// the table is dropped and the next commit gives every object a fresh OID.
final class ImageSession {
    let store: SQLiteStore
    var base: CommitID
    var oids: [Oop: UInt64] = [:]
    /// `VM.fullCollections` when `oids` was last valid.
    var collectionsAtTable: Int
    /// The OIDs of the records describing the VM state (`ImageSpecialsRecord`).
    var specialsOIDs: [UInt64] = []

    init(store: SQLiteStore, base: CommitID, collections: Int) {
        self.store = store
        self.base = base
        self.collectionsAtTable = collections
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
