// check(): the store's self-examination — SQLite's integrity check, references and roots at the head,
// commits against the versions they tagged, chunked bytes complete, records against their class shapes
// and the instances index. Findings are returned, not thrown.

extension SQLiteStore {
    /// Examines the whole store in one read snapshot; an empty result means healthy. Damaged pages
    /// are findings (the examination stops at the first one SQLite cannot read past).
    /// Throws only if the store cannot be read at all.
    public func check() throws -> [Problem] {
        try drainLog()
        return try withReader { connection in
            var findings = Findings()
            let integrity = try connection.statement("PRAGMA integrity_check")
            while try integrity.step() {
                if integrity.string(0) != "ok" { findings.add(.integrity, integrity.string(0)) }
            }
            do {
                let commits = try commitSizes(connection, &findings)
                let head = try Self.head(connection)
                let existing = try checkObjects(head: head, commits: commits, connection, &findings)
                for (name, oid) in try Self.roots(connection, asOf: head) where !existing.contains(oid) {
                    findings.add(.danglingRoot, "root \(name) refers to missing object \(oid)")
                }
                try checkHistoryTables(commits: commits, connection, &findings)
                try checkLargeBytes(connection, &findings)
                try checkOIDCounter(connection, &findings)
            } catch let StoreError.corrupt(_, detail) {
                findings.add(.integrity, "reading stopped at a damaged page: \(detail)")
            }
            return findings.problems
        }
    }

    /// The next OID to hand out lies above every stored object's.
    private func checkOIDCounter(_ connection: Connection, _ findings: inout Findings) throws {
        let next = try connection.integer("SELECT value FROM meta WHERE key = 'next_oid'")
        let highest = try connection.integer("SELECT max(oid) FROM objects") ?? 0
        guard let next, next > highest, UInt64(next) < StoredObject.maximumOID else {
            return findings.add(.oidCounter, "the next OID is \(next.map(String.init) ?? "missing"), the highest stored \(highest)")
        }
    }

    /// Each commit's declared object count, after checking it against its changed-OID list.
    private func commitSizes(_ connection: Connection, _ findings: inout Findings) throws -> [Int64: Int] {
        let query = try connection.statement("SELECT id, object_count, changed FROM commits")
        var sizes: [Int64: Int] = [:]
        var oids: [UInt64] = []
        while try query.step() {
            let id = query.int64(0), count = Int(query.int64(1))
            sizes[id] = count
            oids.removeAll(keepingCapacity: true)
            if !OIDList.decode(query.blob(2), into: &oids) || oids.count != count || oids != oids.sorted() {
                findings.add(.commitMismatch, "commit \(id) declares \(count) objects but its changed list does not match")
            }
        }
        return sizes
    }

    /// Scans every version: each must belong to a known commit, decode, fit the shape it names and be
    /// in the instances index under its class; the newest version of each
    /// object (the head) must refer only to existing objects. Returns the OIDs existing at the head.
    private func checkObjects(head: CommitID, commits: [Int64: Int], _ connection: Connection,
                              _ findings: inout Findings) throws -> Set<UInt64> {
        let scan = try connection.statement("SELECT oid, commit_id, header, contents FROM objects ORDER BY oid, commit_id")
        let shapes = try ShapeTable(connection, &findings)
        let indexed = try connection.statement(Self.notedInstanceQuery)
        var existing = Set<UInt64>()
        var references: [(from: UInt64, to: UInt64)] = []
        var versionsPerCommit: [Int64: Int] = [:]
        var current: StoredObject?
        func finishObject() {
            guard let current else { return }
            for oid in current.referencedOIDs { references.append((current.oid, oid)) }
        }
        while try scan.step() {
            let oid = scan.uint64(0), commit = scan.int64(1)
            versionsPerCommit[commit, default: 0] += 1
            if commits[commit] == nil || commit > head.rawValue {
                findings.add(.commitMismatch, "object \(oid) has a version tagged with unknown commit \(commit)")
            }
            if current?.oid != oid {
                finishObject()
                current = nil
                existing.insert(oid)
            }
            guard let object = try? Self.withContents(scan, column: 3, connection, {
                RecordCoding.decode(oid: oid, header: scan.blob(2), contents: $0)
            }) else {
                findings.add(.integrity, "the record of object \(oid) at commit \(commit) cannot be decoded (or its header disagrees with it)")
                continue
            }
            current = object
            shapes.check(object, commit: commit, &findings)
            if try !Self.isNotedInstance(oid, of: object.classOID, indexed) {
                findings.add(.instanceIndex, "object \(oid) at commit \(commit) is not in the instances of its class \(object.classOID)")
            }
        }
        indexed.reset()
        finishObject()
        for (commit, count) in versionsPerCommit where count > commits[commit] ?? 0 {
            findings.add(.commitMismatch, "commit \(commit) tagged \(count) versions but declares \(commits[commit] ?? 0)")
        }
        for reference in references where !existing.contains(reference.to) {
            findings.add(.danglingReference, "object \(reference.from) refers to missing object \(reference.to)")
        }
        return existing
    }

    private func checkHistoryTables(commits: [Int64: Int], _ connection: Connection, _ findings: inout Findings) throws {
        for (table, what) in [("roots", "a root binding"), ("methods", "a method version"), ("checkpoints", "a checkpoint")] {
            let query = try connection.statement("SELECT DISTINCT commit_id FROM \(table)")
            while try query.step() {
                if commits[query.int64(0)] == nil {
                    findings.add(.commitMismatch, "\(what) refers to unknown commit \(query.int64(0))")
                }
            }
        }
    }

    private func checkLargeBytes(_ connection: Connection, _ findings: inout Findings) throws {
        let query = try connection.statement("""
            SELECT l.id, l.byte_count, l.chunk_count, count(c.seq), coalesce(sum(length(c.data)), 0), min(c.seq), max(c.seq)
            FROM large_bytes l LEFT JOIN chunks c ON c.large_id = l.id WHERE l.chunk_count >= 0 GROUP BY l.id
            """)
        while try query.step() {
            let id = query.int64(0), bytes = query.int64(1), chunks = query.int64(2)
            let found = query.int64(3), foundBytes = query.int64(4)
            let contiguous = found == 0 || (query.int64(5) == 0 && query.int64(6) == found - 1)
            if found != chunks || foundBytes != bytes || !contiguous {
                findings.add(.incompleteLargeBytes,
                             "large bytes \(id): \(found) of \(chunks) chunks, \(foundBytes) of \(bytes) bytes")
            }
        }
        let orphans = try connection.statement(
            "SELECT DISTINCT large_id FROM chunks WHERE large_id NOT IN (SELECT id FROM large_bytes)")
        while try orphans.step() {
            findings.add(.incompleteLargeBytes, "chunks of unknown large bytes \(orphans.int64(0))")
        }
        // Headers of large bytes start with a byte 0x40…0x5f, or 0xc0…0xdf with an identity hash (kind 2, see RecordCoding).
        let records = try connection.statement("""
            SELECT oid, header, contents FROM objects
            WHERE (header >= x'40' AND header < x'60') OR (header >= x'c0' AND header < x'e0')
            """)
        let large = try connection.statement("SELECT byte_count, chunk_count FROM large_bytes WHERE id = ?")
        while try records.step() {
            guard let object = RecordCoding.decode(oid: records.uint64(0), header: records.blob(1), contents: records.blob(2)),
                  case let .largeBytes(bytes) = object.contents else { continue }
            large.reset()
            large.bind(1, bytes.id)
            if try !large.step() || large.int64(1) < 0 || large.int64(0) != Int64(bytes.count) {
                findings.add(.incompleteLargeBytes, "object \(object.oid) refers to missing or incomplete large bytes \(bytes.id)")
            }
        }
    }
}

/// Problems gathered by check(), at most a hundred of each kind (then a count of the rest).
struct Findings {
    private(set) var problems: [Problem] = []
    private var counts: [Problem.Kind: Int] = [:]
    private static let limit = 100

    mutating func add(_ kind: Problem.Kind, _ detail: String) {
        counts[kind, default: 0] += 1
        let count = counts[kind]!
        if count <= Self.limit {
            problems.append(Problem(kind: kind, detail: detail))
        } else if count == Self.limit + 1 {
            problems.append(Problem(kind: kind, detail: "more problems of this kind not listed"))
        }
    }
}
