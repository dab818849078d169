// The files of one store: its database file and the companions named after it (SQLite's WAL and
// shared memory, the commit log, the shared page). Every process must name them alike, so a store is
// opened by the file a symlink points to, and a file with several names (hard links) is refused.

import Foundation

public enum StoreFiles {
    /// The suffixes of the files kept beside a store's file.
    public static let companionSuffixes = ["-wal", "-shm", "-journal", "-log", "-sync"]

    /// `path`, or the file its chain of symlinks ends at (which need not exist yet): SQLite names
    /// the WAL after that file, and the commit log must be named as the WAL is.
    static func followingSymlinks(_ path: String) -> String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(current, &buffer, buffer.count - 1)
            guard length > 0 else { return current }
            let target = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : (current as NSString).deletingLastPathComponent.appendingPathComponent(target)
        }
        return current
    }

    /// Throws if the store's file has more than one name: sessions opening it by two names would keep
    /// two commit logs and WALs, and lose commits.
    static func refuseHardLinks(_ path: String) throws(StoreError) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_nlink > 1 else { return }
        throw .inUse(path: path, detail: "the file has \(info.st_nlink) names (hard links); a store must have one name, or sessions that open it by different names lose commits: remove the other links")
    }

    /// Whether `candidate` is the store's file at `storePath` or one of its companions: by their paths
    /// once symlinks are resolved, or, for files that exist, by identity.
    public static func isStoreFile(_ candidate: String, of storePath: String) -> Bool {
        let resolvedCandidate = resolved(candidate), base = resolved(storePath)
        let candidateID = identity(of: candidate)
        return ([""] + companionSuffixes).contains { suffix in
            resolvedCandidate == base + suffix || (candidateID != nil && candidateID == identity(of: storePath + suffix))
        }
    }

    private static func resolved(_ path: String) -> String {
        let target = followingSymlinks(path)
        let absolute = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath.appendingPathComponent(target)
        return URL(fileURLWithPath: absolute).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Before a file is replaced (a backup restored over it): locks it as an open store would, so
    /// that no store opens it until the caller closes the descriptor answered. Throws `inUse` if a
    /// store (of any process) has it open, and `invalidRequest` if it is not a regular file.
    public static func lockUnused(_ path: String) throws(StoreError) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw .ioError(path: path, detail: "cannot open it (errno \(errno))") }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .invalidRequest("\(path) is not a regular file")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EINTR else {
                close(descriptor)
                throw .inUse(path: path, detail: "it is open (in lo or a program embedding it): close it first")
            }
        }
        return descriptor
    }

    struct FileID: Hashable { let device: UInt64, inode: UInt64 }

    /// The file at `path` (under any name), if it exists.
    static func identity(of path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

private extension String {
    func appendingPathComponent(_ component: String) -> String {
        isEmpty ? component : (self as NSString).appendingPathComponent(component)
    }
}
