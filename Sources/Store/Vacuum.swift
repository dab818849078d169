// Reclaiming space: versions nobody can see any more, objects nothing can reach, orphaned large bytes,
// class shapes no kept version needs; the instances index is made again from the kept versions.

import Foundation

public struct VacuumReport: Equatable, Sendable {
    /// Object versions deleted (superseded ones and every version of unreachable objects).
    public let versionsRemoved: Int
    /// Objects deleted altogether because no kept snapshot can reach them.
    public let objectsRemoved: Int
    public let largeBytesRemoved: Int
    /// Class shapes no kept record needs any more.
    public var shapesRemoved = 0
}

extension SQLiteStore {
    /// Keeps every snapshot from the oldest commit younger than `window` (call it W) to the head, and
    /// the snapshots of named checkpoints; drops every other version, then every object unreachable in
    /// all of those snapshots. Marking starts from the roots at W, at each checkpoint and every root set
    /// since W, and goes through the references of every kept version — a superset of what any kept
    /// snapshot reaches.
    ///
    /// A session whose snapshot is older than W, or that holds references to objects it got from such a
    /// snapshot, may find them gone: keep the window longer than the oldest session. Such a session
    /// cannot commit a reference to an object gone (GCGeneration.swift). Runs as one write
    /// transaction, so commits wait meanwhile.
    @discardableResult
    public func vacuum(retain window: Duration) throws -> VacuumReport {
        try collecting { try vacuumInSQLite(retain: window) }
    }

    private func vacuumInSQLite(retain window: Duration) throws -> VacuumReport {
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        let cutoff = Date().timeIntervalSince1970 - seconds
        let report = try writer.withLock { connection in
            try connection.transaction(immediate: true) {
                try Self.countCollection(connection)
                let head = try Self.head(connection)
                let oldestKept = try oldestCommit(since: cutoff, connection) ?? head
                try Self.raiseHorizon(to: oldestKept, connection)
                var keepPoints = try checkpoints(connection).filter { $0 < oldestKept }
                keepPoints.append(oldestKept)
                let versionsRemoved = try pruneVersions(keptAt: keepPoints, connection)
                var shapeUse = try ShapeUse(connection)
                var instances = InstanceBlocks()
                let (live, largeBytes) = try markLive(keepPoints: keepPoints, since: oldestKept, noting: &shapeUse,
                                                      instances: &instances, connection)
                let (objectsRemoved, unreachableVersions) = try sweep(keeping: live, connection)
                let largeBytesRemoved = try dropLargeBytes(keeping: largeBytes, stagedBefore: cutoff, connection)
                try Self.dropUnusedLongContents(connection)
                try Self.rebuildInstances(instances, connection)
                let shapesRemoved = try shapeUse.dropUnused(connection)
                return VacuumReport(versionsRemoved: versionsRemoved + unreachableVersions,
                                    objectsRemoved: objectsRemoved, largeBytesRemoved: largeBytesRemoved,
                                    shapesRemoved: shapesRemoved)
            }
        }
        try writer.withLock { try $0.execute("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE)") }
        return report
    }

    private func oldestCommit(since time: Double, _ connection: Connection) throws -> CommitID? {
        let query = try connection.statement("SELECT min(id) FROM commits WHERE time >= ?")
        query.bind(1, time)
        guard try query.step(), !query.isNull(0) else { return nil }
        return CommitID(query.int64(0))
    }

    private func checkpoints(_ connection: Connection) throws -> [CommitID] {
        let query = try connection.statement("SELECT DISTINCT commit_id FROM checkpoints ORDER BY commit_id")
        var commits: [CommitID] = []
        while try query.step() { commits.append(CommitID(query.int64(0))) }
        return commits
    }

    /// Deletes the versions (and root bindings) older than the last keep point that no keep point sees.
    private func pruneVersions(keptAt keepPoints: [CommitID], _ connection: Connection) throws -> Int {
        let objects = try unseenVersions(table: "objects", key: "oid", keptAt: keepPoints, connection) { $0.int64(0) }
        let delete = try connection.statement("DELETE FROM objects WHERE oid = ? AND commit_id = ?")
        for (oid, commit) in objects {
            delete.reset()
            delete.bind(1, oid)
            delete.bind(2, commit)
            try delete.run()
        }
        let roots = try unseenVersions(table: "roots", key: "name", keptAt: keepPoints, connection) { $0.string(0) }
        let deleteRoot = try connection.statement("DELETE FROM roots WHERE name = ? AND commit_id = ?")
        for (name, commit) in roots {
            deleteRoot.reset()
            deleteRoot.bind(1, name)
            deleteRoot.bind(2, commit)
            try deleteRoot.run()
        }
        return objects.count
    }

    /// The (key, commit) rows of a versioned table that are neither at nor the newest before some keep point.
    private func unseenVersions<Key: Equatable>(table: String, key: String, keptAt keepPoints: [CommitID],
                                                _ connection: Connection,
                                                keyOf: (Statement) -> Key) throws -> [(Key, Int64)] {
        let scan = try connection.statement(
            "SELECT \(key), commit_id FROM \(table) WHERE commit_id <= ? ORDER BY \(key), commit_id")
        scan.bind(1, keepPoints.last!.rawValue)
        var unseen: [(Key, Int64)] = []
        var groupKey: Key?, group: [Int64] = []
        func finishGroup() {
            guard let groupKey else { return }
            let seen = Set(keepPoints.compactMap { point in group.last { $0 <= point.rawValue } })
            for commit in group where !seen.contains(commit) { unseen.append((groupKey, commit)) }
        }
        while try scan.step() {
            let rowKey = keyOf(scan)
            if rowKey != groupKey {
                finishGroup()
                groupKey = rowKey
                group.removeAll(keepingCapacity: true)
            }
            group.append(scan.int64(1))
        }
        finishGroup()
        return unseen
    }

    /// The OIDs reachable from the kept roots through the kept versions, and the large bytes they use.
    /// Notes in `shapes` the class shapes the kept versions need, and in `instances` their classes.
    private func markLive(keepPoints: [CommitID], since oldestKept: CommitID, noting shapes: inout ShapeUse,
                          instances: inout InstanceBlocks, _ connection: Connection) throws -> (Set<UInt64>, Set<Int64>) {
        var pending: [UInt64] = []
        for point in keepPoints { pending += try Self.roots(connection, asOf: point).values }
        let laterRoots = try connection.statement("SELECT oid FROM roots WHERE commit_id > ? AND oid IS NOT NULL")
        laterRoots.bind(1, oldestKept.rawValue)
        while try laterRoots.step() { pending.append(laterRoots.uint64(0)) }

        var live = Set<UInt64>(), largeBytes = Set<Int64>()
        let versions = try connection.statement("SELECT commit_id, header, contents FROM objects WHERE oid = ?")
        while let oid = pending.popLast() {
            guard live.insert(oid).inserted else { continue }
            versions.reset()
            versions.bind(1, oid)
            while try versions.step() {
                let object = try Self.withContents(versions, column: 2, connection) {
                    try decode(oid: oid, commit: CommitID(versions.int64(0)), header: versions.blob(1), contents: $0)
                }
                for referenced in object.referencedOIDs where !live.contains(referenced) { pending.append(referenced) }
                if case let .largeBytes(large) = object.contents { largeBytes.insert(large.id) }
                shapes.note(object)
                instances.add(classOID: object.classOID, oid: oid)
            }
        }
        return (live, largeBytes)
    }

    /// Deletes every version of every object not in `live`; returns (objects, versions) removed.
    private func sweep(keeping live: Set<UInt64>, _ connection: Connection) throws -> (Int, Int) {
        let scan = try connection.statement("SELECT DISTINCT oid FROM objects")
        var dead: [UInt64] = []
        while try scan.step() {
            let oid = scan.uint64(0)
            if !live.contains(oid) { dead.append(oid) }
        }
        let delete = try connection.statement("DELETE FROM objects WHERE oid = ?")
        var versions = 0
        for oid in dead {
            delete.reset()
            delete.bind(1, oid)
            try delete.run()
            versions += connection.changes
        }
        return (dead.count, versions)
    }

    private func dropLargeBytes(keeping used: Set<Int64>, stagedBefore cutoff: Double, _ connection: Connection) throws -> Int {
        let scan = try connection.statement("SELECT id FROM large_bytes WHERE staged < ?")
        scan.bind(1, cutoff)
        var dead: [Int64] = []
        while try scan.step() {
            if !used.contains(scan.int64(0)) { dead.append(scan.int64(0)) }
        }
        for id in dead { try Self.deleteLargeBytes(id, connection) }
        return dead.count
    }
}
