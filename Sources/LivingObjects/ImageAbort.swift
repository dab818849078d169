// Aborting: every persistent object goes back to its state in the store's newest commit (those this
// session changed and those other sessions committed since), and the methods compiled since the last
// commit are forgotten. The session then continues from that commit, so that a commit that conflicted
// can be tried again.

import Store
import VMCore

extension Runtime {
    /// Puts back the committed state of every object that has an OID: the objects this session
    /// changed since it last committed (the VM's changed objects), and those other sessions committed
    /// since. An object whose size or class changed is replaced (`become`); objects they refer to
    /// that are no longer in memory are read back. Objects made since are no longer reachable from persistent ones. The
    /// running processes' state is left alone, so an abort may run in the middle of an evaluation.
    public func abortImage() throws {
        guard let session = imageSession else { throw RuntimeError.image("no image is open") }
        do { _ = try vm.prepareImageSave() } catch let e as VMError { throw RuntimeError.image(e.description) }
        // Every object is old now, and nothing below collects: addresses stay put.
        var restore = ImageRestore(vm: vm, session: session)
        do {
            try restore.load()
        } catch let e as StoreError {
            throw RuntimeError.image("cannot read \(session.store.path): \(e)")
        }
        try restore.apply()
    }
}

/// One abort: first everything is read from the store (nothing in memory changes if that fails),
/// then applied.
private struct ImageRestore {
    let vm: VM
    let session: ImageSession
    let builder: ImageObjectBuilder
    var head = CommitID(0)
    /// The committed records to put back or read in, by OID.
    var records: [UInt64: StoredObject] = [:]

    init(vm: VM, session: ImageSession) {
        self.vm = vm
        self.session = session
        builder = ImageObjectBuilder(store: session.store, vm: vm)
    }

    /// The objects that have an OID.
    var objects: [UInt64: Oop] { session.objects }

    mutating func load() throws {
        let store = session.store
        head = try store.headCommit()
        var wanted = changedObjects()
        if session.base < head {
            for id in session.base.rawValue + 1...head.rawValue {
                wanted.formUnion(try store.changedOIDs(commit: CommitID(id)).filter { objects[$0] != nil })
            }
        }
        wanted.formUnion(session.specialsOIDs)
        wanted = wanted.filter { objects[$0].map { vm.liveProcessState($0) == nil } ?? true }
        for r in try loadExisting(Array(wanted)) { records[r.oid] = r }
        // Whatever the records refer to and memory no longer holds is read back too.
        var missing = Set(records.values.flatMap(\.referencedOIDs)).filter { objects[$0] == nil && records[$0] == nil }
        while !missing.isEmpty {
            let loaded = try store.load(oids: Array(missing), asOf: head)
            for r in loaded { records[r.oid] = r }
            missing = Set(loaded.flatMap(\.referencedOIDs)).filter { objects[$0] == nil && records[$0] == nil }
        }
    }

    /// The changed objects whose record differs from the one committed (or that cannot be saved as they are).
    private func changedObjects() -> Set<UInt64> {
        let candidates = vm.changedObjects
        var saved = SavedContents(vm)
        for o in candidates { saved.noteLiterals(of: o) }
        var changed = Set<UInt64>()
        for o in candidates {
            guard let oid = session.oids[o] else { continue }
            let record = session.record(of: o, oid: oid, contents: saved.of(o), vm: vm)
            if record == nil || record!.fingerprint != session.fingerprints[oid] { changed.insert(oid) }
        }
        return changed
    }

    /// The records of those OIDs the store has as of `head` (an OID handed out by a commit that
    /// then failed has none: its object is simply forgotten).
    private func loadExisting(_ oids: [UInt64]) throws -> [StoredObject] {
        do {
            return try session.store.load(oids: oids, asOf: head)
        } catch StoreError.objectsNotFound(let absent, _) {
            let absent = Set(absent)
            return try session.store.load(oids: oids.filter { !absent.contains($0) }, asOf: head)
        }
    }

    func apply() throws {
        let specials = try specialsRecords()
        let symbols = putsBackSymbolTable(specials.roots) ? vm.symbols() : []
        var replacements: [UInt64: Oop] = [:], inPlace: [UInt64: Oop] = [:]
        for (oid, record) in records where !session.specialsOIDs.contains(oid) {
            let index = try classIndex(of: record)
            if let o = objects[oid], builder.hasShape(o, of: record, classIndex: index) { inPlace[oid] = o; continue }
            replacements[oid] = try builder.allocate(record, classIndex: index)
        }
        func oop(_ oid: UInt64) -> Oop? { replacements[oid] ?? objects[oid] }
        for (oid, o) in inPlace { try builder.fill(o, from: records[oid]!, oop: oop) }
        for (oid, o) in replacements { try builder.fill(o, from: records[oid]!, oop: oop) }
        let replaced = replacements.compactMap { oid, new in objects[oid].map { ($0, new) } }
        if !replaced.isEmpty { vm.become(replaced.map(\.0), replaced.map(\.1), twoWay: false) }

        for (old, _) in replaced { session.forget(old) }
        for (oid, o) in replacements { session.adopt(o, oid: oid) }
        // Every persistent object is as committed now (the objects that referred to a replaced one
        // refer to its replacement, which has its OID).
        vm.clearChangedObjects()
        for (oid, record) in records {
            if case .largeBytes = record.contents { session.fingerprints[oid] = nil } else { session.fingerprints[oid] = record.fingerprint }
        }
        func value(_ slot: UInt64) throws -> Oop {
            guard let oid = StoredObject.referencedOID(slot) else { return slot }
            guard let o = oop(oid) else { throw builder.bad("object \(oid) is referred to but missing") }
            return o
        }
        do {
            try vm.refreshImageSpecials(roots: specials.roots.map(value), classTable: specials.classTable.map(value))
        } catch let e as VMError { throw builder.bad(e.description) }
        // Symbols made since stay unique: back into the table, or the same symbol another session made.
        vm.keepSymbols(symbols)
        session.headerCounters = specials.counters
        session.base = head
        session.pendingMethodVersions = []
    }

    /// Whether the symbol table is put back (its two Arrays, or the root naming it): only then must
    /// the symbols in it now be kept unique.
    private func putsBackSymbolTable(_ roots: [UInt64]) -> Bool {
        let table = vm.root(.symbolTable)
        guard roots.count > Root.symbolTable.rawValue, let tableOID = session.oids[table],
              StoredObject.referencedOID(roots[Root.symbolTable.rawValue]) == tableOID else { return true }
        return [table, vm.fetchSlot(table, 1)].contains { session.oids[$0].map { records[$0] != nil } ?? true }
    }

    /// A class's class index is its identity hash (its record's, or the class object's in memory).
    private func classIndex(of record: StoredObject) throws -> Int {
        if let cls = records[record.classOID] { return try builder.classIndex(ofClassRecord: cls, for: record.oid) }
        guard let cls = objects[record.classOID] else { throw builder.bad("the class of object \(record.oid) is missing") }
        return vm.imageHeader(of: cls).hash
    }

    private func specialsRecords() throws -> (roots: [UInt64], classTable: [UInt64], counters: (Int, Int)) {
        let oids = session.specialsOIDs
        guard oids.count == ImageSpecialsRecord.recordCount, let header = records[oids[0]]?.slots,
              header.count == ImageSpecialsRecord.size, header[0] == intOop(ImageSpecialsRecord.version),
              let roots = records[oids[1]]?.slots, let table = records[oids[2]]?.slots,
              isSmallInt(header[3]), isSmallInt(header[4]) else {
            throw builder.bad("its \(ImageSpecialsRecord.rootName) record is not an image version \(ImageSpecialsRecord.version) header")
        }
        return (roots, table, (intValue(header[3]), intValue(header[4])))
    }
}
