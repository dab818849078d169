// The store's file: its SQL schema, the pragmas every connection sets, and recognising our files.

import CSQLite
import Foundation

enum Schema {
    /// `PRAGMA application_id`: "LOdb".
    static let applicationID: Int32 = 0x4C4F_6462
    /// `PRAGMA user_version`: the schema version this code writes and reads. Older files are upgraded
    /// when opened (`upgrade`): version 1 kept one `record` column per version, no size in it;
    /// version 2 had no `shapes` table and no records with a shape; version 3 no `instances` table.
    static let version: Int32 = 4

    // Object versions are keyed (oid, commit_id) in one B-tree (WITHOUT ROWID): the newest version
    // as of a snapshot is one seek, and a cluster of consecutive OIDs is one range scan. The small
    // `header` column comes before the contents; contents longer than a few hundred bytes are kept
    // in `long_contents` and the row holds their id (LongContents.swift), so rows stay short.
    // A commit keeps its changed OIDs as a delta-encoded list (`changed`), for conflict checks,
    // `changedOIDs` and rollback without an index on objects.commit_id.
    static let tables = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE commits(id INTEGER PRIMARY KEY, time REAL NOT NULL, author TEXT NOT NULL,
            message TEXT NOT NULL, object_count INTEGER NOT NULL, changed BLOB NOT NULL);
        CREATE TABLE objects(oid INTEGER NOT NULL, commit_id INTEGER NOT NULL, header BLOB NOT NULL,
            contents NOT NULL, PRIMARY KEY (oid, commit_id)) WITHOUT ROWID;
        CREATE TABLE long_contents(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE roots(name TEXT NOT NULL, commit_id INTEGER NOT NULL, oid INTEGER,
            PRIMARY KEY (name, commit_id)) WITHOUT ROWID;
        CREATE INDEX roots_by_commit ON roots(commit_id);
        CREATE TABLE checkpoints(name TEXT PRIMARY KEY, commit_id INTEGER NOT NULL, time REAL NOT NULL);
        CREATE TABLE methods(id INTEGER PRIMARY KEY, class_name TEXT NOT NULL, selector TEXT NOT NULL,
            class_oid INTEGER, category TEXT, source TEXT NOT NULL, commit_id INTEGER NOT NULL);
        CREATE INDEX methods_by_name ON methods(class_name, selector, commit_id);
        CREATE TABLE large_bytes(id INTEGER PRIMARY KEY, byte_count INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL, staged REAL NOT NULL);
        CREATE TABLE chunks(large_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (large_id, seq));
        \(shapesTable)
        \(instancesTable)
        """

    /// Class shapes (ClassShapes.swift): one row per class OID and class index, never changed; `id`
    /// keeps the order they were recorded in.
    static let shapesTable = """
        CREATE TABLE shapes(id INTEGER PRIMARY KEY, class_oid INTEGER NOT NULL, class_index INTEGER NOT NULL,
            format INTEGER NOT NULL, names BLOB NOT NULL, commit_id INTEGER NOT NULL, UNIQUE (class_oid, class_index));
        """

    /// The classes objects were written with (ClassInstances.swift): for every class any version of an
    /// object had, its OID, as a bitmap per block of 64 OIDs; the instances of a class are found without a scan.
    static let instancesTable = """
        CREATE TABLE instances(class_oid INTEGER NOT NULL, block INTEGER NOT NULL, bits INTEGER NOT NULL,
            PRIMARY KEY (class_oid, block)) WITHOUT ROWID;
        """

    static func configure(_ connection: Connection, readOnly: Bool) throws(StoreError) {
        try connection.execute("""
            PRAGMA synchronous = FULL;
            PRAGMA cache_size = -16384;
            PRAGMA temp_store = MEMORY;
            PRAGMA query_only = \(readOnly ? 1 : 0);
            """)
    }

    /// Makes an empty database file a store. Safe if another process does it at the same time.
    static func initialize(_ connection: Connection) throws {
        try connection.execute("PRAGMA page_size = 4096; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL")
        try connection.transaction(immediate: true) {
            let tableCount = try connection.integer("SELECT count(*) FROM sqlite_master") ?? 0
            if tableCount > 0 { return }
            try connection.execute(tables)
            try connection.execute("""
                INSERT INTO meta VALUES ('next_oid', 1);
                INSERT INTO commits VALUES (1, \(Date().timeIntervalSince1970), 'store', 'Store created', 0, x'');
                PRAGMA application_id = \(applicationID);
                PRAGMA user_version = \(version);
                """)
        }
        // Put the header (our application id) into the main file, where `inspect` reads it.
        try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Brings a store of an older schema version to this one, in one write transaction (safe if another
    /// process does it at the same time). Version 1 kept each object version as one `record` blob
    /// without its size: every version is re-encoded into header and contents. Version 2 lacks the
    /// `shapes` table (its records have no shape: they keep the shape their class had then). Version 3
    /// lacks the `instances` index, filled from every version.
    static func upgrade(_ connection: Connection) throws {
        try connection.transaction(immediate: true) {
            let found = Int32(truncatingIfNeeded: try connection.integer("PRAGMA user_version") ?? 0)
            guard found < version else { return }
            guard found >= 1 else { throw StoreError.unsupportedVersion(path: connection.path, version: found) }
            if found == 1 { try upgradeRecords(connection) }
            if found <= 2 { try connection.execute(shapesTable) }
            try connection.execute(instancesTable)
            try SQLiteStore.indexInstances(connection)
            try connection.execute("PRAGMA user_version = \(version)")
        }
    }

    /// Format 1 → 2: every version re-encoded into header and contents (in the caller's transaction).
    private static func upgradeRecords(_ connection: Connection) throws {
        try connection.execute("""
            CREATE TABLE objects_v2(oid INTEGER NOT NULL, commit_id INTEGER NOT NULL, header BLOB NOT NULL,
                contents NOT NULL, PRIMARY KEY (oid, commit_id)) WITHOUT ROWID;
            CREATE TABLE long_contents(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
            """)
        let scan = try connection.statement("SELECT oid, commit_id, record FROM objects ORDER BY oid, commit_id")
        let insert = try connection.statement("INSERT INTO objects_v2 VALUES (?, ?, ?, ?)")
        while try scan.step() {
            let oid = scan.uint64(0)
            guard let object = RecordCoding.decodeVersion1(oid: oid, scan.blob(2)) else {
                throw StoreError.corrupt(path: connection.path,
                                         detail: "the record of object \(oid) at commit \(scan.int64(1)) cannot be decoded")
            }
            insert.bind(1, oid)
            insert.bind(2, scan.int64(1))
            try SQLiteStore.run(insert, binding: EncodedRecord(object), at: 3, connection)
        }
        scan.reset()
        try connection.execute("""
            DROP TABLE objects;
            ALTER TABLE objects_v2 RENAME TO objects;
            """)
    }

    /// Rejects, from its header bytes alone, a file that is not an SQLite database or is truncated, or
    /// (when no WAL holds newer pages) one whose application id or version is not ours. Nothing is
    /// written; `verify` then asks SQLite itself.
    ///
    /// The bytes are read through SQLite, never with a descriptor of our own: closing any descriptor of
    /// a file drops every POSIX lock the process holds on it, including those of a store this process
    /// already has open on it. Another process would then take that store's file for unused, and could
    /// checkpoint and delete the WAL under it. SQLite keeps the descriptor open while locks are held.
    static func inspect(path: String) throws(StoreError) {
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
              sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
              let file, let methods = file.pointee.pMethods else { throw .fileNotFound(path: path) }
        var fileSize: sqlite3_int64 = 0
        guard methods.pointee.xFileSize(file, &fileSize) == SQLITE_OK else { throw .fileNotFound(path: path) }
        let size = Int(fileSize)
        var bytes = [UInt8](repeating: 0, count: 100)
        let rc = bytes.withUnsafeMutableBytes { methods.pointee.xRead(file, $0.baseAddress, 100, 0) }
        guard rc == SQLITE_OK || rc == SQLITE_IOERR | 2 << 8 else {  // SQLITE_IOERR_SHORT_READ: zero-filled
            throw .ioError(path: path, detail: "cannot read the header (SQLite code \(rc))")
        }
        let header = bytes.prefix(min(100, size))
        let magic = Array("SQLite format 3\0".utf8)
        if size == 0 { return }
        guard header.count == 100, Array(header[0..<16]) == magic else {
            if header.count < 100, header.prefix(16).elementsEqual(magic.prefix(header.count)) {
                throw .corrupt(path: path, detail: "truncated: \(size) bytes, shorter than an SQLite header")
            }
            throw .notAStore(path: path, reason: "not an SQLite database")
        }
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        guard walSize == 0 else { return }  // the header may be older than the pages in the WAL
        func bigEndian(_ offset: Int, _ count: Int) -> UInt32 {
            header[offset..<offset + count].reduce(0) { $0 << 8 | UInt32($1) }
        }
        try check(applicationID: Int32(bitPattern: bigEndian(68, 4)), version: Int32(bitPattern: bigEndian(60, 4)),
                  hasTables: bigEndian(40, 4) != 0, path: path)
        // The page count in the header is valid when the change counter matches "version valid for".
        var pageSize = Int(bigEndian(16, 2))
        if pageSize == 1 { pageSize = 65536 }
        let pageCount = Int(bigEndian(28, 4))
        if bigEndian(24, 4) == bigEndian(92, 4), pageSize > 0, size < pageCount * pageSize || size % pageSize != 0 {
            throw .corrupt(path: path, detail: "truncated: \(size) bytes, the header says \(pageCount * pageSize)")
        }
    }

    /// Whether an opened database is a store (true), empty (false), or neither (throws); and whether
    /// it is a store of an older version that `upgrade` must bring up to date first.
    static func verify(_ connection: Connection) throws(StoreError) -> (isStore: Bool, needsUpgrade: Bool) {
        let applicationID = Int32(truncatingIfNeeded: try connection.integer("PRAGMA application_id") ?? 0)
        let version = Int32(truncatingIfNeeded: try connection.integer("PRAGMA user_version") ?? 0)
        let hasTables = (try connection.integer("SELECT count(*) FROM sqlite_master") ?? 0) > 0
        try check(applicationID: applicationID, version: version, hasTables: hasTables, path: connection.path)
        let isStore = applicationID == Schema.applicationID
        return (isStore, isStore && version < Schema.version)
    }

    private static func check(applicationID: Int32, version: Int32, hasTables: Bool, path: String) throws(StoreError) {
        if applicationID == 0, version == 0, !hasTables { return }
        guard applicationID == Schema.applicationID else {
            let reason = applicationID == 0 ? "an SQLite database of another application"
                : String(format: "an SQLite database of another application (application_id 0x%08x)", applicationID)
            throw .notAStore(path: path, reason: reason)
        }
        guard version <= Schema.version else { throw .unsupportedVersion(path: path, version: version) }
    }
}
