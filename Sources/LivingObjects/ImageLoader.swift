// Loading an image's objects when they are first used: ghosts are filled in place from their records,
// in batches, together with what the VM will read of them without sending a message.

import Store
import VMCore

/// Loads the objects of one session's image on demand (VMCore/Ghosts.swift says when the VM asks).
///
/// One fault is one transaction of reads, then one pass that changes memory: the records asked for
/// are read with the ghosts of the next `prefetch` OIDs (objects made together have consecutive OIDs),
/// then, round by round, the records the VM needs with them —
///
/// - the class of every object loaded (the VM reads a class's format and method dictionary directly);
/// - of a CompiledMethod or CompiledBlock: its bytecodes, its literal frame and every literal, its
///   method class (methods) or outer code (blocks) — what running it reads;
/// - of a BlockClosure: its block, receiver and copied values (the block's frame reads them);
/// - of a class: its method dictionary, the dictionary's array and associations (prefetch: lookup
///   would load them one by one);
/// - of the process scheduler: its process lists —
///
/// and the headers of every object those records refer to that is not in memory, which become new
/// ghosts. Only when every read succeeded are objects allocated and filled, so a failure leaves memory
/// as it was. If a batch with prefetched objects fails, the objects asked for are tried alone.
final class ImageLoader {
    unowned let session: ImageSession
    unowned let vm: VM
    /// How many ghosts with the OIDs following an object asked for are loaded with it.
    var prefetch = 256
    /// Objects loaded from their records so far, and ghosts made.
    private(set) var loadedCount = 0, ghostCount = 0
    /// Faults served, and the store reads they took.
    private(set) var faultCount = 0, readCount = 0

    private var store: SQLiteStore { session.store }
    private var builder: ImageObjectBuilder { ImageObjectBuilder(store: store, vm: vm) }

    init(session: ImageSession, vm: VM) {
        self.session = session
        self.vm = vm
    }

    // MARK: Faults

    /// Loads these ghosts; nil, or why they could not be loaded (the VM's `faultHandler`).
    func fault(_ ghosts: [Oop]) -> String? {
        let oids = ghosts.filter(vm.isGhost).map(vm.ghostOID)
        if oids.isEmpty { return nil }
        faultCount += 1
        do {
            try load(oids, prefetching: prefetch)
            return nil
        } catch {
            if prefetch > 0, (try? load(oids, prefetching: 0)) != nil { return nil }
            return describe(error, loading: oids)
        }
    }

    /// Loads every object of the image reachable from memory (before the heap is enumerated).
    func loadAll() -> String? {
        let ghosts = session.objects.compactMap { oid, o in vm.isGhost(o) ? oid : nil }
        if ghosts.isEmpty { return nil }
        do { try load(ghosts, prefetching: 0, everything: true) } catch { return describe(error, loading: ghosts.sorted()) }
        return nil
    }

    private func describe(_ error: Error, loading oids: [UInt64]) -> String {
        let what = oids.count == 1 ? "object \(oids[0])" : "objects \(oids.prefix(5).map(String.init).joined(separator: ", "))…"
        let why: String
        switch error {
        case let e as LoadProblem: why = e.text
        case let e as RuntimeError: why = "\(e)"
        default: why = "\(error)"
        }
        return "cannot load \(what) of the image \(store.path): \(why)"
    }

    struct LoadProblem: Error {
        let text: String
    }

    // MARK: Loading

    /// The records read for one batch, and what the VM needs of each.
    private struct Plan {
        var records: [UInt64: StoredObject] = [:]
        /// OIDs read, in the order read (a class before its instances when both are read).
        var order: [UInt64] = []
        /// Arrays whose every element is needed: literal frames, method-dictionary arrays, process lists.
        var wholeArrays: Set<UInt64> = []
    }

    /// Reads `oids` (ghosts or objects not in memory), the ghosts of the `prefetching` OIDs after each,
    /// and everything the VM needs with them (with `everything`, every object they reach); then makes
    /// them all objects.
    func load(_ oids: [UInt64], prefetching: Int, everything: Bool = false) throws {
        var plan = Plan()
        var pending = Array(Set(oids))
        var queued = Set(pending)
        if prefetching > 0 {
            for oid in oids {
                for next in oid + 1...oid + UInt64(prefetching) where !queued.contains(next) {
                    if let o = session.objects[next], vm.isGhost(o) { pending.append(next); queued.insert(next) }
                }
            }
        }
        var waiting: [UInt64] = []          // records whose class is not known yet
        var expanded = Set<UInt64>()        // whole arrays whose elements are queued
        while !pending.isEmpty {
            let found = try store.records(of: pending, asOf: session.snapshot)
            readCount += 1
            if found.count != pending.count {
                let missing = Set(pending).subtracting(found.map(\.oid)).sorted()
                throw LoadProblem(text: "object \(missing[0]) does not exist as of commit \(session.snapshot.rawValue)")
            }
            var next: [UInt64] = []
            func need(_ oid: UInt64) {
                if queued.contains(oid) { return }
                if let o = session.objects[oid], !vm.isGhost(o) { return }
                queued.insert(oid)
                next.append(oid)
            }
            for r in found {
                plan.records[r.oid] = r
                plan.order.append(r.oid)
                waiting.append(r.oid)
            }
            var stillWaiting: [UInt64] = []
            for oid in waiting {
                let r = plan.records[oid]!
                need(r.classOID)
                if everything {
                    r.referencedOIDs.forEach(need)
                } else if let kind = kind(ofInstancesOf: r.classOID, plan) {
                    needed(by: r, kind: kind, &plan).forEach(need)
                } else {
                    stillWaiting.append(oid)
                }
            }
            for array in plan.wholeArrays where !expanded.contains(array) {
                if let r = plan.records[array] {
                    expanded.insert(array)
                    r.slots?.compactMap(StoredObject.referencedOID).forEach(need)
                } else if let o = session.objects[array], !vm.isGhost(o) {
                    // Loaded before as an ordinary Array: its elements may still be ghosts.
                    expanded.insert(array)
                    for i in 0..<vm.imageSlotCount(o) where vm.isGhost(vm.fetchSlot(o, i)) { need(vm.ghostOID(vm.fetchSlot(o, i))) }
                }
            }
            if next.isEmpty && !stillWaiting.isEmpty {
                throw LoadProblem(text: "the class of object \(stillWaiting[0]) cannot be determined")
            }
            waiting = stillWaiting
            pending = next
        }
        try materialize(plan)
    }

    /// What the VM reads of instances of a class without sending to them.
    private enum Kind { case plain, compiledMethod, compiledBlock, closure, methodDictionary, behavior, scheduler }

    /// The kind of the instances of the class `classOID`; nil while it cannot be told (the class is a
    /// ghost whose record has not been read yet).
    private func kind(ofInstancesOf classOID: UInt64, _ plan: Plan) -> Kind? {
        if let kind = rootKinds[classOID] { return kind }
        // A class whose class is Metaclass is a metaclass: its instances are classes.
        let metaclass = session.oids[vm.root(.classMetaclass)]
        if let r = plan.records[classOID] { return r.classOID == metaclass ? .behavior : .plain }
        guard let cls = session.objects[classOID], !vm.isGhost(cls) else { return nil }
        return vm.classOf(cls) == vm.root(.classMetaclass) ? .behavior : .plain
    }

    private lazy var rootKinds: [UInt64: Kind] = {
        var kinds: [UInt64: Kind] = [:]
        let roots: [(Root, Kind)] = [(.classCompiledMethod, .compiledMethod), (.classCompiledBlock, .compiledBlock),
                                     (.classBlockClosure, .closure), (.classMethodDictionary, .methodDictionary),
                                     (.classMetaclass, .behavior), (.classProcessorScheduler, .scheduler)]
        for (root, kind) in roots { if let oid = session.oids[vm.root(root)] { kinds[oid] = kind } }
        return kinds
    }()

    /// The objects `r` refers to that the VM reads without sending (see the type's comment).
    private func needed(by r: StoredObject, kind: Kind, _ plan: inout Plan) -> [UInt64] {
        guard let slots = r.slots else { return [] }
        func ref(_ i: Int) -> UInt64? { i < slots.count ? StoredObject.referencedOID(slots[i]) : nil }
        switch kind {
        case .plain: return []
        case .compiledMethod, .compiledBlock:
            if let literals = ref(CodeLayout.literals) { plan.wholeArrays.insert(literals) }
            return [ref(CodeLayout.bytecodes), ref(CodeLayout.literals),
                    ref(kind == .compiledMethod ? CodeLayout.methodClass : CodeLayout.outerCode)].compactMap { $0 }
        case .closure:
            return [ClosureLayout.compiledBlock, ClosureLayout.receiver].compactMap(ref)
                + slots.dropFirst(ClosureLayout.fixedSize).compactMap(StoredObject.referencedOID)
        case .methodDictionary:
            if let array = ref(DictLayout.array) { plan.wholeArrays.insert(array) }
            return [ref(DictLayout.array)].compactMap { $0 }
        case .behavior:
            return [ref(ClassLayout.methodDict)].compactMap { $0 }
        case .scheduler:
            if let lists = ref(SchedulerLayout.processLists) { plan.wholeArrays.insert(lists) }
            return [ref(SchedulerLayout.processLists)].compactMap { $0 }
        }
    }

    /// Allocates ghosts for what the plan's records refer to and memory does not hold, allocates the
    /// records not in memory and turns the ghosts among them into their objects, then fills them all.
    private func materialize(_ plan: Plan) throws {
        var absent = Set<UInt64>()
        for r in plan.records.values {
            for oid in r.referencedOIDs where plan.records[oid] == nil && session.objects[oid] == nil { absent.insert(oid) }
        }
        let headers = absent.isEmpty ? [] : try store.headers(of: Array(absent), asOf: session.snapshot)
        if !absent.isEmpty { readCount += 1 }
        var bytes = 0
        for h in headers { bytes += vm.ghostBytes(words: words(h)) }
        bytes += (absent.count - headers.count) * vm.ghostBytes(words: 0)
        for r in plan.records.values where session.objects[r.oid] == nil { bytes += vm.ghostBytes(words: words(r.header)) }
        guard vm.oldSpaceHasRoom(for: bytes) else {
            throw LoadProblem(text: "it does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        // Checked before anything changes: each record's class and shape.
        var classIndexes: [UInt64: Int] = [:]
        for oid in plan.order {
            let r = plan.records[oid]!
            classIndexes[oid] = try classIndex(of: r, plan)
            let h = r.header
            guard ImageObjectBuilder.fits(format: Int(r.format), slotCount: h.kind == .slots ? h.count : 0,
                                          byteCount: h.kind == .slots ? 0 : h.count, pointers: h.kind == .slots),
                  r.identityHash > 0, r.identityHash < 1 << 22 else {
                throw LoadProblem(text: "object \(oid) has format \(r.format), \(h.count) \(h.kind == .slots ? "slots" : "bytes") and identity hash \(r.identityHash)")
            }
            if let o = session.objects[oid] {
                guard vm.imageSlotCount(o) == words(h), vm.imageHeader(of: o).hash == Int(r.identityHash) else {
                    throw LoadProblem(text: "object \(oid) is not the size or identity hash it had when it was referred to")
                }
            }
        }
        // Missing objects become ghosts too: loading one of them says it is missing.
        let found = Set(headers.map(\.oid))
        for h in headers { try makeGhost(h.oid, hash: Int(h.identityHash), words: words(h)) }
        for oid in absent where !found.contains(oid) { try makeGhost(oid, hash: 0, words: 0) }
        for oid in plan.order {
            let r = plan.records[oid]!
            if let o = session.objects[oid] {
                vm.materializeGhost(o, classIndex: classIndexes[oid]!, format: Int(r.format))
            } else {
                let o = try builder.allocate(r, classIndex: classIndexes[oid]!)
                session.register(o, oid: oid)
            }
        }
        for oid in plan.order {
            let r = plan.records[oid]!
            try builder.fill(session.objects[oid]!, from: r) { session.objects[$0] }
            if case .largeBytes = r.contents { continue }     // rewritten once, as bytes
            session.fingerprints[oid] = r.fingerprint
        }
        loadedCount += plan.order.count
    }

    /// A class's class index is its identity hash; the class must be in the class table there.
    private func classIndex(of r: StoredObject, _ plan: Plan) throws -> Int {
        guard let cls = session.objects[r.classOID] else {
            throw LoadProblem(text: "the class of object \(r.oid) (object \(r.classOID)) is not in the class table")
        }
        let index = vm.imageHeader(of: cls).hash
        guard index != VM.ghostClassIndex, vm.classAt(index) == cls else {
            throw LoadProblem(text: "the class of object \(r.oid) is not in the class table at its index")
        }
        return index
    }

    private func makeGhost(_ oid: UInt64, hash: Int, words: Int) throws {
        guard let o = vm.allocateGhost(oid: oid, hash: hash, words: words) else {
            throw LoadProblem(text: "it does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        session.register(o, oid: oid)
        ghostCount += 1
    }

    /// Heap words of an object with this header: slots, or bytes rounded up to words.
    private func words(_ h: StoredHeader) -> Int { h.kind == .slots ? h.count : (h.count + 7) / 8 }

    // MARK: Objects put into memory from outside a fault

    /// After an abort wrote these records into memory: loads what the VM reads of them without sending
    /// (their classes, then what their kinds need), as a fault would have.
    func completeRestored(_ records: [StoredObject]) throws {
        func ghosts(_ oids: [UInt64]) -> [UInt64] { oids.filter { session.objects[$0].map(vm.isGhost) ?? false } }
        let classes = ghosts(records.map(\.classOID))
        if !classes.isEmpty { try load(classes, prefetching: 0) }
        var plan = Plan()
        var needed: [UInt64] = []
        for r in records { if let kind = kind(ofInstancesOf: r.classOID, plan) { needed += self.needed(by: r, kind: kind, &plan) } }
        for array in plan.wholeArrays {
            guard let o = session.objects[array], !vm.isGhost(o) else { continue }
            for i in 0..<vm.imageSlotCount(o) where vm.isGhost(vm.fetchSlot(o, i)) { needed.append(vm.ghostOID(vm.fetchSlot(o, i))) }
        }
        let dependents = ghosts(needed)
        if !dependents.isEmpty { try load(dependents, prefetching: 0) }
    }

    // MARK: Ghosts for objects referred to from outside a fault

    /// Ghosts for those of `oids` memory does not hold yet (opening, abort): one read of headers. An
    /// object that does not exist becomes a ghost that fails to load, or, with `existing`, an error.
    func makeGhosts(for oids: [UInt64], existing: Bool = false) throws {
        let absent = Array(Set(oids.filter { session.objects[$0] == nil }))
        if absent.isEmpty { return }
        let headers = try store.headers(of: absent, asOf: session.snapshot)
        readCount += 1
        let found = Set(headers.map(\.oid))
        if existing, let missing = absent.filter({ !found.contains($0) }).min() {
            throw LoadProblem(text: "object \(missing) is referred to but missing")
        }
        for h in headers { try makeGhost(h.oid, hash: Int(h.identityHash), words: words(h)) }
        for oid in absent where !found.contains(oid) { try makeGhost(oid, hash: 0, words: 0) }
    }
}

extension Runtime {
    /// Objects of the image loaded from their records so far (the VM state and roots at opening,
    /// then what was used). For tests, benchmarks and curiosity.
    public var loadedObjectCount: Int { imageSession?.loader?.loadedCount ?? 0 }

    /// Ghosts now in memory: objects of the image referred to but not loaded.
    public var ghostCount: Int { imageSession.map { s in s.objects.values.reduce(0) { $0 + (vm.isGhost($1) ? 1 : 0) } } ?? 0 }

    /// Faults served so far, and the store reads they took.
    public var faultStatistics: (faults: Int, reads: Int) {
        (imageSession?.loader?.faultCount ?? 0, imageSession?.loader?.readCount ?? 0)
    }

    /// How many ghosts with the OIDs following a ghost used are loaded with it (default 256).
    public var prefetchCount: Int {
        get { imageSession?.loader?.prefetch ?? 0 }
        set { imageSession?.loader?.prefetch = max(0, newValue) }
    }
}
