// The stores this process has open, by database file. A store whose last user lets go of it while its
// background apply runs closes when that apply ends, on the apply's queue (LogCommits.swift), a moment
// later; an open of the same file from this process that needs it closed (exclusive, or finding the
// shared log being removed) waits for that rather than fail.

import Foundation
import Synchronization

enum StoresOfThisProcess {
    private struct FileID: Hashable { let device: UInt64, inode: UInt64 }

    private static let files = Mutex<[FileID: (open: Int, lastClosed: ContinuousClock.Instant)]>([:])

    /// How long after its last store here closed a file may still be locked by it: SQLite closes the
    /// store's connections, and with them its lock, just after.
    private static let closingGrace: Duration = .milliseconds(500)

    static func opened(_ path: String) {
        guard let file = fileID(path) else { return }
        files.withLock { $0[file, default: (0, .now)].open += 1 }
    }

    static func closed(_ path: String) {
        guard let file = fileID(path) else { return }
        files.withLock { $0[file]?.open -= 1; $0[file]?.lastClosed = .now }
    }

    /// Whether a store of this process may hold `path` open now, or be closing (besides `own` stores
    /// open: the caller's, while it opens).
    static func mayHold(_ path: String, besides own: Int = 0) -> Bool {
        guard let file = fileID(path) else { return false }
        return files.withLock { entry in
            guard let stores = entry[file] else { return false }
            return stores.open > own || ContinuousClock.now - stores.lastClosed < closingGrace
        }
    }

    private static func fileID(_ path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
