// The on-disk form of an object record: a header (kind, format, class OID, identity hash, size) and
// the contents, in varints. The store keeps the two in separate columns, so that the header of an
// object (what a ghost needs) is read without its contents.
//
// header: byte 0: format (bits 0–4) | kind << 5 (0 slots, 1 bytes, 2 large bytes, 3 slots with a
//   shape) | 0x80 when an identity hash follows; then varint class OID; then (if flagged) varint
//   identity hash; then varint count (slots, or bytes); then (kind 3) varint shape, the class index
//   the object had when written (`StoredObject.shape`; store format 2 had no kind 3).
// contents: slots: one token per slot, a varint whose low 2 bits say what it is —
//     0 reference, zigzag(oid − own oid): objects made together refer to near OIDs, so 1–2 bytes;
//     1 SmallInteger, zigzag(value);  2 Character, code point;
//     3 any other immediate, its 64 bits follow verbatim as a varint.
//   bytes: the bytes themselves, to the end of the record.
//   large bytes: varint chunked-bytes id.
//
// Store format 1 had no count and one column: header and contents together, large bytes ending in
// their count (`decodeVersion1`, used only to upgrade such files).

enum RecordCoding {
    private static let slotsKind: UInt8 = 0, bytesKind: UInt8 = 1, largeKind: UInt8 = 2, shapedSlotsKind: UInt8 = 3
    private static let hashFlag: UInt8 = 0x80

    /// Appends header then contents to `out` (emptied first); answers the header's length.
    @discardableResult
    static func encode(_ object: StoredObject, into out: inout [UInt8]) -> Int {
        out.removeAll(keepingCapacity: true)
        return append(object, to: &out)
    }

    /// Appends header then contents to `out`; answers the header's length.
    @discardableResult
    static func append(_ object: StoredObject, to out: inout [UInt8]) -> Int {
        let start = out.count
        let kind: UInt8 = switch object.contents {
        case .slots: object.shape != 0 ? shapedSlotsKind : slotsKind
        case .bytes: bytesKind
        case .largeBytes: largeKind
        }
        out.append(object.format & 31 | kind << 5 | (object.identityHash != 0 ? hashFlag : 0))
        Varint.append(object.classOID, to: &out)
        if object.identityHash != 0 { Varint.append(UInt64(object.identityHash), to: &out) }
        switch object.contents {
        case let .slots(slots): Varint.append(UInt64(slots.count), to: &out)
        case let .bytes(bytes): Varint.append(UInt64(bytes.count), to: &out)
        case let .largeBytes(large): Varint.append(UInt64(large.count), to: &out)
        }
        if kind == shapedSlotsKind { Varint.append(UInt64(object.shape), to: &out) }
        let headerLength = out.count - start
        switch object.contents {
        case let .slots(slots):
            for slot in slots { appendSlot(slot, owner: object.oid, to: &out) }
        case let .bytes(bytes):
            out.append(contentsOf: bytes)
        case let .largeBytes(large):
            Varint.append(UInt64(large.id), to: &out)
        }
        return headerLength
    }

    /// Header and contents in one buffer.
    static func encode(_ object: StoredObject) -> [UInt8] {
        var out: [UInt8] = []
        encode(object, into: &out)
        return out
    }

    @inline(__always)
    private static func appendSlot(_ slot: UInt64, owner: UInt64, to out: inout [UInt8]) {
        switch slot & 7 {
        case 0: Varint.append(Varint.zigzag(Int64(bitPattern: (slot >> 3) &- owner)) << 2, to: &out)
        case 1: Varint.append(Varint.zigzag(Int64(bitPattern: slot) >> 3) << 2 | 1, to: &out)
        case 2: Varint.append((slot >> 3) << 2 | 2, to: &out)
        default:
            out.append(3)
            Varint.append(slot, to: &out)
        }
    }

    /// Decodes a header; nil if malformed. `length` is how many bytes it took.
    static func decodeHeader(oid: UInt64, _ buffer: UnsafeRawBufferPointer) -> (header: StoredHeader, length: Int)? {
        var reader = Varint.Reader(buffer)
        guard let head = reader.byte(), let classOID = reader.varint() else { return nil }
        var hash: UInt32 = 0
        if head & hashFlag != 0 {
            guard let h = reader.varint(), h != 0, h <= UInt64(UInt32.max) else { return nil }
            hash = UInt32(h)
        }
        guard let count = reader.varint(), count <= UInt64(Int.max) else { return nil }
        let kind: StoredHeader.Kind
        var shape: UInt32 = 0
        switch (head >> 5) & 3 {
        case slotsKind: kind = .slots
        case bytesKind: kind = .bytes
        case largeKind: kind = .largeBytes
        default:
            guard let s = reader.varint(), s != 0, s <= UInt64(UInt32.max) else { return nil }
            kind = .slots
            shape = UInt32(s)
        }
        let header = StoredHeader(oid: oid, classOID: classOID, format: head & 31, identityHash: hash, shape: shape,
                                  kind: kind, count: Int(count))
        return (header, buffer.count - reader.remaining)
    }

    /// Decodes a record kept as header and contents; nil if either is malformed or they disagree.
    static func decode(oid: UInt64, header headerBytes: UnsafeRawBufferPointer, contents: UnsafeRawBufferPointer) -> StoredObject? {
        guard let (h, length) = decodeHeader(oid: oid, headerBytes), length == headerBytes.count else { return nil }
        var reader = Varint.Reader(contents)
        let body: StoredObject.Contents
        switch h.kind {
        case .slots:
            guard let slots = decodeSlots(&reader, owner: oid, capacity: h.count), slots.count == h.count else { return nil }
            body = .slots(slots)
        case .bytes:
            guard contents.count == h.count else { return nil }
            body = .bytes(reader.rest())
        case .largeBytes:
            guard let id = reader.varint(), reader.atEnd, id <= UInt64(Int64.max) else { return nil }
            body = .largeBytes(LargeBytes(id: Int64(id), count: h.count))
        }
        return StoredObject(oid: oid, classOID: h.classOID, format: h.format, identityHash: h.identityHash, shape: h.shape, contents: body)
    }

    /// Decodes header and contents from one buffer.
    static func decode(oid: UInt64, _ record: UnsafeRawBufferPointer) -> StoredObject? {
        guard let (_, length) = decodeHeader(oid: oid, record) else { return nil }
        return decode(oid: oid, header: UnsafeRawBufferPointer(rebasing: record[..<length]),
                      contents: UnsafeRawBufferPointer(rebasing: record[length...]))
    }

    static func decode(oid: UInt64, _ record: [UInt8]) -> StoredObject? {
        record.withUnsafeBytes { decode(oid: oid, $0) }
    }

    private static func decodeSlots(_ reader: inout Varint.Reader, owner oid: UInt64, capacity: Int) -> [UInt64]? {
        var slots: [UInt64] = []
        slots.reserveCapacity(min(capacity, reader.remaining))
        while !reader.atEnd {
            guard let token = reader.varint() else { return nil }
            switch token & 3 {
            case 0: slots.append((oid &+ UInt64(bitPattern: Varint.unzigzag(token >> 2))) << 3)
            case 1: slots.append(UInt64(bitPattern: Varint.unzigzag(token >> 2) << 3) | 1)
            case 2: slots.append((token >> 2) << 3 | 2)
            default:
                guard token == 3, let slot = reader.varint() else { return nil }
                slots.append(slot)
            }
        }
        return slots
    }

    /// Decodes a record of store format 1 (no count in the header; large bytes end with their count).
    static func decodeVersion1(oid: UInt64, _ record: UnsafeRawBufferPointer) -> StoredObject? {
        var reader = Varint.Reader(record)
        guard let head = reader.byte(), let classOID = reader.varint() else { return nil }
        let format = head & 31
        var hash: UInt32 = 0
        if head & hashFlag != 0 {
            guard let h = reader.varint(), h != 0, h <= UInt64(UInt32.max) else { return nil }
            hash = UInt32(h)
        }
        switch (head >> 5) & 3 {
        case slotsKind:
            guard let slots = decodeSlots(&reader, owner: oid, capacity: reader.remaining) else { return nil }
            return StoredObject(oid: oid, classOID: classOID, format: format, identityHash: hash, slots: slots)
        case bytesKind:
            return StoredObject(oid: oid, classOID: classOID, format: format, identityHash: hash, bytes: reader.rest())
        case largeKind:
            guard let id = reader.varint(), let count = reader.varint(), reader.atEnd,
                  id <= UInt64(Int64.max), count <= UInt64(Int.max) else { return nil }
            return StoredObject(oid: oid, classOID: classOID, format: format, identityHash: hash,
                                contents: .largeBytes(LargeBytes(id: Int64(id), count: Int(count))))
        default:
            return nil
        }
    }
}

/// LEB128 varints and zigzag signed integers.
enum Varint {
    @inline(__always)
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    @inline(__always) static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    @inline(__always) static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }

    struct Reader {
        private let buffer: UnsafeRawBufferPointer
        private var position = 0

        init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

        var atEnd: Bool { position >= buffer.count }
        var remaining: Int { buffer.count - position }

        mutating func byte() -> UInt8? {
            guard position < buffer.count else { return nil }
            defer { position += 1 }
            return buffer[position]
        }

        @inline(__always)
        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < buffer.count {
                let byte = buffer[position]
                position += 1
                guard shift < 64 else { return nil }
                result |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
            return nil
        }

        /// The next `count` bytes (at most what remains).
        mutating func bytes(_ count: Int) -> [UInt8] { Array(span(count)) }

        /// The next `count` bytes (at most what remains), in place: valid while the buffer is.
        mutating func span(_ count: Int) -> UnsafeBufferPointer<UInt8> {
            let end = min(buffer.count, position + count)
            defer { position = end }
            return UnsafeRawBufferPointer(rebasing: buffer[position..<end]).assumingMemoryBound(to: UInt8.self)
        }

        mutating func rest() -> [UInt8] {
            defer { position = buffer.count }
            return Array(buffer[position...])
        }
    }
}

/// A sorted list of OIDs as delta varints (a commit's changed objects).
enum OIDList {
    static func encode(sorted oids: some Collection<UInt64>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(oids.count * 2)
        var previous: UInt64 = 0
        for oid in oids {
            Varint.append(oid &- previous, to: &out)
            previous = oid
        }
        return out
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, into oids: inout [UInt64]) -> Bool {
        var reader = Varint.Reader(bytes)
        var previous: UInt64 = 0
        while !reader.atEnd {
            guard let delta = reader.varint() else { return false }
            previous &+= delta
            oids.append(previous)
        }
        return true
    }
}
