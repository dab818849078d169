// Who has a store open: every open takes an `flock` on the database file for as long as the store is
// open — shared normally, exclusive when the store is opened exclusively (Docs/Store.md "The commit
// log"). The lock is taken on the descriptor SQLite's writer connection reads the file with: opening
// and closing a descriptor of our own would drop SQLite's `fcntl` locks on the file (POSIX drops a
// process's record locks on a file when any of its descriptors of it is closed). `flock` locks are
// separate from `fcntl` locks and go with that descriptor when SQLite closes it.

import CSQLite
import Foundation

enum StoreLock {
    /// Takes the lock for `connection`'s database. A normal open first tries to be alone (`alone`:
    /// exclusively locked), so that it may replay a log a killed holder left, then calls `share`; one
    /// that finds others waits for a shared lock, unless a live process holds the store exclusively.
    /// Throws `StoreError.inUse` when it is excluded.
    static func take(_ connection: Connection, path: String, exclusive: Bool) throws -> (descriptor: Int32, alone: Bool) {
        let descriptor = try databaseDescriptor(connection, path: path)
        if tryLock(descriptor, LOCK_EX) { return (try stillNamed(descriptor, path), true) }
        if exclusive {
            // A store of this process may be closing (StoresOfThisProcess.swift): wait a moment for it.
            let deadline = Date() + 2
            while StoresOfThisProcess.all.mayHold(path) && Date() < deadline {
                usleep(1000)
                if tryLock(descriptor, LOCK_EX) { return (try stillNamed(descriptor, path), true) }
            }
            throw StoreError.inUse(path: path, detail: liveHolder(path)?.description ?? "another process has it open, and an exclusive open must be alone")
        }
        // Another normal open may hold it exclusively for a moment (while it replays a log), and a
        // store of this process that its last user let go of may still be closing (LogCommits.swift).
        let start = Date(), deadline = start + 30
        while !tryLock(descriptor, LOCK_SH) {
            if let holder = liveHolder(path), holder.pid != getpid() || Date() > start + 1 {
                throw StoreError.inUse(path: path, detail: holder.description)
            }
            guard Date() < deadline else { throw StoreError.inUse(path: path, detail: "another process holds it exclusively") }
            usleep(1000)
        }
        return (try stillNamed(descriptor, path), false)
    }

    /// The descriptor, once locked, if `path` still names its file: a file replaced meanwhile (a
    /// backup restored over it, holding the old file's lock while it did: `StoreFiles.lockUnused`)
    /// would be opened with the old one, which no longer has a name.
    private static func stillNamed(_ descriptor: Int32, _ path: String) throws -> Int32 {
        var opened = stat(), named = stat()
        guard fstat(descriptor, &opened) == 0, stat(path, &named) == 0,
              opened.st_dev == named.st_dev, opened.st_ino == named.st_ino else {
            flock(descriptor, LOCK_UN)
            throw StoreError.inUse(path: path, detail: "it was replaced while it was being opened: open it again")
        }
        return descriptor
    }

    /// From the exclusive lock `take` gave a normal open to the shared one.
    static func share(_ descriptor: Int32, path: String) throws {
        guard tryLock(descriptor, LOCK_SH) else {
            throw StoreError.inUse(path: path, detail: liveHolder(path)?.description ?? "another process holds it exclusively")
        }
    }

    /// A normal open without the shared log, beside other processes: refused if they share the log
    /// (each holds a shared `flock` on `-log`).
    static func refuseSharedLog(path: String) throws {
        let descriptor = open(path + "-log", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        if !tryLock(descriptor, LOCK_EX) {
            throw StoreError.inUse(path: path, detail: "other processes share its commit log: open it the same way (not with LO_SHARED_LOG=0)")
        }
    }

    private static func tryLock(_ descriptor: Int32, _ operation: Int32) -> Bool {
        while true {
            if flock(descriptor, operation | LOCK_NB) == 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// The process named as the holder of the store's log, if it is alive.
    private static func liveHolder(_ path: String) -> (pid: Int32, description: String)? {
        guard let holder = CommitLog.holder(path: path + "-log"), let pid = Int32(exactly: holder),
              kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return (pid, "process \(holder) holds it exclusively")
    }

    /// The descriptor of the database file in SQLite's unix VFS (`unixFile.h`: the fourth field, after
    /// three pointers), checked against the file at `path`.
    private static func databaseDescriptor(_ connection: Connection, path: String) throws -> Int32 {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(connection.raw, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK, let file else {
            throw StoreError.ioError(path: path, detail: "cannot reach the database file to lock it")
        }
        let descriptor = UnsafeRawPointer(file).load(fromByteOffset: 3 * MemoryLayout<UnsafeRawPointer>.size, as: Int32.self)
        var opened = stat(), named = stat()
        guard descriptor >= 0, fstat(descriptor, &opened) == 0, stat(path, &named) == 0,
              opened.st_dev == named.st_dev, opened.st_ino == named.st_ino else {
            throw StoreError.ioError(path: path, detail: "cannot find the database file's descriptor to lock it")
        }
        return descriptor
    }
}
