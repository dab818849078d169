// A transaction's WAL frames written with one system call instead of two per frame.
//
// SQLite writes each WAL frame with two `pwrite`s, its 24-byte header and then its page, so a one-object
// commit (two frames) made four. The store opens its files through a VFS of its own that leaves everything
// to SQLite's (unix) VFS but writes to WAL files: a frame header, its page and the frames after it are
// copied into a buffer and written with one `pwrite` once the page of the commit frame is in (a commit
// frame's header holds the database size, which is zero in every other frame). No reader can want them
// earlier: SQLite publishes a transaction's frames in the WAL-index only after it has written its commit
// frame. Any other operation on the file writes the buffer out first (a read: SQLite re-reads frames to
// fix checksums; a write elsewhere; sync, truncate, size, file controls, close), and so does a buffer
// past 64 KB (the frames of a big transaction go out in writes of about that size). A failed write is
// reported by the write that sent the buffer out, which SQLite handles as the failure of its transaction.
//
// A WAL file opened through this VFS is laid out as: the `sqlite3_file` header SQLite sees (our
// methods), a pointer to the held frames, then the unix VFS's own file. Other files are the unix VFS's
// own, with its methods: nothing in between.

import CSQLite
import Glibc
import Synchronization

enum WALWriteVFS {
    /// The VFS's name for `sqlite3_open_v2`; nil if it could not be registered (then the default is used).
    nonisolated(unsafe) static let name: UnsafePointer<CChar>? = register()

    /// Writes made to WAL files (tests count them).
    static let writes = Atomic<Int>(0)

    nonisolated(unsafe) fileprivate static var unix: UnsafeMutablePointer<sqlite3_vfs>!
    fileprivate static let heldOffset = 8, realOffset = 16
    fileprivate static let frameHeaderSize: Int32 = 24
    /// The unix VFS writes at most 128 KB at once (it keeps 17 bits of a write's size).
    fileprivate static let bufferLimit = 64 * 1024

    private static func register() -> UnsafePointer<CChar>? {
        guard let unix = sqlite3_vfs_find(nil) else { return nil }
        Self.unix = unix
        let vfs = UnsafeMutablePointer<sqlite3_vfs>.allocate(capacity: 1)
        vfs.initialize(to: unix.pointee)  // the same methods and app data (the unix VFS's locking style)
        vfs.pointee.pNext = nil
        vfs.pointee.szOsFile = unix.pointee.szOsFile + Int32(realOffset)
        vfs.pointee.zName = UnsafePointer(strdup("lo-wal-writes"))
        vfs.pointee.xOpen = openFile
        guard sqlite3_vfs_register(vfs, 0) == SQLITE_OK else { return nil }
        return vfs.pointee.zName
    }
}

/// The frames held for one WAL file.
private struct HeldFrames {
    var bytes: UnsafeMutableRawPointer?
    var capacity = 0
    var count = 0
    /// Where `bytes` go in the file.
    var offset: Int64 = 0
    /// The last frame header held is a commit frame's.
    var commitFrame = false
}

private typealias File = UnsafeMutablePointer<sqlite3_file>

private func real(_ file: File) -> File {
    (UnsafeMutableRawPointer(file) + WALWriteVFS.realOffset).assumingMemoryBound(to: sqlite3_file.self)
}

private func held(_ file: File) -> UnsafeMutablePointer<HeldFrames> {
    UnsafeMutableRawPointer(file).load(fromByteOffset: WALWriteVFS.heldOffset, as: UnsafeMutablePointer<HeldFrames>.self)
}

private func realMethods(_ file: File) -> sqlite3_io_methods { real(file).pointee.pMethods.pointee }

private let openFile: @convention(c) (UnsafeMutablePointer<sqlite3_vfs>?, sqlite3_filename?, File?, Int32,
                                      UnsafeMutablePointer<Int32>?) -> Int32 = { _, name, file, flags, outFlags in
    let unix = WALWriteVFS.unix!
    guard let file, flags & SQLITE_OPEN_WAL != 0 else { return unix.pointee.xOpen!(unix, name, file, flags, outFlags) }
    let rc = unix.pointee.xOpen!(unix, name, real(file), flags, outFlags)
    guard rc == SQLITE_OK else {
        if let methods = real(file).pointee.pMethods { _ = methods.pointee.xClose!(real(file)) }
        file.pointee.pMethods = nil
        return rc
    }
    let frames = UnsafeMutablePointer<HeldFrames>.allocate(capacity: 1)
    frames.initialize(to: HeldFrames())
    UnsafeMutableRawPointer(file).storeBytes(of: frames, toByteOffset: WALWriteVFS.heldOffset, as: UnsafeMutablePointer<HeldFrames>.self)
    file.pointee.pMethods = UnsafePointer(walMethods)
    return SQLITE_OK
}

private func writeThrough(_ file: File, _ data: UnsafeRawPointer?, _ amount: Int32, _ offset: sqlite3_int64) -> Int32 {
    WALWriteVFS.writes.add(1, ordering: .relaxed)
    return realMethods(file).xWrite!(real(file), data, amount, offset)
}

/// Writes the held frames out.
private func flush(_ file: File) -> Int32 {
    let frames = held(file)
    guard frames.pointee.count > 0 else { return SQLITE_OK }
    let rc = writeThrough(file, frames.pointee.bytes, Int32(frames.pointee.count), frames.pointee.offset)
    frames.pointee.count = 0
    frames.pointee.commitFrame = false
    return rc
}

private let write: @convention(c) (File?, UnsafeRawPointer?, Int32, sqlite3_int64) -> Int32 = { file, data, amount, offset in
    let file = file!, frames = held(file)
    if frames.pointee.count > 0 && (offset != frames.pointee.offset + Int64(frames.pointee.count)
                                     || frames.pointee.count + Int(amount) > 2 * WALWriteVFS.bufferLimit) {
        let rc = flush(file)
        guard rc == SQLITE_OK else { return rc }
    }
    let isHeader = amount == WALWriteVFS.frameHeaderSize
    guard isHeader || frames.pointee.count > 0 else { return writeThrough(file, data, amount, offset) }
    let needed = frames.pointee.count + Int(amount)
    if needed > frames.pointee.capacity {
        let capacity = max(needed, 2 * frames.pointee.capacity, 16 * 1024)
        guard let bytes = realloc(frames.pointee.bytes, capacity) else {
            let rc = flush(file)
            return rc == SQLITE_OK ? writeThrough(file, data, amount, offset) : rc
        }
        frames.pointee.bytes = bytes
        frames.pointee.capacity = capacity
    }
    if frames.pointee.count == 0 { frames.pointee.offset = offset }
    (frames.pointee.bytes! + frames.pointee.count).copyMemory(from: data!, byteCount: Int(amount))
    frames.pointee.count = needed
    if isHeader {
        let header = data!.assumingMemoryBound(to: UInt8.self)
        frames.pointee.commitFrame = header[4] | header[5] | header[6] | header[7] != 0
        return SQLITE_OK
    }
    return frames.pointee.commitFrame || needed >= WALWriteVFS.bufferLimit ? flush(file) : SQLITE_OK
}

nonisolated(unsafe) private let walMethods: UnsafeMutablePointer<sqlite3_io_methods> = {
    let table = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
    table.initialize(to: sqlite3_io_methods(
        iVersion: 3,
        xClose: { file in
            let file = file!, frames = held(file)
            let flushed = flush(file)
            let rc = realMethods(file).xClose!(real(file))
            free(frames.pointee.bytes)
            frames.deallocate()
            file.pointee.pMethods = nil
            return flushed == SQLITE_OK ? rc : flushed
        },
        xRead: { file, data, amount, offset in
            let rc = flush(file!)
            return rc == SQLITE_OK ? realMethods(file!).xRead!(real(file!), data, amount, offset) : rc
        },
        xWrite: write,
        xTruncate: { file, size in
            let rc = flush(file!)
            return rc == SQLITE_OK ? realMethods(file!).xTruncate!(real(file!), size) : rc
        },
        xSync: { file, flags in
            let rc = flush(file!)
            return rc == SQLITE_OK ? realMethods(file!).xSync!(real(file!), flags) : rc
        },
        xFileSize: { file, size in
            let rc = flush(file!)
            return rc == SQLITE_OK ? realMethods(file!).xFileSize!(real(file!), size) : rc
        },
        xLock: { file, lock in realMethods(file!).xLock!(real(file!), lock) },
        xUnlock: { file, lock in realMethods(file!).xUnlock!(real(file!), lock) },
        xCheckReservedLock: { file, result in realMethods(file!).xCheckReservedLock!(real(file!), result) },
        xFileControl: { file, operation, argument in
            let rc = flush(file!)
            return rc == SQLITE_OK ? realMethods(file!).xFileControl!(real(file!), operation, argument) : rc
        },
        xSectorSize: { file in realMethods(file!).xSectorSize!(real(file!)) },
        xDeviceCharacteristics: { file in realMethods(file!).xDeviceCharacteristics!(real(file!)) },
        xShmMap: { file, region, size, extend, address in realMethods(file!).xShmMap!(real(file!), region, size, extend, address) },
        xShmLock: { file, offset, count, flags in realMethods(file!).xShmLock!(real(file!), offset, count, flags) },
        xShmBarrier: { file in realMethods(file!).xShmBarrier!(real(file!)) },
        xShmUnmap: { file, delete in realMethods(file!).xShmUnmap!(real(file!), delete) },
        xFetch: { file, offset, amount, address in realMethods(file!).xFetch!(real(file!), offset, amount, address) },
        xUnfetch: { file, offset, address in realMethods(file!).xUnfetch!(real(file!), offset, address) }))
    return table
}()
