// One version of one persistent object, as the VM hands it to the store and gets it back.

/// An object record. Slots hold VM values: low 3 bits non-zero = an immediate, stored verbatim;
/// low 3 bits zero = a reference, `oid << 3` (nil is an object like any other, never 0).
public struct StoredObject: Equatable, Sendable {
    public enum Contents: Equatable, Sendable {
        /// Pointer objects: the slots as VM values.
        case slots([UInt64])
        /// Byte objects (and word objects, as their bytes).
        case bytes([UInt8])
        /// Bytes kept out of line in chunks; stream them with `readLargeBytes`.
        case largeBytes(LargeBytes)
    }

    public var oid: UInt64
    public var classOID: UInt64
    /// The VM object format, 0…31.
    public var format: UInt8
    /// The VM identity hash (22 bits; a class's equals its class index); 0 = none recorded.
    public var identityHash: UInt32
    /// Pointer objects: the class index the object had when it was written, which names the version
    /// of its class whose instance variables its slots hold (`ClassShape`); 0 = none recorded. Always
    /// 0 for bytes.
    public var shape: UInt32
    public var contents: Contents

    public init(oid: UInt64, classOID: UInt64, format: UInt8, identityHash: UInt32 = 0, shape: UInt32 = 0, contents: Contents) {
        self.oid = oid
        self.classOID = classOID
        self.format = format
        self.identityHash = identityHash
        self.shape = shape
        self.contents = contents
    }

    public init(oid: UInt64, classOID: UInt64, format: UInt8, identityHash: UInt32 = 0, shape: UInt32 = 0, slots: [UInt64]) {
        self.init(oid: oid, classOID: classOID, format: format, identityHash: identityHash, shape: shape, contents: .slots(slots))
    }

    public init(oid: UInt64, classOID: UInt64, format: UInt8, identityHash: UInt32 = 0, bytes: [UInt8]) {
        self.init(oid: oid, classOID: classOID, format: format, identityHash: identityHash, contents: .bytes(bytes))
    }

    /// The slot value that refers to `oid`.
    @inlinable
    public static func reference(_ oid: UInt64) -> UInt64 { oid << 3 }

    /// The OID a slot value refers to, or nil for an immediate.
    @inlinable
    public static func referencedOID(_ slot: UInt64) -> UInt64? { slot & 7 == 0 ? slot >> 3 : nil }

    /// The largest OID whose reference fits a slot.
    public static let maximumOID: UInt64 = (1 << 61) - 1

    public var slots: [UInt64]? {
        if case let .slots(slots) = contents { slots } else { nil }
    }

    public var bytes: [UInt8]? {
        if case let .bytes(bytes) = contents { bytes } else { nil }
    }

    /// Every object this one refers to: its class and the references among its slots.
    public var referencedOIDs: [UInt64] {
        var result = [classOID]
        if case let .slots(slots) = contents {
            for slot in slots where slot & 7 == 0 { result.append(slot >> 3) }
        }
        return result
    }
}

/// A byte sequence stored out of line, in chunks: a handle from `SQLiteStore.writeLargeBytes`.
public struct LargeBytes: Hashable, Sendable {
    public let id: Int64
    public let count: Int

    public init(id: Int64, count: Int) {
        self.id = id
        self.count = count
    }
}

/// What a record says about its object apart from the contents: enough to allocate the object (its
/// size, format and identity hash) before reading it. `SQLiteStore.headers(of:asOf:)` reads these
/// without the contents.
public struct StoredHeader: Equatable, Sendable {
    public enum Kind: Sendable { case slots, bytes, largeBytes }

    public let oid: UInt64
    public let classOID: UInt64
    /// The VM object format, 0…31.
    public let format: UInt8
    /// The VM identity hash; 0 = none recorded.
    public let identityHash: UInt32
    /// The class index the object had when written (pointer objects; 0 = none recorded): see `StoredObject.shape`.
    public var shape: UInt32 = 0
    public let kind: Kind
    /// Slots (kind `slots`) or bytes.
    public let count: Int
}

extension StoredObject {
    /// The header of this record.
    public var header: StoredHeader {
        switch contents {
        case let .slots(slots): header(.slots, slots.count)
        case let .bytes(bytes): header(.bytes, bytes.count)
        case let .largeBytes(large): header(.largeBytes, large.count)
        }
    }

    private func header(_ kind: StoredHeader.Kind, _ count: Int) -> StoredHeader {
        StoredHeader(oid: oid, classOID: classOID, format: format, identityHash: identityHash, shape: shape, kind: kind, count: count)
    }
}
