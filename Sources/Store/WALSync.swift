// Durability of commits without holding the write lock through the fsync.
//
// The writer connection runs with `synchronous = NORMAL`: SQLite writes a transaction's WAL frames
// without syncing them, and still syncs the WAL before each checkpoint, the database after it, and
// the WAL header when the log restarts, so the file stays consistent through a power loss. What
// NORMAL alone gives up, the newest commits, `WALSync` gives back: every write path syncs the WAL
// (`fdatasync`) after its COMMIT and before it returns. A sync covers every frame written before it
// started — this transaction's and all earlier ones — so an acknowledged commit is as durable as with
// `synchronous = FULL`. The difference is that the sync happens after SQLite's write lock is released:
// the next transaction (of this process or another) is written while this one syncs, and writers
// that finish their COMMITs while a sync runs share the next one: one of them syncs for all, whatever
// process each is in (GroupSync.swift).

import Foundation
import Synchronization

final class WALSync: Sendable {
    /// The `-wal` file.
    let path: String

    private struct File {
        var descriptor: Int32 = -1
        var device: UInt64 = 0, inode: UInt64 = 0
        /// Descriptors of a WAL file that was replaced, closed only with the store: another thread may
        /// still be syncing one, and a closed number could be reused.
        var retired: [Int32] = []
        /// The page shared with the store's other writers, opened at the first sync (nil: sync alone).
        var group: GroupSync?
        var groupOpened = false
    }

    private let file = Mutex(File())
    /// How many syncs completed (tests check that every write path syncs).
    let completed = Atomic<Int>(0)
    /// Runs just before each sync (tests hold a sync there).
    let beforeSync = Mutex<(@Sendable () -> Void)?>(nil)

    private let databasePath: String

    init(databasePath: String) {
        self.databasePath = databasePath
        path = databasePath + "-wal"
    }

    /// The inode of the WAL file the last sync found live (0 if none).
    var syncedInode: UInt64 { file.withLock { $0.descriptor >= 0 ? $0.inode : 0 } }

    deinit {
        file.withLock { file in
            for descriptor in file.retired + [file.descriptor] where descriptor >= 0 { close(descriptor) }
        }
    }

    /// Makes every WAL frame written so far durable: syncs, or finds that a sync of another writer,
    /// begun since, did. Called after a COMMIT has returned. No WAL file means a checkpoint moved every
    /// frame into the database file, and synced it, before the file was removed.
    func sync() throws(StoreError) {
        beforeSync.withLock { $0 }?()
        if let group = group {
            if try group.sync({ () throws(StoreError) in try syncLiveFile() }) == .covered { return }
        } else {
            try syncLiveFile()
        }
        completed.add(1, ordering: .relaxed)
    }

    /// The page shared with the other writers of the store, opened on first use (so that a store that
    /// never writes leaves no file), or nil if it cannot be used.
    var group: GroupSync? {
        file.withLock { file in
            if !file.groupOpened {
                file.groupOpened = true
                file.group = GroupSync.open(databasePath: databasePath)
            }
            return file.group
        }
    }

    /// Lets go of the shared page (the store is closing): the last process to do so removes its file.
    func closeGroup() {
        file.withLock { $0.group = nil }
    }

    private func syncLiveFile() throws(StoreError) {
        for _ in 0..<3 {
            guard let (descriptor, device, inode) = try current() else { return }
            guard fdatasync(descriptor) == 0 else {
                throw .ioError(path: path, detail: "fdatasync failed (errno \(errno)); the last commits may not be durable")
            }
            // Still linked: still the live file (SQLite never links a WAL elsewhere), and no path lookup.
            if let links = linkCount(descriptor), links > 0 { return }
            var live = stat()
            if stat(path, &live) != 0 && errno == ENOENT { return }
            if UInt64(live.st_dev) == device && UInt64(live.st_ino) == inode { return }
            file.withLock { file in  // the file was replaced after we opened it: sync the new one
                if file.descriptor == descriptor {
                    file.retired.append(descriptor)
                    file.descriptor = -1
                }
            }
        }
        throw .ioError(path: path, detail: "the WAL file keeps being replaced")
    }

    /// Our descriptor of the live WAL file (opened on first use, its directory synced so that the
    /// file's name is durable too), or nil if there is no WAL file.
    private func current() throws(StoreError) -> (Int32, UInt64, UInt64)? {
        let opened: Result<(Int32, UInt64, UInt64)?, StoreError> = file.withLock { file in
            if file.descriptor >= 0 { return .success((file.descriptor, file.device, file.inode)) }
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 {
                if errno == ENOENT { return .success(nil) }
                return .failure(.ioError(path: path, detail: "cannot open the WAL to sync it (errno \(errno))"))
            }
            var status = stat()
            fstat(descriptor, &status)
            let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                                 O_RDONLY | O_CLOEXEC | O_DIRECTORY)
            if directory >= 0 {
                fsync(directory)
                close(directory)
            }
            file.descriptor = descriptor
            file.device = UInt64(status.st_dev)
            file.inode = UInt64(status.st_ino)
            return .success((descriptor, file.device, file.inode))
        }
        return try opened.get()
    }
}

/// The link count of an open file, read without its timestamps. Since Linux 6.13 a stat that reads a
/// file's ctime (fstat does) makes the next write give the file a fine-grained ctime, which dirties its
/// inode, so the fdatasync after it commits the inode too: one more journal write per sync, 50–90 µs on
/// this machine's disk (bench/RESULTS.md, tenth session). statx asking for the link count alone does not.
/// Glibc's `statx` is not visible to Swift; nil if it is missing or fails (then `fstat`).
func linkCount(_ descriptor: Int32) -> UInt64? {
    if let statx = statxFunction {
        return withUnsafeTemporaryAllocation(byteCount: 256, alignment: 8) { buffer -> UInt64? in
            let emptyPath: Int32 = 0x1000, nlink: UInt32 = 0x4  // AT_EMPTY_PATH, STATX_NLINK
            guard statx(descriptor, "", emptyPath, nlink, buffer.baseAddress!) == 0,
                  buffer.load(as: UInt32.self) & nlink != 0 else { return nil }
            return UInt64(buffer.load(fromByteOffset: 16, as: UInt32.self))  // struct statx: stx_mask, …, stx_nlink at 16
        }
    }
    var status = stat()
    return fstat(descriptor, &status) == 0 ? UInt64(status.st_nlink) : nil
}

private typealias Statx = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UInt32, UnsafeMutableRawPointer) -> Int32
private let statxFunction: Statx? = dlsym(nil, "statx").map { unsafeBitCast($0, to: Statx.self) }
