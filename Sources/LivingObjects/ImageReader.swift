// Opening an image: every object of the head snapshot reachable from `specialObjects` is read
// (eagerly, in large clusters), allocated in old space with its class index, format and identity
// hash, then its references are fixed and the VM's roots and class table restored.

import Foundation
import Store
import VMCore

extension Runtime {
    /// Opens the object space saved in the image at `path` (see `commitImage`); commits go back to it.
    public convenience init(image path: String, configuration: VMConfiguration = VMConfiguration()) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw RuntimeError.image("\(path): no such image") }
        let store: SQLiteStore
        do { store = try SQLiteStore.open(path: path) } catch { throw RuntimeError.image("cannot open image \(path): \(error)") }
        try self.init(emptyWith: configuration)
        do { try ImageReader(store: store, vm: vm).read(into: self) } catch let e as StoreError {
            throw RuntimeError.image("cannot read image \(path): \(e)")
        }
    }
}

private struct ImageReader {
    let store: SQLiteStore
    let vm: VM

    var builder: ImageObjectBuilder { ImageObjectBuilder(store: store, vm: vm) }
    func bad(_ why: String) -> RuntimeError { builder.bad(why) }

    func read(into runtime: Runtime) throws {
        let head = try store.headCommit()
        guard let specialsOID = try store.root(named: ImageSpecialsRecord.rootName, asOf: head) else {
            throw bad("it holds no object space (no \(ImageSpecialsRecord.rootName) root)")
        }
        let records = try loadAll(asOf: head)
        guard let specials = records[specialsOID]?.slots, specials.count == ImageSpecialsRecord.size,
              specials[0] == intOop(ImageSpecialsRecord.version),
              let rootsOID = StoredObject.referencedOID(specials[1]), let rootSlots = records[rootsOID]?.slots,
              let tableOID = StoredObject.referencedOID(specials[2]), let tableSlots = records[tableOID]?.slots,
              isSmallInt(specials[3]), isSmallInt(specials[4]) else {
            throw bad("its \(ImageSpecialsRecord.rootName) record is not an image version \(ImageSpecialsRecord.version) header")
        }
        let reachable = try reachableOIDs(from: rootSlots + tableSlots, records)
        var oops: [UInt64: Oop] = [:]
        oops.reserveCapacity(reachable.count)
        let builder = self.builder
        for oid in reachable {
            let record = records[oid]!
            oops[oid] = try builder.allocate(record, classIndex: builder.classIndex(ofClassRecord: records[record.classOID], for: oid))
        }
        for oid in reachable { try builder.fill(oops[oid]!, from: records[oid]!) { oops[$0] } }

        func oop(_ slot: UInt64) -> Oop { StoredObject.referencedOID(slot).map { oops[$0]! } ?? slot }
        // Identity hashes need only be well spread: each session starts its own sequence.
        let hashState = UInt64.random(in: 0...UInt64.max) << 4 | 0xD
        do {
            try vm.installImageSpecials(ImageSpecials(
                roots: rootSlots.map(oop), classTable: tableSlots.map(oop),
                hashState: hashState, cacheEpoch: UInt64(intValue(specials[4])) << 26))
        } catch let e as VMError { throw bad(e.description) }
        for oid in reachable {
            let record = records[oid]!
            guard vm.classAt(vm.imageHeader(of: oops[oid]!).classIndex) == oops[record.classOID] else {
                throw bad("the class of object \(oid) is not in the class table at its index")
            }
        }

        let session = ImageSession(store: store, base: head)
        session.oids = Dictionary(uniqueKeysWithValues: oops.map { ($0.value, $0.key) })
        session.specialsOIDs = [specialsOID, rootsOID, tableOID]
        session.headerCounters = (intValue(specials[3]), intValue(specials[4]))
        for oid in reachable + session.specialsOIDs {
            let record = records[oid]!
            if case .largeBytes = record.contents { continue }     // rewritten once, as bytes
            session.fingerprints[oid] = record.fingerprint
        }
        runtime.imageSession = session
    }

    private func loadAll(asOf head: CommitID) throws -> [UInt64: StoredObject] {
        var records: [UInt64: StoredObject] = [:]
        var next: UInt64 = 1
        while true {
            let batch = try store.loadCluster(startingAt: next, limit: 100_000, asOf: head)
            guard let last = batch.last else { return records }
            for r in batch { records[r.oid] = r }
            next = last.oid + 1
        }
    }

    /// Older commits may have left objects nobody refers to: only the reachable ones are loaded,
    /// in OID order (the order they were saved in, nil, true and false first).
    private func reachableOIDs(from roots: [UInt64], _ records: [UInt64: StoredObject]) throws -> [UInt64] {
        var seen = Set<UInt64>(), stack: [UInt64] = []
        for slot in roots { if let oid = StoredObject.referencedOID(slot), seen.insert(oid).inserted { stack.append(oid) } }
        while let oid = stack.popLast() {
            guard let record = records[oid] else { throw bad("object \(oid) is referred to but missing") }
            for ref in record.referencedOIDs where seen.insert(ref).inserted { stack.append(ref) }
        }
        return seen.sorted()
    }
}
