// Opening an image: the records naming the VM state are read, the VM's roots and class table made
// ghosts and installed, and the roots the VM reads directly loaded; everything else is loaded when
// first used (ImageLoader). ImageGraph reads a snapshot whole, without a VM, for checks.

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
        let (slotCount, byteCount, pointers) = r.heapShape
        guard ImageObjectBuilder.fits(format: Int(r.format), slotCount: slotCount, byteCount: byteCount, pointers: pointers) else {
            return "object \(r.oid) has format \(r.format) and \(pointers ? "\(slotCount) slots" : "\(byteCount) bytes")"
        }
        return nil
    }
}

/// Opens an image lazily: only the VM state is read; every other object is a ghost until used.
private struct ImageReader {
    let store: SQLiteStore
    let vm: VM

    func bad(_ why: String, asOf snapshot: CommitID, head: CommitID) -> RuntimeError {
        .image("\(store.path)\(snapshot == head ? "" : " as of commit \(snapshot.rawValue)") is not a usable image: \(why)")
    }

    func read(into runtime: Runtime, asOf requested: CommitID?) throws {
        let gcGeneration = try store.gcGeneration()
        let head = try store.headCommit()
        let snapshot = requested ?? head
        // The reads agree with each other although a gc may run meanwhile (Store/ConsistentReads.swift).
        try store.withConsistentReads(asOf: snapshot) {
            try read(into: runtime, asOf: snapshot, head: head, readOnly: requested != nil, gcGeneration: gcGeneration)
        }
    }

    private func read(into runtime: Runtime, asOf snapshot: CommitID, head: CommitID, readOnly: Bool, gcGeneration: UInt32) throws {
        guard try store.isIntact(snapshot) else {
            throw RuntimeError.image("""
                \(store.path): the state as of commit \(snapshot.rawValue) was reclaimed by gc (it keeps every state \
                of its window and those of named checkpoints)
                """)
        }
        func bad(_ why: String) -> RuntimeError { self.bad(why, asOf: snapshot, head: head) }
        guard let specialsOID = try store.root(named: ImageSpecialsRecord.rootName, asOf: snapshot) else {
            throw bad("it holds no object space (no \(ImageSpecialsRecord.rootName) root)")
        }
        let specialsRecord = try store.load(oid: specialsOID, asOf: snapshot)
        guard let specials = specialsRecord?.slots, specials.count == ImageSpecialsRecord.size,
              specials[0] == intOop(ImageSpecialsRecord.version),
              let rootsOID = StoredObject.referencedOID(specials[1]), let tableOID = StoredObject.referencedOID(specials[2]),
              isSmallInt(specials[3]), isSmallInt(specials[4]) else {
            throw bad("its \(ImageSpecialsRecord.rootName) record is not an image version \(ImageSpecialsRecord.version) header")
        }
        let arrays = try store.records(of: [rootsOID, tableOID], asOf: snapshot)
        guard let rootSlots = arrays.first(where: { $0.oid == rootsOID })?.slots,
              let tableSlots = arrays.first(where: { $0.oid == tableOID })?.slots else {
            throw bad("the records of its VM roots and class table are missing")
        }

        vm.classIndexFloor = try store.highestShapeIndex() + 1
        let session = ImageSession(store: store, base: snapshot, gcGeneration: gcGeneration, vm: vm)
        session.isReadOnly = readOnly
        session.specialsOIDs = [specialsOID, rootsOID, tableOID]
        session.headerCounters = (intValue(specials[3]), intValue(specials[4]))
        for record in arrays + [specialsRecord!] { session.fingerprints[record.oid] = record.fingerprint }
        let loader = ImageLoader(session: session, vm: vm)
        session.loader = loader
        runtime.imageSession = session

        // Roots and classes start as ghosts, so that the class table can be installed before any object
        // is loaded (loading one needs its class's index); then the roots are loaded. nil, true and
        // false come first in old space, so that compaction never moves them.
        let rootOIDs = rootSlots.compactMap(StoredObject.referencedOID)
        do {
            for oid in rootOIDs.prefix(3) { try loader.makeGhosts(for: [oid], existing: true) }
            try loader.makeGhosts(for: rootOIDs + tableSlots.compactMap(StoredObject.referencedOID), existing: true)
        } catch let e as ImageLoader.LoadProblem { throw bad(e.text) }
        func oop(_ slot: UInt64) throws -> Oop {
            guard let oid = StoredObject.referencedOID(slot) else { return slot }
            guard let o = session.objects[oid] else { throw bad("object \(oid) is referred to but missing") }
            return o
        }
        // Identity hashes need only be well spread: each session starts its own sequence.
        let hashState = UInt64.random(in: 0...UInt64.max) << 4 | 0xD
        do {
            try vm.installImageSpecials(ImageSpecials(
                roots: rootSlots.map(oop), classTable: tableSlots.map(oop),
                hashState: hashState, cacheEpoch: UInt64(intValue(specials[4])) << 26))
            try loader.load(rootOIDs)
        } catch let e as VMError {
            throw bad(e.description)
        } catch let e as ImageLoader.LoadProblem {
            throw bad(e.text)
        }
        vm.installGhostClass()
    }
}
