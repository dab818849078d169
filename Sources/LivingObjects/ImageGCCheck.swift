// A session that began before a gc may hold objects the gc reclaimed (another session dropped them):
// before it commits, it checks that the objects its writes refer to still exist (Store/GCGeneration.swift).

import Store

/// Objects a commit refers to that a gc reclaimed since the session began.
struct ReclaimedObjects: Error {
    let oids: [UInt64]
}

extension ImageSession {
    /// Runs `commit` with the gc generation to commit under: the store's, once every object the writes
    /// refer to (`referenced`, but for those written: `written`) is known to exist if a gc ran since
    /// this session began. A gc that runs meanwhile makes the store refuse the commit: the check is
    /// made again. Throws `ReclaimedObjects` naming those gone.
    func commitChecked(_ commit: (UInt32) throws -> CommitID, referringTo referenced: () -> [UInt64],
                       writing written: () -> [UInt64]) throws -> CommitID {
        var attempts = 1
        while true {
            let generation = try store.gcGeneration()
            if generation != gcGeneration {
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

    /// How often a commit is checked again when gcs keep running meanwhile, before it fails.
    static let gcCheckAttempts = 5
}
