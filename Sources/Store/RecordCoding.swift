// The on-disk form of an object record: a kind/format byte, the class OID and the contents, in varints.
//
// byte 0: format (bits 0–4) | kind << 5 (0 slots, 1 bytes, 2 large bytes) | 0x80 when an identity hash
//   follows; then varint class OID; then (if flagged) varint identity hash; then
//   slots: one token per slot, a varint whose low 2 bits say what it is —
//     0 reference, zigzag(oid − own oid): objects made together refer to near OIDs, so 1–2 bytes;
//     1 SmallInteger, zigzag(value);  2 Character, code point;
//     3 any other immediate, its 64 bits follow verbatim as a varint.
//   bytes: the bytes themselves, to the end of the record.
//   large bytes: varint chunked-bytes id, varint byte count.

enum RecordCoding {
    private static let slotsKind: UInt8 = 0, bytesKind: UInt8 = 1, largeKind: UInt8 = 2
    private static let hashFlag: UInt8 = 0x80

    static func encode(_ object: StoredObject, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        let kind: UInt8 = switch object.contents {
        case .slots: slotsKind
        case .bytes: bytesKind
        case .largeBytes: largeKind
        }
        out.append(object.format & 31 | kind << 5 | (object.identityHash != 0 ? hashFlag : 0))
        Varint.append(object.classOID, to: &out)
        if object.identityHash != 0 { Varint.append(UInt64(object.identityHash), to: &out) }
        switch object.contents {
        case let .slots(slots):
            for slot in slots { appendSlot(slot, owner: object.oid, to: &out) }
        case let .bytes(bytes):
            out.append(contentsOf: bytes)
        case let .largeBytes(large):
            Varint.append(UInt64(large.id), to: &out)
            Varint.append(UInt64(large.count), to: &out)
        }
    }

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

    /// Decodes a record; nil if the bytes are not a well-formed record.
    static func decode(oid: UInt64, _ record: UnsafeRawBufferPointer) -> StoredObject? {
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
            var slots: [UInt64] = []
            slots.reserveCapacity(reader.remaining)
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

    static func decode(oid: UInt64, _ record: [UInt8]) -> StoredObject? {
        record.withUnsafeBytes { decode(oid: oid, $0) }
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

        mutating func rest() -> [UInt8] {
            defer { position = buffer.count }
            return Array(buffer[position...])
        }
    }
}

/// A sorted list of OIDs as delta varints (a commit's changed objects).
enum OIDList {
    static func encode(sorted oids: [UInt64]) -> [UInt8] {
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
