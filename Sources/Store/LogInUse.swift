// Whether the database expects a commit log beside it.
//
// Commits acknowledged through the commit log (`<store>-log`) are in that file, and in SQLite's WAL,
// before they reach the database file. A store whose processes stopped without closing it (killed,
// power loss) needs those files at its next open. If they are not beside it — the image was moved or
// renamed without them — the open used to begin a new log and go on from the older state: the
// acknowledged commits were lost without a word. So while a log is in use the database says so, in its
// own file (checkpointed, since its WAL may be what is missing), and an open that finds the mark but
// no log refuses. The last process to close applies the log, clears the mark, then removes the log.

import Foundation

extension SQLiteStore {
    static let logInUseKey = "commit_log_in_use"

    /// Before the log takes its first commit: marks the database, and moves the mark into its file.
    func markLogInUse() throws {
        try setLogInUse(true)
    }

    /// After every logged commit is in SQLite and synced, before the log is removed.
    func clearLogInUse() throws {
        try setLogInUse(false)
    }

    private func setLogInUse(_ inUse: Bool) throws {
        try writer.withLock { connection in
            guard try Self.isLogInUse(connection) != inUse else { return }
            try connection.transaction(immediate: true) {
                try connection.execute("""
                    INSERT INTO meta VALUES ('\(Self.logInUseKey)', \(inUse ? 1 : 0))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            }
            // Into the database file: a mark left in a WAL that is missing would say nothing.
            if inUse { try connection.execute("PRAGMA wal_checkpoint(FULL)") }
        }
        try walSync.sync()
    }

    private static func isLogInUse(_ connection: Connection) throws -> Bool {
        try connection.integer("SELECT value FROM meta WHERE key = '\(logInUseKey)'") ?? 0 != 0
    }

    /// Refuses to go on without the log the database says it has (see above).
    func refuseIfLogMissing() throws {
        let logPath = path + "-log"
        guard !FileManager.default.fileExists(atPath: logPath),
              try writer.withLock({ try Self.isLogInUse($0) }) else { return }
        throw StoreError.corrupt(path: path, detail: "its commit log \(logPath) is missing, though the image was in use with one "
            + "and was not closed since: it holds the newest commits. If the image was moved or renamed after its processes "
            + "stopped, put it back beside its -log and -wal files (or move those with it). To go on without those commits, "
            + "create an empty file named \(logPath)")
    }
}
