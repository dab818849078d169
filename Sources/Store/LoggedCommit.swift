// A commit as the payload of a commit-log record (Docs/Store.md "The commit log"): its time, texts,
// encoded object records, roots, method versions and class shapes — everything its SQLite transaction
// writes, so that applying the record writes the same rows the commit would have.

import Foundation

struct LoggedCommit {
    /// Seconds since 1970, as the `commits` row's time.
    let time: Double
    let request: CommitRequest

    private static let formatVersion: UInt8 = 1

    static func encode(_ request: CommitRequest, time: Double) -> [UInt8] {
        var out: [UInt8] = [formatVersion]
        out.reserveCapacity(request.records.count + 16 * request.writes.count + 64)
        Varint.append(time.bitPattern, to: &out)
        appendString(request.author, to: &out)
        appendString(request.message, to: &out)
        Varint.append(UInt64(request.writes.count), to: &out)
        for write in request.writes {
            Varint.append(write.oid, to: &out)
            if let object = write.outOfLine {
                out.append(1)
                var record: [UInt8] = []
                let headerLength = RecordCoding.encode(object, into: &record)
                Varint.append(UInt64(headerLength), to: &out)
                Varint.append(UInt64(record.count), to: &out)
                out += record
            } else {
                out.append(0)
                Varint.append(UInt64(write.headerLength), to: &out)
                Varint.append(UInt64(write.record.count), to: &out)
                out += request.records[write.record]
            }
        }
        Varint.append(UInt64(request.roots.count), to: &out)
        for (name, oid) in request.roots {
            appendString(name, to: &out)
            appendOptional(oid, to: &out)
        }
        Varint.append(UInt64(request.methods.count), to: &out)
        for method in request.methods {
            appendString(method.className, to: &out)
            appendOptional(method.classOID, to: &out)
            appendString(method.selector, to: &out)
            if let category = method.category {
                out.append(1)
                appendString(category, to: &out)
            } else {
                out.append(0)
            }
            appendString(method.source, to: &out)
        }
        Varint.append(UInt64(request.shapes.count), to: &out)
        for shape in request.shapes {
            Varint.append(shape.classOID, to: &out)
            Varint.append(UInt64(shape.classIndex), to: &out)
            out.append(shape.format)
            Varint.append(UInt64(shape.names.count), to: &out)
            for name in shape.names { appendString(name, to: &out) }
        }
        return out
    }

    /// The payload with another time: a commit posted for another process's leader takes the time of
    /// its append (CommitPosts.swift). Nil if the payload does not start as one.
    static func restamped(_ payload: [UInt8], time: Double) -> [UInt8]? {
        let rest = payload.withUnsafeBytes { raw -> Int? in
            var reader = Varint.Reader(raw)
            guard reader.byte() == formatVersion, reader.varint() != nil else { return nil }
            return reader.remaining
        }
        guard let rest else { return nil }
        var out: [UInt8] = [formatVersion]
        out.reserveCapacity(payload.count + 10)
        Varint.append(time.bitPattern, to: &out)
        out += payload[(payload.count - rest)...]
        return out
    }

    /// What a commit wrote, for conflict checks: its objects' OIDs, ascending, and its roots' names.
    struct Keys {
        var oids: [UInt64] = []
        var roots: [String] = []
    }

    /// The objects and roots this commit writes.
    var keys: Keys { Keys(oids: request.writes.map(\.oid), roots: request.roots.map(\.name)) }

    /// The keys a payload's commit writes, read without building the commit. Without `validating`,
    /// the rest is not looked at (a record of the log, checked when it was appended; the apply decodes
    /// it). With it, nil unless the whole payload is a commit, exactly when `decode` answers one: how
    /// the holder of the writers' turn checks a post before appending it, without allocating it.
    static func keys(_ payload: [UInt8], validating: Bool = false) -> Keys? {
        payload.withUnsafeBytes { raw -> Keys? in
            var reader = Varint.Reader(raw)
            guard reader.byte() == formatVersion, reader.varint() != nil, skipString(&reader, validating: validating),
                  skipString(&reader, validating: validating), let writeCount = count(&reader, each: 3) else { return nil }
            var keys = Keys()
            keys.oids.reserveCapacity(writeCount)
            var previous: UInt64 = 0
            for _ in 0..<writeCount {
                guard let oid = reader.varint(), oid > previous, oid <= StoredObject.maximumOID,
                      let kind = reader.byte(), kind <= 1, let headerLength = reader.varint(), let length = reader.varint(),
                      length <= UInt64(reader.remaining) else { return nil }
                previous = oid
                let record = reader.span(Int(length))
                if validating {
                    guard headerLength <= length,
                          kind == 0 || RecordCoding.decode(oid: oid, UnsafeRawBufferPointer(record)) != nil else { return nil }
                }
                keys.oids.append(oid)
            }
            guard let rootCount = count(&reader, each: 2) else { return nil }
            for _ in 0..<rootCount {
                guard let name = string(&reader), optional(&reader) != nil else { return nil }
                keys.roots.append(name)
            }
            guard !validating || skipMethodsAndShapes(&reader) else { return nil }
            return keys
        }
    }

    /// Walks the method versions and class shapes as `decode` reads them, to the payload's end.
    private static func skipMethodsAndShapes(_ reader: inout Varint.Reader) -> Bool {
        guard let methodCount = count(&reader, each: 5) else { return false }
        for _ in 0..<methodCount {
            guard skipString(&reader, validating: true), optional(&reader) != nil, skipString(&reader, validating: true),
                  let hasCategory = reader.byte(), hasCategory <= 1,
                  hasCategory == 0 || skipString(&reader, validating: true), skipString(&reader, validating: true) else { return false }
        }
        guard let shapeCount = count(&reader, each: 4) else { return false }
        for _ in 0..<shapeCount {
            guard reader.varint() != nil, let classIndex = reader.varint(), classIndex <= UInt64(UInt32.max),
                  reader.byte() != nil, let nameCount = count(&reader, each: 1) else { return false }
            for _ in 0..<nameCount where !skipString(&reader, validating: true) { return false }
        }
        return reader.atEnd
    }

    /// The commit a payload holds, as commit `id`; nil if the payload is not one.
    static func decode(_ payload: [UInt8], as id: CommitID) -> LoggedCommit? {
        payload.withUnsafeBytes { raw -> LoggedCommit? in
            var reader = Varint.Reader(raw)
            guard reader.byte() == formatVersion, let timeBits = reader.varint(),
                  let author = string(&reader), let message = string(&reader),
                  let writeCount = count(&reader, each: 3) else { return nil }
            var writes: [CommitRequest.Write] = [], records: [UInt8] = []
            writes.reserveCapacity(writeCount)
            var previous: UInt64 = 0
            for _ in 0..<writeCount {
                guard let oid = reader.varint(), oid > previous, oid <= StoredObject.maximumOID,
                      let kind = reader.byte(), kind <= 1,
                      let headerLength = reader.varint(), let length = reader.varint(),
                      headerLength <= length, length <= UInt64(reader.remaining) else { return nil }
                previous = oid
                let record = reader.span(Int(length))
                if kind == 1 {
                    guard let object = RecordCoding.decode(oid: oid, UnsafeRawBufferPointer(record)) else { return nil }
                    writes.append(.init(oid: oid, record: records.count..<records.count, headerLength: 0, outOfLine: object))
                } else {
                    let start = records.count
                    records += record
                    writes.append(.init(oid: oid, record: start..<records.count, headerLength: Int(headerLength), outOfLine: nil))
                }
            }
            guard let rootCount = count(&reader, each: 2) else { return nil }
            var roots: [(name: String, oid: UInt64?)] = []
            for _ in 0..<rootCount {
                guard let name = string(&reader), let oid = optional(&reader) else { return nil }
                roots.append((name, oid.value))
            }
            guard let methodCount = count(&reader, each: 5) else { return nil }
            var methods: [MethodChange] = []
            for _ in 0..<methodCount {
                guard let className = string(&reader), let classOID = optional(&reader), let selector = string(&reader),
                      let hasCategory = reader.byte(), hasCategory <= 1 else { return nil }
                let category = hasCategory == 1 ? string(&reader) : nil
                guard hasCategory == 0 || category != nil, let source = string(&reader) else { return nil }
                methods.append(MethodChange(className: className, classOID: classOID.value, selector: selector,
                                            category: category, source: source))
            }
            guard let shapeCount = count(&reader, each: 4) else { return nil }
            var shapes: [ClassShape] = []
            for _ in 0..<shapeCount {
                guard let classOID = reader.varint(), let classIndex = reader.varint(), classIndex <= UInt64(UInt32.max),
                      let format = reader.byte(), let nameCount = count(&reader, each: 1) else { return nil }
                var names: [String] = []
                for _ in 0..<nameCount {
                    guard let name = string(&reader) else { return nil }
                    names.append(name)
                }
                shapes.append(ClassShape(classOID: classOID, classIndex: UInt32(classIndex), format: format, names: names))
            }
            guard reader.atEnd else { return nil }
            let request = CommitRequest(logged: id, writes: writes, records: records, roots: roots, methods: methods,
                                        shapes: shapes, author: author, message: message)
            return LoggedCommit(time: Double(bitPattern: timeBits), request: request)
        }
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        Varint.append(UInt64(bytes.count), to: &out)
        out += bytes
    }

    private static func appendOptional(_ value: UInt64?, to out: inout [UInt8]) {
        if let value {
            out.append(1)
            Varint.append(value, to: &out)
        } else {
            out.append(0)
        }
    }

    /// Steps over a string; `validating`: false unless it is UTF-8, as `string` requires.
    private static func skipString(_ reader: inout Varint.Reader, validating: Bool) -> Bool {
        guard let length = reader.varint(), length <= UInt64(reader.remaining) else { return false }
        let bytes = reader.span(Int(length))
        // ASCII, the usual author and message, is UTF-8 without asking String (whose check, generic
        // over encodings, looks up type metadata at every call).
        return !validating || !bytes.contains(where: { $0 >= 0x80 }) || String(validating: bytes, as: UTF8.self) != nil
    }

    private static func string(_ reader: inout Varint.Reader) -> String? {
        guard let length = reader.varint(), length <= UInt64(reader.remaining) else { return nil }
        return String(validating: reader.span(Int(length)), as: UTF8.self)
    }

    /// A present-or-absent value; nil if malformed (`value` is the value, which may be absent).
    private static func optional(_ reader: inout Varint.Reader) -> (value: UInt64?, Void)? {
        switch reader.byte() {
        case 0: return (nil, ())
        case 1: return reader.varint().map { ($0, ()) }
        default: return nil
        }
    }

    /// A count of items that take at least `each` bytes each, checked against what remains.
    private static func count(_ reader: inout Varint.Reader, each: Int) -> Int? {
        guard let count = reader.varint(), count <= UInt64(reader.remaining / each) else { return nil }
        return Int(count)
    }
}

extension CommitRequest {
    /// A commit read back from the log, to be written as commit `id` (checked when it was logged).
    init(logged id: CommitID, writes: [Write], records: [UInt8], roots: [(name: String, oid: UInt64?)],
         methods: [MethodChange], shapes: [ClassShape], author: String, message: String) {
        base = CommitID(id.rawValue - 1)
        self.writes = writes
        self.records = records
        changed = OIDList.encode(sorted: writes.lazy.map(\.oid))
        self.roots = roots
        self.methods = methods
        self.shapes = shapes
        self.author = author
        self.message = message
        largeBytes = []
        gcGeneration = nil
    }
}
