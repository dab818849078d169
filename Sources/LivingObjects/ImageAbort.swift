// Aborting: every persistent object goes back to its state in the store's newest commit (those this
// session changed and those other sessions committed since), and the methods compiled since the last
// commit are forgotten. The session then continues from that commit, so that a commit that conflicted
// can be tried again.

import Store
import VMCore

extension Runtime {
    /// Puts back the committed state of every object that has an OID (as of the newest commit, or
    /// for a read-only view, as of the commit it shows): the objects this session
    /// changed since it last committed (the VM's changed objects), and those other sessions committed
    /// since. An object whose size or class changed is replaced (`become`); objects they refer to that
    /// memory does not hold become ghosts, and ghosts stay ghosts (loaded as of the new head when
    /// used). Objects made since are no longer reachable from persistent ones. The running processes'
    /// state is left alone, so an abort may run in the middle of an evaluation.
    public func abortImage() throws {
        guard let session = imageSession else { throw RuntimeError.image("no image is open") }
        session.lookUpBlobClass()
        session.savedSpecials = nil     // the records of the roots and class table are read again
        do { _ = try vm.prepareImageSave() } catch let e as VMError { throw RuntimeError.image(e.description) }
        // Every object is old now, and nothing below collects: addresses stay put.
        var restore = ImageRestore(vm: vm, session: session)
        // The reads agree with each other although a gc may run meanwhile (Store/ConsistentReads.swift).
        do {
            // A view of the past goes back to the commit it shows, not to the newest.
            let head = session.isReadOnly ? session.snapshot : try session.store.headCommit()
            try session.store.withConsistentReads(asOf: head) {
                try restore.load(head)
                Self.betweenAbortReadsForTests?()
                try restore.apply()
            }
        } catch let e as StoreError {
            throw RuntimeError.image("cannot read \(session.store.path): \(e)")
        }
        releaseClassIndices(notIn: restore.headClassTable, session)
    }

    /// Tests: runs after an abort has read the records to put back, before it reads what they refer to.
    nonisolated(unsafe) static var betweenAbortReadsForTests: (() -> Void)?

    /// The classes made since the last commit are forgotten with everything else: their class-table
    /// entries are given back (after a full collection, those of classes whose instances are all
    /// garbage), so that the next class made takes the first free index again. Not those of classes
    /// with an OID still registered there that the head's class table left out (another session
    /// rolled back to before them): this session may still hold them, and their instances (a class,
    /// for a metaclass) know their class by index only.
    private func releaseClassIndices(notIn headTable: [UInt64], _ session: ImageSession) {
        let nilReference = session.oids[vm.nilObj].map(StoredObject.reference)
        let leftOver = (VM.ghostClassIndex + 1..<vm.classTableSize).filter { i in
            let cls = vm.classTableEntry(i)
            return cls != 0 && (i >= headTable.count || headTable[i] == nilReference)
                && (session.oids[cls] == nil || vm.registeredClass(at: i) == nil)
        }
        if leftOver.isEmpty { return }
        vm.fullGC()
        vm.releaseClassIndices(Set(leftOver), floor: headTable.count)
    }
}

/// One abort: first the records are read from the store (nothing in memory changes if that fails),
/// then applied.
private struct ImageRestore {
    let vm: VM
    let session: ImageSession
    let loader: ImageLoader
    let builder: ImageObjectBuilder
    var head = CommitID(0)
    /// The committed records to put back, by OID (objects in memory, loaded, and the VM-state records).
    var records: [UInt64: StoredObject] = [:]
    /// Ghosts whose objects other sessions changed: their headers as of the head (and, when classes
    /// change index, those of every ghost: their instances may change size).
    var changedGhosts: [UInt64: StoredHeader] = [:]
    /// Classes whose version the abort changes (another session redefined them, or this session's
    /// redefinition is undone), by OID: their index now and in the head. The two are the same when
    /// this session and another each made a version at the same index.
    var reindexed: [UInt64: (from: Int, to: Int)] = [:]
    /// The store's shapes of the classes whose records, ghosts or instances may need migrating, and
    /// the least class index above every index a shape is recorded for.
    var shapes: (classes: Set<UInt64>, fresh: [ClassShape], indexFloor: Int) = ([], [], 0)
    /// The class table of the head (references).
    private(set) var headClassTable: [UInt64] = []

    init(vm: VM, session: ImageSession) {
        self.vm = vm
        self.session = session
        loader = session.loader ?? ImageLoader(session: session, vm: vm)
        session.loader = loader
        builder = ImageObjectBuilder(store: session.store, vm: vm)
    }

    /// The classes of Semaphores and Mutexes: their state (signals, waiting processes, owner) is the
    /// running processes', which an abort leaves alone. Put back, a lock held across an abort was
    /// given one permit too many when its holder left it, and a delay waited on never ended.
    private func synchronizerClassIndices() -> Set<Int> {
        var indices: Set<Int> = [vm.imageHeader(of: vm.root(.classSemaphore)).hash]
        if let mutex = session.classIndex(ofGlobal: "Mutex") { indices.insert(mutex) }
        return indices
    }

    mutating func load(_ head: CommitID) throws {
        let store = session.store
        self.head = head
        var wanted = changedObjects()
        if session.snapshot < head {
            for id in session.snapshot.rawValue + 1...head.rawValue {
                wanted.formUnion(try store.changedOIDs(commit: CommitID(id)).filter { session.objects[$0] != nil })
            }
        }
        let synchronizers = synchronizerClassIndices()
        wanted = wanted.filter { oid in
            session.objects[oid].map { vm.liveProcessState($0) == nil && !synchronizers.contains(vm.imageHeader(of: $0).classIndex) } ?? true
        }
        let ghosts = wanted.filter { session.objects[$0].map(vm.isGhost) ?? false }
        wanted.subtract(ghosts)
        wanted.formUnion(session.specialsOIDs)
        // An OID handed out by a commit that then failed has no record: its object is simply forgotten.
        for r in try store.records(of: Array(wanted), asOf: head) { records[r.oid] = r }
        for h in try store.headers(of: Array(ghosts), asOf: head) { changedGhosts[h.oid] = h }
        let headIndexes = records.mapValues { Int($0.identityHash) }.merging(changedGhosts.mapValues { Int($0.identityHash) }) { a, _ in a }
        for (oid, index) in headIndexes {
            guard let o = session.objects[oid], vm.isClass(o) else { continue }
            let now = vm.imageHeader(of: o).hash
            if now != index || session.shapes.isMadeVersion(oid, index: now) { reindexed[oid] = (now, index) }
        }
        if !reindexed.isEmpty {
            // Their instances loaded unchanged are put back from their records too: memory may lack
            // what the version they were migrated to dropped.
            let loaded = reindexed.values.flatMap { vm.allInstances(ofClassIndex: $0.from) }.compactMap { o in
                session.oids[o].flatMap { records[$0] == nil && vm.liveProcessState(o) == nil ? $0 : nil }
            }
            for r in try store.records(of: loaded, asOf: head) { records[r.oid] = r }
            // Ghosts of their instances (those that keep another class's OID are not) may change size.
            let more = session.objects.compactMap { oid, o in
                vm.isGhost(o) && changedGhosts[oid] == nil && vm.ghostClassOID(o).map { reindexed[$0] != nil } ?? true ? oid : nil
            }
            for h in try store.headers(of: more, asOf: head) { changedGhosts[h.oid] = h }
        }
        // The shapes of the classes whose records or ghosts may need migrating (ImageShapes.swift).
        let shaped = records.values.filter { $0.slots != nil }.map { ($0.classOID, $0.shape) }
            + changedGhosts.values.filter { $0.kind == .slots }.map { ($0.classOID, $0.shape) }
        let classes = Set(shaped.compactMap { classOID, shape in
            currentIndex(classOID).map { UInt32($0) != shape } ?? false ? classOID : nil
        }).union(reindexed.keys)
        shapes = (classes, try store.classShapes(of: Array(classes)), try store.highestShapeIndex() + 1)
    }

    /// The class index a class has in the head: from its record if the abort puts one back, else as in memory.
    func currentIndex(_ classOID: UInt64) -> Int? {
        if let r = records[classOID] { return Int(r.identityHash) }
        if let h = changedGhosts[classOID] { return Int(h.identityHash) }
        return session.objects[classOID].map { vm.imageHeader(of: $0).hash }
    }

    /// The changed objects whose record differs from the one committed (or that cannot be saved as
    /// they are). Ghosts are unchanged.
    private func changedObjects() -> Set<UInt64> {
        Set(session.recordChanged(among: vm.changedObjects).map(\.oid))
    }

    mutating func apply() throws {
        let specials = try specialsRecords()
        headClassTable = specials.classTable
        session.shapes.restart(fresh: shapes.fresh, of: shapes.classes)
        vm.classIndexFloor = shapes.indexFloor
        let symbols = putsBackSymbolTable(specials.roots) ? vm.symbols() : []
        // Objects in memory that are instances of classes changing index and are not put back from a
        // record are migrated as they are (those made since).
        let migratedInMemory = migrateInstancesOfReindexedClasses()
        // Classes made since the last commit at a class index the head gives another class move away.
        movesClassesOutOfTheWay(of: specials.classTable)
        // From now on objects are read as of the head; what the records refer to and memory does not
        // hold becomes a ghost.
        session.snapshot = head
        session.committedSinceSnapshot = []
        session.madeSinceSnapshot = []
        session.unseenWrites = ([], [])
        do {
            try loader.makeGhosts(for: records.values.flatMap(\.referencedOIDs), classIndex: currentIndex)
        } catch let e as ImageLoader.LoadProblem { throw builder.bad(e.text) }
        var replacements: [UInt64: Oop] = [:], inPlace: [UInt64: Oop] = [:], restored: [UInt64: StoredObject] = [:]
        let nilReference = StoredObject.reference(session.oids[vm.nilObj] ?? 0)
        for (oid, record) in records where !session.specialsOIDs.contains(oid) {
            guard let index = currentIndex(record.classOID) else { throw builder.bad("the class of object \(record.oid) is missing") }
            // Written with another version of its class than the head's: migrated (ImageShapes.swift).
            do { restored[oid] = try session.shapes.migrated(record, current: index, nilReference: nilReference) } catch let e as ImageLoader.LoadProblem {
                throw builder.bad(e.text)
            }
            if let o = session.objects[oid], builder.hasShape(o, of: restored[oid]!, classIndex: index) { inPlace[oid] = o; continue }
            replacements[oid] = try builder.allocate(restored[oid]!, classIndex: index)
        }
        func oop(_ oid: UInt64) -> Oop? { replacements[oid] ?? session.objects[oid] }
        for (oid, o) in inPlace { try builder.fill(o, from: restored[oid]!, oop: oop) }
        for (oid, o) in replacements { try builder.fill(o, from: restored[oid]!, oop: oop) }
        // A ghost whose object changed size or identity hash is replaced by a ghost of the new one.
        var ghostReplacements: [UInt64: Oop] = [:]
        for (oid, h) in changedGhosts {
            let words = session.shapes.ghostWords(h, current: currentIndex(h.classOID))
            guard let ghost = session.objects[oid], vm.isGhost(ghost),
                  !vm.ghostFits(ghost, words: words) || vm.imageHeader(of: ghost).hash != Int(h.identityHash),
                  let fresh = vm.allocateGhost(oid: oid, hash: Int(h.identityHash), words: words, classOID: h.classOID) else { continue }
            ghostReplacements[oid] = fresh
        }
        var replaced = replacements.merging(ghostReplacements) { a, _ in a }.compactMap { oid, new in session.objects[oid].map { ($0, new, Optional(oid)) } }
        replaced += migratedInMemory.map { ($0, $1, session.oids[$0]) }
        if !replaced.isEmpty { vm.become(replaced.map(\.0), replaced.map(\.1), twoWay: false) }
        for case let (old, new, oid?) in replaced {
            session.forget(old)
            session.adopt(new, oid: oid)
        }
        // Every persistent object is as committed now (the objects that referred to a replaced one
        // refer to its replacement, which has its OID; filling objects in place does not note them).
        vm.clearChangedObjects()
        for (oid, record) in records {
            if case .largeBytes = record.contents, !record.isBlob { session.fingerprints[oid] = nil } else { session.fingerprints[oid] = record.fingerprint }
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
        session.shapes.dropPending()
        // What the VM reads of the objects put back without sending is loaded, as a fault would.
        do { try loader.completeRestored(Array(restored.values)) } catch let e as ImageLoader.LoadProblem { throw builder.bad(e.text) }
        for oid in restored.keys { if let o = session.objects[oid] { vm.freezeIfCode(o) } }
    }

    /// Copies, as instances of the head's version of their class, of the objects in memory whose class
    /// changes index and that no record puts back (old object, copy).
    private func migrateInstancesOfReindexedClasses() -> [(Oop, Oop)] {
        var copies: [(Oop, Oop)] = []
        for (classOID, change) in reindexed {
            guard let cls = session.objects[classOID],
                  let old = session.shapes.memoryShape(of: cls, oid: classOID, loading: false),
                  let new = session.shapes.shape(classOID, index: change.to) else { continue }
            for o in vm.allInstances(ofClassIndex: change.from) where session.oids[o].map({ records[$0] == nil }) ?? true {
                if let copy = session.migratedCopy(of: o, from: old, to: new) { copies.append((o, copy)) }
            }
        }
        return copies
    }

    /// Moves the classes made since the last commit (they have no OID) that sit at a class index the
    /// head gives another class to new indices (released after the abort if nothing needs them).
    private func movesClassesOutOfTheWay(of headTable: [UInt64]) {
        let nilReference = session.oids[vm.nilObj].map(StoredObject.reference)
        let taken = (VM.ghostClassIndex + 1..<min(headTable.count, vm.classTableSize)).filter { i in
            guard headTable[i] != nilReference, let cls = vm.registeredClass(at: i) else { return false }
            return session.oids[cls] == nil
        }
        if !taken.isEmpty { vm.moveClasses(from: taken) }
    }

    /// Whether the symbol table is put back (its two Arrays, or the root naming it): only then must
    /// the symbols in it now be kept unique.
    private func putsBackSymbolTable(_ roots: [UInt64]) -> Bool {
        let table = vm.root(.symbolTable)
        guard roots.count > Root.symbolTable.rawValue, let tableOID = session.oids[table],
              StoredObject.referencedOID(roots[Root.symbolTable.rawValue]) == tableOID else { return true }
        return [table, vm.fetchSlot(table, 1)].contains { session.oids[$0].map { records[$0] != nil } ?? true }
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
