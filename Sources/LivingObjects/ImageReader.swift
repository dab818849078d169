// Opening an image: every object of a snapshot reachable from `specialObjects` is read (eagerly, in
// large clusters) and checked (ImageGraph), allocated in old space with its class index, format and
// identity hash, then its references are fixed and the VM's roots and class table restored.

import Foundation
import Store
import VMCore

extension Runtime {
    /// Opens the object space saved in the image at `path` (see `commitImage`); commits go back to it.
    /// With `snapshot`, the object space as it was at that commit: a read-only view (commits throw).
    public convenience init(image path: String, asOf snapshot: CommitID? = nil,
                            configuration: VMConfiguration = VMConfiguration()) throws {
        let store = try ImageFile.openStore(path)
        try self.init(emptyWith: configuration)
        do { try ImageReader(store: store, vm: vm).read(into: self, asOf: snapshot) } catch let e as StoreError {
            throw RuntimeError.image("cannot read image \(path): \(e)")
        }
    }
}

/// The records of an image as of one snapshot: the specials, and every object reachable from them,
/// each checked for what allocating it needs (a class with a class index, a format its contents fit).
/// Reading it runs no Smalltalk: `lo check` and `lo rollback` use it on images too broken to run.
struct ImageGraph {
    let snapshot: CommitID
    /// The OIDs of the specials Array, its roots Array and its class-table Array.
    let specialsOIDs: [UInt64]
    let specials: [UInt64], rootSlots: [UInt64], tableSlots: [UInt64]
    let records: [UInt64: StoredObject]
    /// Every object reachable from the roots and the class table, in OID order.
    let reachable: [UInt64]

    init(store: SQLiteStore, asOf snapshot: CommitID) throws {
        let head = try store.headCommit()
        func bad(_ why: String) -> RuntimeError {
            .image("\(store.path)\(snapshot == head ? "" : " as of commit \(snapshot.rawValue)") is not a usable image: \(why)")
        }
        guard try store.isIntact(snapshot) else {
            throw RuntimeError.image("""
                \(store.path): the state as of commit \(snapshot.rawValue) was reclaimed by gc (it keeps every state \
                of its window and those of named checkpoints)
                """)
        }
        guard let specialsOID = try store.root(named: ImageSpecialsRecord.rootName, asOf: snapshot) else {
            throw bad("it holds no object space (no \(ImageSpecialsRecord.rootName) root)")
        }
        let records = try Self.loadAll(store, asOf: snapshot)
        guard let specials = records[specialsOID]?.slots, specials.count == ImageSpecialsRecord.size,
              specials[0] == intOop(ImageSpecialsRecord.version),
              let rootsOID = StoredObject.referencedOID(specials[1]), let rootSlots = records[rootsOID]?.slots,
              let tableOID = StoredObject.referencedOID(specials[2]), let tableSlots = records[tableOID]?.slots,
              isSmallInt(specials[3]), isSmallInt(specials[4]) else {
            throw bad("its \(ImageSpecialsRecord.rootName) record is not an image version \(ImageSpecialsRecord.version) header")
        }
        // Older commits may have left objects nobody refers to: only the reachable ones count.
        var seen = Set<UInt64>(), stack: [UInt64] = []
        for slot in rootSlots + tableSlots {
            if let oid = StoredObject.referencedOID(slot), seen.insert(oid).inserted { stack.append(oid) }
        }
        while let oid = stack.popLast() {
            guard let record = records[oid] else {
                throw bad("object \(oid) is referred to but missing")
            }
            for ref in record.referencedOIDs where seen.insert(ref).inserted { stack.append(ref) }
        }
        for oid in seen {
            if let why = Self.problem(of: records[oid]!, records) { throw bad(why) }
        }
        self.snapshot = snapshot
        self.specialsOIDs = [specialsOID, rootsOID, tableOID]
        self.specials = specials
        self.rootSlots = rootSlots
        self.tableSlots = tableSlots
        self.records = records
        self.reachable = seen.sorted()      // the order they were saved in: nil, true and false first
    }

    private static func loadAll(_ store: SQLiteStore, asOf snapshot: CommitID) throws -> [UInt64: StoredObject] {
        var records: [UInt64: StoredObject] = [:]
        var next: UInt64 = 1
        while true {
            let batch = try store.loadCluster(startingAt: next, limit: 100_000, asOf: snapshot)
            guard let last = batch.last else { return records }
            for r in batch { records[r.oid] = r }
            next = last.oid + 1
        }
    }

    /// Why the record cannot be allocated as it is, or nil.
    private static func problem(of r: StoredObject, _ records: [UInt64: StoredObject]) -> String? {
        guard let classIndex = records[r.classOID].map({ Int($0.identityHash) }), classIndex >= 1, classIndex < 1 << 22 else {
            return "the class of object \(r.oid) has no class index"
        }
        guard r.identityHash < 1 << 22 else { return "object \(r.oid) has identity hash \(r.identityHash)" }
        let (slotCount, byteCount) = r.sizes
        guard fits(format: Int(r.format), slotCount: slotCount, byteCount: byteCount, pointers: r.slots != nil) else {
            return "object \(r.oid) has format \(r.format) and \(r.slots != nil ? "\(slotCount) slots" : "\(byteCount) bytes")"
        }
        return nil
    }

    /// Whether the contents agree with the format (the unused-bytes bits of byte and word formats).
    private static func fits(format: Int, slotCount: Int, byteCount: Int, pointers: Bool) -> Bool {
        switch format {
        case 0...4: return pointers && slotCount < 1 << 40
        case Format.words64: return !pointers && byteCount % 8 == 0
        case 10, 11: return !pointers && byteCount % 4 == 0 && (byteCount / 4 + (format & 1)) % 2 == 0
        case 16...23: return !pointers && (byteCount + (format & 7)) % 8 == 0
        default: return false
        }
    }
}

extension StoredObject {
    /// (slots, bytes) of the contents.
    var sizes: (slots: Int, bytes: Int) {
        switch contents {
        case .slots(let s): (s.count, 0)
        case .bytes(let b): (0, b.count)
        case .largeBytes(let l): (0, l.count)
        }
    }
}

private struct ImageReader {
    let store: SQLiteStore
    let vm: VM

    func bad(_ why: String) -> RuntimeError { .image("\(store.path) is not a usable image: \(why)") }

    func read(into runtime: Runtime, asOf snapshot: CommitID?) throws {
        let graph = try ImageGraph(store: store, asOf: snapshot ?? store.headCommit())
        let records = graph.records
        var oops: [UInt64: Oop] = [:]
        oops.reserveCapacity(graph.reachable.count)
        for oid in graph.reachable { oops[oid] = try allocate(records[oid]!, records) }
        for oid in graph.reachable { try fill(oops[oid]!, from: records[oid]!, oops) }

        func oop(_ slot: UInt64) -> Oop { StoredObject.referencedOID(slot).map { oops[$0]! } ?? slot }
        do {
            try vm.installImageSpecials(ImageSpecials(
                roots: graph.rootSlots.map(oop), classTable: graph.tableSlots.map(oop),
                hashState: UInt64(intValue(graph.specials[3])) << 4 | 0xD, cacheEpoch: UInt64(intValue(graph.specials[4])) << 26))
        } catch let e as VMError { throw bad(e.description) }
        for oid in graph.reachable {
            let record = records[oid]!
            guard vm.classAt(vm.imageHeader(of: oops[oid]!).classIndex) == oops[record.classOID] else {
                throw bad("the class of object \(oid) is not in the class table at its index")
            }
        }

        let session = ImageSession(store: store, base: graph.snapshot, collections: vm.fullCollections)
        session.isReadOnly = snapshot != nil
        session.oids = Dictionary(uniqueKeysWithValues: oops.map { ($0.value, $0.key) })
        session.specialsOIDs = graph.specialsOIDs
        for oid in graph.reachable {
            let record = records[oid]!
            if case .largeBytes = record.contents { continue }     // rewritten once, as bytes
            session.fingerprints[oid] = record.fingerprint
        }
        runtime.imageSession = session
    }

    private func allocate(_ r: StoredObject, _ records: [UInt64: StoredObject]) throws -> Oop {
        let (slotCount, byteCount) = r.sizes
        guard let o = vm.allocateImageObject(classIndex: Int(records[r.classOID]!.identityHash), format: Int(r.format),
                                             hash: Int(r.identityHash), slotCount: slotCount, byteCount: byteCount) else {
            throw RuntimeError.image("\(store.path) does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        return o
    }

    private func fill(_ o: Oop, from r: StoredObject, _ oops: [UInt64: Oop]) throws {
        switch r.contents {
        case .slots(let slots):
            for (i, slot) in slots.enumerated() {
                vm.setImageSlot(o, i, StoredObject.referencedOID(slot).map { oops[$0]! } ?? slot)
            }
        case .bytes(let bytes):
            bytes.withUnsafeBytes { vm.setImageBytes(o, $0) }
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
