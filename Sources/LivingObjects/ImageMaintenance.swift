// Upkeep of an image file: rollback, backup, reclaiming space (gc) and checking its integrity.

import Foundation
import Store

extension ImageFile {
    /// Commits the object space as it was at `target` anew (history is kept: the rollback is one more
    /// commit) and answers that commit. The target is checked first to hold a complete object space,
    /// so an image too broken to run can be rolled back, and a commit gc has thinned out is refused.
    @discardableResult
    public func rollback(to target: CommitID) throws -> CommitInfo {
        _ = try ImageGraph(store: store, asOf: target)
        let id = try store.rollback(to: target, author: ImageSession.author)
        return try store.commits(limit: 1, before: CommitID(id.rawValue + 1))[0]
    }

    /// Whether `path` names the image's file or one of the files kept beside it.
    public func isImageFile(_ path: String) -> Bool {
        StoreFiles.isStoreFile(path, of: self.path) || StoreFiles.isStoreFile(self.path, of: path)
    }

    /// Copies the image, as of one commit, to `destination` while other sessions go on committing.
    /// The copy is written beside the destination and renamed into place when complete; an existing
    /// file is replaced only if `replacing`. Answers the commit the copy holds.
    @discardableResult
    public func backup(to destination: String, replacing: Bool = false) throws -> CommitID {
        let manager = FileManager.default
        let target = URL(fileURLWithPath: destination).standardizedFileURL.resolvingSymlinksInPath()
        guard !isImageFile(destination) else {
            throw RuntimeError.image("\(destination) is the image or one of the files kept beside it")
        }
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: target.deletingLastPathComponent().path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw RuntimeError.image("cannot back up to \(destination): no such directory")
        }
        // A file replaced is locked as an open store would be: refused if one has it open (it would
        // go on committing into the copy), and no store opens it until the copy has its name.
        var replacedLock: Int32 = -1
        defer { if replacedLock >= 0 { close(replacedLock) } }
        if manager.fileExists(atPath: destination, isDirectory: &isDirectory) {
            guard replacing, !isDirectory.boolValue else { throw RuntimeError.image("\(destination) already exists") }
            do { replacedLock = try StoreFiles.lockUnused(target.path) } catch {
                throw RuntimeError.image("cannot replace \(destination): \(error)")
            }
        }
        let partial = target.path + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        func removeFiles(_ base: String) { for suffix in [""] + StoreFiles.companionSuffixes { try? manager.removeItem(atPath: base + suffix) } }
        do {
            removeFiles(partial)
            removeDeadPartials(of: target)
            try store.backup(to: partial)
            let commit = try SQLiteStore.open(path: partial).headCommit()
            // The replaced store's companions go too: a commit log left by a killed process would be
            // replayed into the copy.
            for suffix in StoreFiles.companionSuffixes { try? manager.removeItem(atPath: target.path + suffix) }
            guard rename(partial, target.path) == 0 else {
                throw RuntimeError.image("cannot move the backup into \(destination): \(String(cString: strerror(errno)))")
            }
            return commit
        } catch {
            removeFiles(partial)
            if error is RuntimeError { throw error }
            throw RuntimeError.image("cannot back up \(path) to \(destination): \(error)")
        }
    }

    /// A million years: a longer window would overflow the store's clock.
    public static let longestRetentionDays = 365_000_000

    /// Removes what backups to `target` by processes that died left (`NAME.partial-PID` and its companions).
    private func removeDeadPartials(of target: URL) {
        let directory = target.deletingLastPathComponent().path, prefix = target.lastPathComponent + ".partial-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(prefix) {
            let pidText = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    /// What `collectGarbage` reclaimed, and the file's size (with its WAL) before and after.
    public struct Reclaimed: Sendable {
        public let vacuum: VacuumReport
        public let bytesBefore: Int
        public let bytesAfter: Int
    }

    /// Deletes object versions older than `days` days that no later commit or named checkpoint needs,
    /// and every object no kept snapshot reaches. A session opened on a snapshot older than that
    /// (`lo eval --as-of`, a long-running REPL) may then find objects gone.
    public func collectGarbage(keepingDays days: Int) throws -> Reclaimed {
        guard (0...Self.longestRetentionDays).contains(days) else {
            throw RuntimeError.image("a retention window of \(days) days is out of range (0 to \(Self.longestRetentionDays))")
        }
        let before = fileSize()
        let report = try store.vacuum(retain: .seconds(days * 86_400))
        return Reclaimed(vacuum: report, bytesBefore: before, bytesAfter: fileSize())
    }

    private func fileSize() -> Int {
        ["", "-wal"].reduce(0) { total, suffix in
            total + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
        }
    }

    /// What `check` found: one line per problem (empty when healthy), the head and the objects reachable there.
    public struct CheckReport: Sendable {
        public let problems: [String]
        public let head: CommitID
        public let objectCount: Int
    }

    /// Examines the store (SQLite's integrity check, references, roots, commits, chunked bytes) and the
    /// object space at the head (every object reachable, each one allocatable, compiled code fit to run).
    /// Runs no Smalltalk.
    public func check() throws -> CheckReport {
        var problems: [String]
        do { problems = try store.check().map(\.description) } catch { problems = ["store: \(error)"] }
        let head = try store.headCommit()
        var objectCount = 0
        do {
            let graph = try ImageGraph(store: store, asOf: head)
            objectCount = graph.reachable.count
            problems += graph.damagedCode()
        } catch {
            problems.append("image: \(error)")
        }
        return CheckReport(problems: problems, head: head, objectCount: objectCount)
    }
}
