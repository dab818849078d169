// Objects as an image stores them: the contents saved of each object and the record they make.

import Store
import VMCore

/// The contents an image keeps of objects: as `VM.imageContents`, except that the literal frames of
/// compiled code noted so far lose their inline caches (running code does not change the image).
struct SavedContents {
    let vm: VM
    private var literalFrames: [Oop: ImageContents] = [:]

    init(_ vm: VM) { self.vm = vm }

    /// If `o` is compiled code, its literal frame will be saved without inline caches.
    mutating func noteLiterals(of o: Oop) {
        if let (literals, contents) = vm.imageLiterals(of: o) { literalFrames[literals] = contents }
    }

    func of(_ o: Oop) -> ImageContents { literalFrames[o] ?? vm.imageContents(of: o) }
}

extension ImageSession {
    /// Those of `objects` (persistent ones) whose record differs from the one last read or written, or
    /// that cannot be saved as they are; ghosts are unchanged.
    func recordChanged(among objects: [Oop]) -> [(object: Oop, oid: UInt64)] {
        var saved = SavedContents(vm)
        for o in objects { saved.noteLiterals(of: o) }
        return objects.compactMap { o in
            guard !vm.isGhost(o), let oid = oids[o] else { return nil }
            let record = record(of: o, oid: oid, contents: saved.of(o), vm: vm)
            return record == nil || record!.fingerprint != fingerprints[oid] ? (o, oid) : nil
        }
    }

    /// The record `o` is saved as under `oid`; nil when it refers to an object that has no OID, or is
    /// a Blob whose slots are not a store id and a size.
    func record(of o: Oop, oid: UInt64, contents: ImageContents, vm: VM) -> StoredObject? {
        let header = vm.imageHeader(of: o)
        guard let classOID = oids[vm.classAt(header.classIndex)] else { return nil }
        let stored: StoredObject.Contents
        var shape: UInt32 = 0
        switch contents {
        case .slots(let slots) where header.classIndex == blobClassIndex:
            guard let contents = blobContents(slots) else { return nil }
            stored = contents
        case .slots(let slots):
            var values: [UInt64] = []
            values.reserveCapacity(slots.count)
            for v in slots {
                if isImmediate(v) { values.append(v); continue }
                guard let ref = oids[v == 0 ? vm.nilObj : v] else { return nil }
                values.append(StoredObject.reference(ref))
            }
            stored = .slots(values)
            shape = UInt32(header.classIndex)      // the class version its slots follow (ImageShapes.swift)
        case .bytes(let bytes):
            stored = .bytes(bytes)
        }
        return StoredObject(oid: oid, classOID: classOID, format: UInt8(header.format),
                            identityHash: UInt32(header.hash), shape: shape, contents: stored)
    }
}

/// Turns store records into heap objects: allocated in old space with their class index, format
/// and identity hash, then filled (references resolved once every object of a batch exists).
struct ImageObjectBuilder {
    let store: SQLiteStore
    let vm: VM

    func bad(_ why: String) -> RuntimeError { .image("\(store.path) is not a usable image: \(why)") }

    /// A class's class index is its identity hash.
    func classIndex(ofClassRecord r: StoredObject?, for oid: UInt64) throws -> Int {
        guard let index = r.map({ Int($0.identityHash) }), index >= 1, index < 1 << 22 else {
            throw bad("the class of object \(oid) has no class index")
        }
        return index
    }

    func allocate(_ r: StoredObject, classIndex: Int) throws -> Oop {
        guard r.identityHash < 1 << 22 else { throw bad("object \(r.oid) has identity hash \(r.identityHash)") }
        let (slotCount, byteCount) = try shape(of: r)
        guard let o = vm.allocateImageObject(classIndex: classIndex, format: Int(r.format), hash: Int(r.identityHash),
                                             slotCount: slotCount, byteCount: byteCount) else {
            throw RuntimeError.image("\(store.path) does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        return o
    }

    /// Whether `o` already has the class, format, identity hash and size the record describes, so
    /// that filling it in place makes it the record's object.
    func hasShape(_ o: Oop, of r: StoredObject, classIndex: Int) -> Bool {
        guard let (slotCount, byteCount) = try? shape(of: r) else { return false }
        let header = vm.imageHeader(of: o)
        return header.classIndex == classIndex && header.format == Int(r.format) && header.hash == Int(r.identityHash)
            && vm.imageSlotCount(o) == (r.heapShape.pointers ? slotCount : (byteCount + 7) / 8)
    }

    /// Slot count (pointers) or byte count (bits) in memory, checked against the format.
    private func shape(of r: StoredObject) throws -> (slots: Int, bytes: Int) {
        let shape = r.heapShape
        guard ImageObjectBuilder.fits(format: Int(r.format), slotCount: shape.slots, byteCount: shape.bytes, pointers: shape.pointers) else {
            throw bad("object \(r.oid) has format \(r.format) and \(shape.pointers ? "\(shape.slots) slots" : "\(shape.bytes) bytes")")
        }
        return (shape.slots, shape.bytes)
    }

    /// Whether the contents agree with the format (the unused-bytes bits of byte and word formats).
    static func fits(format: Int, slotCount: Int, byteCount: Int, pointers: Bool) -> Bool {
        switch format {
        case 0...4: return pointers && slotCount < 1 << 40
        case Format.words64: return !pointers && byteCount % 8 == 0
        case 10, 11: return !pointers && byteCount % 4 == 0 && (byteCount / 4 + (format & 1)) % 2 == 0
        case 16...23: return !pointers && (byteCount + (format & 7)) % 8 == 0
        default: return false
        }
    }

    /// Writes the record's contents into `o` (old space: no write barrier is needed).
    func fill(_ o: Oop, from r: StoredObject, oop: (UInt64) -> Oop?) throws {
        switch r.contents {
        case .slots(let slots):
            for (i, slot) in slots.enumerated() {
                guard let ref = StoredObject.referencedOID(slot) else { vm.setImageSlot(o, i, slot); continue }
                guard let value = oop(ref) else { throw bad("object \(ref) is referred to but missing") }
                vm.setImageSlot(o, i, value)
            }
        case .bytes(let bytes):
            bytes.withUnsafeBytes { vm.setImageBytes(o, $0) }
        case .largeBytes(let large) where r.isBlob:
            vm.setImageSlot(o, BlobLayout.storeID, intOop(Int(large.id)))
            vm.setImageSlot(o, BlobLayout.size, intOop(large.count))
        case .largeBytes(let large):
            var offset = 0
            try store.readLargeBytes(large) { chunk in
                guard offset + chunk.count <= large.count else { throw bad("object \(r.oid) has more bytes than it says") }
                vm.setImageBytes(o, at: offset, chunk)
                offset += chunk.count
            }
            guard offset == large.count else { throw bad("object \(r.oid) has fewer bytes than it says") }
        }
    }
}
