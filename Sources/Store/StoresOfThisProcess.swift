// The stores this process has open, by database file. A store whose last user lets go of it while its
// background apply runs closes when that apply ends, on the apply's queue (LogCommits.swift), a moment
// later. An open of the same file from this process that needs it closed waits for that rather than
// fail: an exclusive open, and a shared-log open that finds the log being removed by a store of this
// process that shared it (an open that finds a store of this process in the other mode fails at once).
//
// `SQLiteStore.openShared` hands out one store per file to the runtimes of a process: their commits
// then group as the threads of one store do (one leader appends and syncs for all: CommitQueue.swift),
// not as separate stores, which post to each other like processes (CommitPosts.swift).

import Foundation
import Synchronization

enum StoresOfThisProcess {
    /// Every store.
    static let all = Registry()
    /// The stores that joined the commit log shared by processes (SharedLogCommits.swift).
    static let sharingTheLog = Registry()

    /// The stores `openShared` handed out, by file, for as long as someone holds them.
    fileprivate static let reusable = Mutex<[FileID: WeakStore]>([:])

    fileprivate struct WeakStore { weak var store: SQLiteStore? }

    fileprivate typealias FileID = StoreFiles.FileID

    /// The file at `path` (under any name), if it exists.
    fileprivate static func fileID(_ path: String) -> FileID? { StoreFiles.identity(of: path) }

    final class Registry: Sendable {
        private let files = Mutex<[FileID: (open: Int, lastClosed: ContinuousClock.Instant)]>([:])

        func opened(_ path: String) {
            guard let file = StoresOfThisProcess.fileID(path) else { return }
            files.withLock { $0[file, default: (0, .now)].open += 1 }
        }

        func closed(_ path: String) {
            guard let file = StoresOfThisProcess.fileID(path) else { return }
            files.withLock { $0[file]?.open -= 1; $0[file]?.lastClosed = .now }
        }

        /// Whether any store is open.
        var anyOpen: Bool { files.withLock { $0.values.contains { $0.open > 0 } } }

        /// Whether a store of this process may hold `path` open now, or be closing.
        func mayHold(_ path: String) -> Bool {
            guard let file = StoresOfThisProcess.fileID(path) else { return false }
            return files.withLock { entry in
                guard let stores = entry[file] else { return false }
                return stores.open > 0 || ContinuousClock.now - stores.lastClosed < StoresOfThisProcess.closingGrace
            }
        }
    }

    /// How long after its last store here closed a file may still be locked by it: SQLite closes the
    /// store's connections, and with them its lock, just after.
    fileprivate static let closingGrace: Duration = .milliseconds(500)
}

extension SQLiteStore {
    /// The store this process has open on the file at `path` (by this name or another) through this
    /// method, else one opened now with the default modes (`create` as for `open`). It closes once its
    /// last user lets go of it. Each runtime that opens an image takes its store from here, so that
    /// the runtimes of a process commit to the same image as sessions of one store.
    public static func openShared(path: String, create: Bool = false) throws -> SQLiteStore {
        // Held while opening: two runtimes opening one image at once get one store.
        try StoresOfThisProcess.reusable.withLock { stores in
            if let file = StoresOfThisProcess.fileID(path), let store = stores[file]?.store { return store }
            let store = try open(path: path, create: create)
            // The entries of stores closed since go, so that the table does not grow.
            stores = stores.filter { $0.value.store != nil }
            if let file = StoresOfThisProcess.fileID(path) { stores[file] = StoresOfThisProcess.WeakStore(store: store) }
            return store
        }
    }
}

extension SQLiteStore {
    /// Waits until every store of this process has closed, for `timeout` at most: a store let go of
    /// while its background apply runs closes when that apply ends (applying what is durable and,
    /// for the last process, removing the commit log). A process about to exit calls this, so that
    /// it leaves the image whole in its file rather than partly in its commit log.
    public static func awaitStoresClosed(timeout: Duration = .seconds(60)) {
        let deadline = ContinuousClock.now + timeout
        while StoresOfThisProcess.all.anyOpen && ContinuousClock.now < deadline { usleep(2000) }
    }
}
