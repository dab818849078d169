// A thin wrapper over one sqlite3 connection and its prepared statements; errors become StoreError.

import CSQLite
import Glibc

/// One SQLite connection. Not thread-safe: a connection is used by one thread at a time (the store's
/// pools hand it out under a lock), which is why it may cross threads (`@unchecked Sendable`).
final class Connection: @unchecked Sendable {
    let path: String
    private let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    private var frequent = [Statement?](repeating: nil, count: FrequentSQL.count)
    /// The cached statements handed out since the last `resetStatements`.
    private var used: [Statement] = []
    /// For the writer (`synchronous = NORMAL`): syncs the WAL after each transaction (WALSync.swift).
    var walSync: WALSync?
    /// For the writer: what its own commits left (CommitCache.swift).
    var commitCache = CommitCache()
    /// For the writer: its read transaction kept open from one commit to the next (HeldSnapshot.swift).
    var heldSnapshot = HeldSnapshot()
    /// For the writer: when its checkpoints wait for the WAL to start again (WALRestart.swift).
    var walRestart = WALRestart()
    /// How many times the busy handler slept, waiting for another connection's lock.
    fileprivate(set) var busyWaits = 0

    init(path: String, flags: Int32) throws(StoreError) {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, WALWriteVFS.name)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw StoreError.sqlite(path: path, code: rc, message: message)
        }
        self.path = path
        self.handle = db
        sqlite3_extended_result_codes(db, 1)
        installBusyHandler()
    }

    /// SQLite's busy handler: `waitWhileBusy`.
    func installBusyHandler() {
        sqlite3_busy_handler(handle, waitWhileBusy, Unmanaged.passUnretained(self).toOpaque())
    }

    private var closed = false

    deinit { close() }

    /// Closes the connection now (the last of a database's closes checkpoints its WAL into the file
    /// and removes it); nothing may use it after.
    func close() {
        guard !closed else { return }
        closed = true
        releaseSnapshot()
        heldSnapshot = HeldSnapshot()
        statements.removeAll()
        frequent.removeAll()
        used.removeAll()
        sqlite3_close_v2(handle)
    }

    var raw: OpaquePointer { handle }

    func execute(_ sql: String) throws(StoreError) {
        releaseSnapshot()
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw error(rc, text)
        }
    }

    /// A cached prepared statement, reset and ready to bind.
    func statement(_ sql: String) throws(StoreError) -> Statement {
        if let cached = statements[sql] { return handOut(cached) }
        let statement = try prepare(sql)
        statements[sql] = statement
        return handOut(statement)
    }

    /// One of the statements every commit runs, reset and ready to bind.
    func statement(_ sql: FrequentSQL) throws(StoreError) -> Statement {
        handOut(try prepared(sql))
    }

    private func prepared(_ sql: FrequentSQL) throws(StoreError) -> Statement {
        if let cached = frequent[sql.number] { return cached }
        let statement = try prepare(sql.text)
        frequent[sql.number] = statement
        return statement
    }

    /// A statement of the caller's own, not cached and not reset by `resetStatements`.
    func unlistedStatement(_ sql: String) throws(StoreError) -> Statement { try prepare(sql) }

    private func prepare(_ sql: String) throws(StoreError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, String(cString: sqlite3_errmsg(handle))) }
        return Statement(stmt, connection: self)
    }

    /// Lists the statement for `resetStatements`, reset first if it was used.
    private func handOut(_ statement: Statement) -> Statement {
        statement.reset()
        if !statement.listed {
            statement.listed = true
            used.append(statement)
        }
        return statement
    }

    /// Runs a cached statement that returns no rows and takes no arguments (BEGIN, COMMIT…).
    func run(_ sql: String) throws(StoreError) {
        let statement = try statement(sql)
        try statement.run()
        statement.reset()
    }

    /// Runs BEGIN, COMMIT or ROLLBACK (reset at once: not listed for `resetStatements`).
    func run(_ sql: FrequentSQL) throws(StoreError) {
        let statement = try prepared(sql)
        statement.reset()
        defer { statement.reset() }
        try statement.run()
    }

    /// The first column of the first row as an integer (nil for no row or NULL).
    func integer(_ sql: String, _ arguments: Int64...) throws(StoreError) -> Int64? {
        let stmt = try statement(sql)
        for (index, argument) in arguments.enumerated() { stmt.bind(index + 1, argument) }
        defer { stmt.reset() }  // an unfinished statement would keep a read transaction open
        guard try stmt.step(), !stmt.isNull(0) else { return nil }
        return stmt.int64(0)
    }

    /// The first column of the first row of a frequent query without arguments, as an integer.
    func integer(_ sql: FrequentSQL) throws(StoreError) -> Int64? {
        let stmt = try statement(sql)
        defer { stmt.reset() }
        guard try stmt.step(), !stmt.isNull(0) else { return nil }
        return stmt.int64(0)
    }

    /// Resets every cached statement used since the last time, so none holds a read cursor open.
    func resetStatements() {
        for statement in used {
            statement.reset()
            statement.listed = false
        }
        used.removeAll(keepingCapacity: true)
    }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Rolls back whatever transaction is open; used on error paths, so it never throws.
    func rollbackQuietly() {
        releaseSnapshot()
        resetStatements()
        if isInTransaction { try? run(.rollback) }
    }

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE` takes the write lock at once). After the
    /// COMMIT, the WAL is synced before returning, unless `deferringSync` (then the caller syncs it).
    /// With `holdingSnapshot` (the writer's commits), the read transaction stays open after the COMMIT,
    /// for the next such transaction (HeldSnapshot.swift); any other transaction lets it go first.
    func transaction<T>(immediate: Bool, deferringSync: Bool = false, holdingSnapshot: Bool = false,
                        _ body: () throws -> T) throws -> T {
        if !holdingSnapshot { releaseSnapshot() }
        if immediate { try beginImmediate() } else { try run(.begin) }
        do {
            let result = try body()
            resetStatements()
            if holdingSnapshot { try holdSnapshot() }
            try run(.commit)
            if holdingSnapshot { checkpointIfDue() }
            if !deferringSync { try walSync?.sync() }
            return result
        } catch {
            rollbackQuietly()
            throw error
        }
    }

    func error(_ rc: Int32, _ message: String) -> StoreError {
        StoreError(sqliteCode: rc, message: message, path: path)
    }
}

/// A prepared statement. Bind with 1-based indexes, read columns with 0-based ones.
final class Statement {
    private let stmt: OpaquePointer
    private unowned let connection: Connection
    /// In the connection's list of statements to reset.
    fileprivate var listed = false
    /// Stepped or bound since the last reset. (Resetting a statement that was not used, and clearing
    /// bindings of the 128 parameters of a 32-row insert, cost more than the statements of a commit.)
    private var needsReset = false

    init(_ stmt: OpaquePointer, connection: Connection) {
        self.stmt = stmt
        self.connection = connection
    }

    deinit { sqlite3_finalize(stmt) }

    /// Rewinds the statement and clears its bindings (so that no bound buffer is referred to any more).
    func reset() {
        guard needsReset else { return }
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        needsReset = false
    }

    func bind(_ index: Int, _ value: Int64) {
        needsReset = true
        sqlite3_bind_int64(stmt, Int32(index), value)
    }

    func bind(_ index: Int, _ value: UInt64) { bind(index, Int64(bitPattern: value)) }

    func bind(_ index: Int, _ value: Double) {
        needsReset = true
        sqlite3_bind_double(stmt, Int32(index), value)
    }

    func bindNull(_ index: Int) {
        needsReset = true
        sqlite3_bind_null(stmt, Int32(index))
    }

    /// Binds every byte of `value`, NUL characters too (a message or a method's source may hold them).
    func bind(_ index: Int, _ value: String) {
        needsReset = true
        var value = value
        value.withUTF8 { _ = sqlite3_bind_text(stmt, Int32(index), Self.start($0), Int32($0.count), sqliteTransient) }
    }

    func bind(_ index: Int, _ value: String?) {
        if let value { bind(index, value) } else { bindNull(index) }
    }

    func bind(_ index: Int, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { bind(index, $0) }
    }

    /// Binds bytes that SQLite does not copy: the buffer must stay valid until the statement has run
    /// and its bindings are cleared (`reset`).
    func bindWithoutCopy(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        needsReset = true
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(stmt, Int32(index), 0)
        } else {
            sqlite3_bind_blob(stmt, Int32(index), bytes.baseAddress, Int32(bytes.count), nil)
        }
    }

    /// Binds a NUL-terminated text that SQLite does not copy (as `bindWithoutCopy(_:_:)`).
    func bindWithoutCopy(_ index: Int, text: UnsafeBufferPointer<UInt8>) {
        needsReset = true
        sqlite3_bind_text(stmt, Int32(index), Self.start(text), Int32(text.count), nil)
    }

    /// Where SQLite reads a text's bytes (a null pointer would bind NULL, not the empty string).
    private static func start(_ text: UnsafeBufferPointer<UInt8>) -> UnsafePointer<CChar> {
        UnsafeRawPointer(text.baseAddress ?? emptyText.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// Binds bytes that SQLite copies (the buffer need not outlive the call).
    func bind(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        needsReset = true
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(stmt, Int32(index), 0)
        } else {
            sqlite3_bind_blob(stmt, Int32(index), bytes.baseAddress, Int32(bytes.count), sqliteTransient)
        }
    }

    /// Advances; true while there is a row.
    @discardableResult
    func step() throws(StoreError) -> Bool {
        needsReset = true
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let message = String(cString: sqlite3_errmsg(connection.raw))
        sqlite3_reset(stmt)
        throw connection.error(rc, message)
    }

    /// Runs a statement that returns no rows.
    func run() throws(StoreError) { try step() }

    func isNull(_ column: Int) -> Bool { sqlite3_column_type(stmt, Int32(column)) == SQLITE_NULL }
    func isInteger(_ column: Int) -> Bool { sqlite3_column_type(stmt, Int32(column)) == SQLITE_INTEGER }
    func int64(_ column: Int) -> Int64 { sqlite3_column_int64(stmt, Int32(column)) }
    func uint64(_ column: Int) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(stmt, Int32(column))) }
    func double(_ column: Int) -> Double { sqlite3_column_double(stmt, Int32(column)) }

    func string(_ column: Int) -> String {
        guard let text = sqlite3_column_text(stmt, Int32(column)) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(stmt, Int32(column)))), as: UTF8.self)
    }

    /// The column's bytes, valid until the next step or reset.
    func blob(_ column: Int) -> UnsafeRawBufferPointer {
        let pointer = sqlite3_column_blob(stmt, Int32(column))
        let count = Int(sqlite3_column_bytes(stmt, Int32(column)))
        return UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }
}

/// Waits for another connection's lock in short sleeps growing from 20 µs to 1 ms, then 1 ms each, up
/// to about 30 s in all. (SQLite's own handler sleeps a millisecond or more at once: longer than a
/// whole commit when fsync is fast.)
let waitWhileBusy: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
    guard count < 30_000 else { return 0 }
    Unmanaged<Connection>.fromOpaque(context!).takeUnretainedValue().busyWaits += 1
    usleep(count < 6 ? 20 << UInt32(count) : 1_000)
    return 1
}

private let emptyText: StaticString = ""
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
