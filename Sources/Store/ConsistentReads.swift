// Reads that must agree with each other: opening an image or aborting reads the head's records in
// many batches, and a gc may delete versions between two of them (with a short window, those the
// head had once a newer commit exists). `withConsistentReads` makes every read of the calling thread
// share one read transaction, begun after the snapshot is applied: SQLite then shows each batch the
// database as it was at the first, whatever commits and gcs meanwhile. A gc's final checkpoint waits
// for that transaction to end (as for any reader).

import Glibc

extension SQLiteStore {
    /// Runs `body` with every read this thread makes in it (`withReader`) on one read transaction that
    /// sees `snapshot`. Nested calls share the outer one.
    public func withConsistentReads<T>(asOf snapshot: CommitID, _ body: () throws -> T) throws -> T {
        let thread = Self.currentThread
        if pinnedReader() != nil { return try body() }
        try awaitApplied(snapshot)
        let reader = try takeReader()
        defer { giveBack(reader) }
        try reader.run(.begin)
        defer { reader.rollbackQuietly() }
        _ = try Self.head(reader)  // the transaction's snapshot is taken by its first read
        pinnedReaders.withLock { $0[thread] = reader }
        pinnedReaderCount.add(1, ordering: .relaxed)
        defer {
            pinnedReaderCount.subtract(1, ordering: .relaxed)
            _ = pinnedReaders.withLock { $0.removeValue(forKey: thread) }
        }
        return try body()
    }

    /// The calling thread's read transaction, if it is inside `withConsistentReads`.
    func pinnedReader() -> Connection? {
        guard pinnedReaderCount.load(ordering: .relaxed) > 0 else { return nil }
        let thread = Self.currentThread
        return pinnedReaders.withLock { $0[thread] }
    }

    private static var currentThread: UInt { UInt(pthread_self()) }
}
