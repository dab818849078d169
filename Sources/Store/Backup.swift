// backup(to:): a consistent copy of the store while other connections go on committing.

import CSQLite
import Foundation

extension SQLiteStore {
    /// Copies the store, as of one snapshot, to a new file at `destination` (which must not exist).
    /// Commits proceed meanwhile (WAL readers do not block writers).
    public func backup(to destination: String) throws {
        if FileManager.default.fileExists(atPath: destination) {
            throw StoreError.invalidRequest("the backup destination \(destination) already exists")
        }
        try drainLog()
        let source = try Connection(path: path, flags: SQLITE_OPEN_READWRITE)
        try Schema.configure(source, readOnly: true)
        let target = try Connection(path: destination, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        guard let backup = sqlite3_backup_init(target.raw, "main", source.raw, "main") else {
            throw target.error(sqlite3_errcode(target.raw), String(cString: sqlite3_errmsg(target.raw)))
        }
        // One step copies every page inside one read transaction: one consistent snapshot.
        let rc = sqlite3_backup_step(backup, -1)
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw target.error(rc, String(cString: sqlite3_errstr(rc)))
        }
        // The copy holds every commit drained above, and no log goes with it (LogInUse.swift).
        try target.execute("DELETE FROM meta WHERE key = '\(Self.logInUseKey)'")
        try target.execute("PRAGMA journal_mode = WAL")
    }
}
