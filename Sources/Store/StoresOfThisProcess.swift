// The stores this process has open, by database file. A store whose last user lets go of it while its
// background apply runs closes when that apply ends, on the apply's queue (LogCommits.swift), a moment
// later. An open of the same file from this process that needs it closed waits for that rather than
// fail: an exclusive open, and a shared-log open that finds the log being removed by a store of this
// process that shared it (an open that finds a store of this process in the other mode fails at once).

import Foundation
import Synchronization

enum StoresOfThisProcess {
    /// Every store.
    static let all = Registry()
    /// The stores that joined the commit log shared by processes (SharedLogCommits.swift).
    static let sharingTheLog = Registry()

    final class Registry: Sendable {
        private struct FileID: Hashable { let device: UInt64, inode: UInt64 }

        private let files = Mutex<[FileID: (open: Int, lastClosed: ContinuousClock.Instant)]>([:])

        func opened(_ path: String) {
            guard let file = Self.fileID(path) else { return }
            files.withLock { $0[file, default: (0, .now)].open += 1 }
        }

        func closed(_ path: String) {
            guard let file = Self.fileID(path) else { return }
            files.withLock { $0[file]?.open -= 1; $0[file]?.lastClosed = .now }
        }

        /// Whether a store of this process may hold `path` open now, or be closing.
        func mayHold(_ path: String) -> Bool {
            guard let file = Self.fileID(path) else { return false }
            return files.withLock { entry in
                guard let stores = entry[file] else { return false }
                return stores.open > 0 || ContinuousClock.now - stores.lastClosed < StoresOfThisProcess.closingGrace
            }
        }

        private static func fileID(_ path: String) -> FileID? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        }
    }

    /// How long after its last store here closed a file may still be locked by it: SQLite closes the
    /// store's connections, and with them its lock, just after.
    fileprivate static let closingGrace: Duration = .milliseconds(500)
}
