// Loading an image's objects when they are first used: ghosts are filled in place from their records,
// in batches, together with what the VM will read of them without sending a message.

import Store
import VMCore

/// Loads the objects of one session's image on demand (VMCore/Ghosts.swift says when the VM asks).
///
/// One fault is a few reads, then one pass that changes memory: the records asked for are read with
/// those of the small ghosts among the next `prefetch` objects in memory (ghosts made together, for the
/// objects one object refers to, lie together and tend to be used together; a class's neighbours are
/// other classes, so classes prefetch nothing), then, round by round, the records the VM needs with
/// them —
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
    /// How many objects after a ghost asked for in memory are looked at for ghosts to load with it.
    var prefetch = 256
    /// Ghosts bigger than this (in words) are never prefetched.
    static let largestPrefetched = 256
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
        let asked = ghosts.filter(vm.isGhost)
        if asked.isEmpty { return nil }
        faultCount += 1
        var batch = asked
        for g in asked where prefetch > 0 && !vm.isClass(g) {
            batch += vm.ghosts(after: g, within: prefetch, maxWords: Self.largestPrefetched)
        }
        do {
            // Objects prefetched must not fill the room left for those asked for before a collection can
            // make more (it cannot run in the middle of a fault).
            try load([], ghosts: batch, keepingFree: batch.count > asked.count ? vm.oldSpaceReserve : 0)
            return nil
        } catch {
            if batch.count > asked.count, (try? load([], ghosts: asked)) != nil { return nil }
            return describe(error, loading: asked.map(vm.ghostOID))
        }
    }

    /// Loads every object of the image reachable from memory (before the heap is enumerated).
    func loadAll() -> String? {
        let ghosts = session.objects.compactMap { oid, o in vm.isGhost(o) ? oid : nil }
        if ghosts.isEmpty { return nil }
        do { try load(ghosts, everything: true) } catch { return describe(error, loading: ghosts.sorted()) }
        return nil
    }

    /// The instances of the class `cls` the image holds as of the snapshot that memory does not hold
    /// loaded (`allInstances`): found through the store's index of classes without reading other
    /// records, and answered as ghosts — those not in memory are made (one read of headers).
    func storedInstances(of cls: Oop) -> Result<[Oop], ImageInstancesProblem> {
        guard let classOID = session.oids[cls] else { return .success([]) }
        do {
            let oids = try store.instanceOIDs(ofClass: classOID, asOf: session.snapshot)
            // Room for the ghosts and the Array of them, with a quarter of old space to spare.
            try makeGhosts(for: oids, keepingFree: vm.oldSpaceReserve + 8 * oids.count)
            return .success(oids.compactMap { session.objects[$0] }.filter(vm.isGhost))
        } catch {
            return .failure(ImageInstancesProblem("cannot find the instances of \(vm.className(cls)) in the image \(store.path): \(describe(error))"))
        }
    }

    /// How many instances of the class `cls` the image holds as of the snapshot that memory does not
    /// hold loaded (no ghost is made).
    func storedInstanceCount(of cls: Oop) -> Result<Int, ImageInstancesProblem> {
        guard let classOID = session.oids[cls] else { return .success(0) }
        do {
            let oids = try store.instanceOIDs(ofClass: classOID, asOf: session.snapshot)
            return .success(oids.count { session.objects[$0].map(vm.isGhost) ?? true })
        } catch {
            return .failure(ImageInstancesProblem("cannot count the instances of \(vm.className(cls)) in the image \(store.path): \(describe(error))"))
        }
    }

    private func describe(_ error: Error) -> String {
        switch error {
        case let e as LoadProblem: e.text
        case let e as StoreError where e.isSnapshotReclaimed:
            "\(e); this session's view is older than that (System abort moves it to the newest commit)"
        case let e as RuntimeError: "\(e)"
        default: "\(error)"
        }
    }

    private func describe(_ error: Error, loading oids: [UInt64]) -> String {
        let what = oids.count == 1 ? "object \(oids[0])" : "objects \(oids.prefix(5).map(String.init).joined(separator: ", "))…"
        return "cannot load \(what) of the image \(store.path): \(describe(error))"
    }

    struct LoadProblem: Error {
        let text: String
    }

    // MARK: Loading

    /// The records read for one batch, and what the VM needs of each.
    private struct Plan {
        var records: [UInt64: StoredObject] = [:]
        /// OIDs read, in the order read.
        var order: [UInt64] = []
        /// Arrays whose every element is needed: literal frames, method-dictionary arrays, process lists.
        var wholeArrays: Set<UInt64> = []
        /// The ghosts of the records read, by OID (the rest are not in memory yet).
        var ghosts: [UInt64: Oop] = [:]
        /// Whole arrays loaded before: the VM reads their elements, which must not be forwarders.
        var arraysInMemory: [Oop] = []
    }

    /// Reads `oids` (ghosts or objects not in memory) and `ghosts`, and everything the VM needs with
    /// them (with `everything`, every object they reach); then makes them all objects, if that leaves
    /// `keepingFree` bytes of old space free.
    func load(_ oids: [UInt64], ghosts: [Oop] = [], everything: Bool = false, keepingFree: Int = 0) throws {
        let session = self.session, vm = self.vm
        var plan = Plan()
        for g in ghosts { plan.ghosts[vm.ghostOID(g)] = g }
        for oid in oids where plan.ghosts[oid] == nil {
            if let o = session.objects[oid], vm.isGhost(o) { plan.ghosts[oid] = o }
        }
        var pending = Array(Set(oids).union(plan.ghosts.keys))
        var queued = Set(pending)
        var waiting: [StoredObject] = []    // records whose class is not known yet
        var expanded = Set<UInt64>()        // whole arrays whose elements are queued
        var loadedClass: UInt64 = 0         // the last class found loaded (most records share one)
        while !pending.isEmpty {
            let found = try store.records(of: pending, asOf: session.snapshot)
            readCount += 1
            if found.count != pending.count {
                // Memory refers to it, so it existed as of the snapshot unless a gc deleted it since.
                if try !store.isIntact(session.snapshot) { throw StoreError.snapshotReclaimed(session.snapshot) }
                let missing = Set(pending).subtracting(found.map(\.oid)).sorted()
                throw LoadProblem(text: "object \(missing[0]) does not exist as of commit \(session.snapshot.rawValue)")
            }
            var next: [UInt64] = []
            func need(_ oid: UInt64) {
                if queued.contains(oid) { return }
                if let o = session.objects[oid] {
                    if !vm.isGhost(o) { return }
                    plan.ghosts[oid] = o
                }
                queued.insert(oid)
                next.append(oid)
            }
            for r in found {
                plan.records[r.oid] = r
                plan.order.append(r.oid)
            }
            waiting += found
            var stillWaiting: [StoredObject] = []
            for r in waiting {
                if r.classOID != loadedClass {
                    if let o = session.objects[r.classOID], !vm.isGhost(o) { loadedClass = r.classOID } else { need(r.classOID) }
                }
                if everything {
                    r.referencedOIDs.forEach(need)
                } else if let kind = kind(ofInstancesOf: r.classOID, plan) {
                    if kind != .plain { needed(by: r, kind: kind, &plan).forEach(need) }
                } else {
                    stillWaiting.append(r)
                }
            }
            for array in plan.wholeArrays where !expanded.contains(array) {
                if let r = plan.records[array] {
                    expanded.insert(array)
                    r.slots?.compactMap(StoredObject.referencedOID).forEach(need)
                } else if let o = session.objects[array], !vm.isGhost(o) {
                    // Loaded before as an ordinary Array: its elements may still be ghosts (or forwarders).
                    expanded.insert(array)
                    plan.arraysInMemory.append(o)
                    for i in 0..<vm.valueSlotCount(o) where vm.isGhost(vm.fetchSlot(o, i)) { need(vm.ghostOID(vm.fetchSlot(o, i))) }
                }
            }
            if next.isEmpty && !stillWaiting.isEmpty {
                throw LoadProblem(text: "the class of object \(stillWaiting[0].oid) cannot be determined")
            }
            waiting = stillWaiting
            pending = next
        }
        try materialize(plan, keepingFree: keepingFree)
        for array in plan.arraysInMemory { vm.replaceForwarders(in: array) }
    }

    /// What the VM reads of instances of a class without sending to them.
    private enum Kind { case plain, compiledMethod, compiledBlock, closure, methodDictionary, behavior, scheduler }

    /// The kind of the instances of the class `classOID`; nil while it cannot be told (the class is a
    /// ghost whose record has not been read yet).
    private func kind(ofInstancesOf classOID: UInt64, _ plan: Plan) -> Kind? {
        if let kind = classKinds[classOID] { return kind }
        // A class whose class is Metaclass is a metaclass: its instances are classes.
        let kind: Kind
        if let r = plan.records[classOID] {
            kind = r.classOID == session.oids[vm.root(.classMetaclass)] ? .behavior : .plain
        } else {
            guard let cls = session.objects[classOID], !vm.isGhost(cls) else { return nil }
            kind = vm.classOf(cls) == vm.root(.classMetaclass) ? .behavior : .plain
        }
        classKinds[classOID] = kind
        return kind
    }

    /// The kinds of classes met so far (a class's kind never changes), starting with the VM's.
    private lazy var classKinds: [UInt64: Kind] = {
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
    private func materialize(_ plan: Plan, keepingFree: Int) throws {
        let session = self.session, vm = self.vm
        var records = plan.order.map { plan.records[$0]! }
        var memo = ObjectMemo()
        var absent: [UInt64] = []
        func note(_ oid: UInt64) {
            if memo.find(oid, in: session.objects) == nil && plan.records[oid] == nil { absent.append(oid) }
        }
        for r in records {
            note(r.classOID)
            if case let .slots(slots) = r.contents { for slot in slots where slot & 7 == 0 { note(slot >> 3) } }
        }
        absent.sort()
        absent = absent.enumerated().compactMap { i, oid in i > 0 && absent[i - 1] == oid ? nil : oid }
        let headers = absent.isEmpty ? [] : try store.headers(of: absent, asOf: session.snapshot)
        if !absent.isEmpty { readCount += 1 }
        // Each record's class index, checked (its class is in memory now, loaded or a ghost), and that
        // a record of bytes still has a class of bits (pointer records are checked when migrated).
        var classIndexes: [Int] = []
        classIndexes.reserveCapacity(records.count)
        var lastClass: (oid: UInt64, index: Int, bits: Bool?) = (0, 0, nil)
        for r in records {
            if r.classOID != lastClass.oid { lastClass = (r.classOID, try classIndex(of: r, plan), holdsBits(r.classOID, plan)) }
            if r.slots == nil && !r.isBlob && lastClass.bits == false {
                throw LoadProblem(text: "object \(r.oid) holds bits, but its class now has instances with pointers")
            }
            classIndexes.append(lastClass.index)
        }
        // Records written with another version of their class are migrated (ImageShapes.swift), and
        // new ghosts get the size their objects will have.
        let headerClasses = Dictionary(headers.map { ($0.oid, Int($0.identityHash)) }) { a, _ in a }
        func currentIndex(_ classOID: UInt64) -> Int? {
            if let o = memo.find(classOID, in: session.objects) { return vm.imageHeader(of: o).hash }
            return plan.records[classOID].map { Int($0.identityHash) } ?? headerClasses[classOID]
        }
        try readShapes(records.indices.compactMap { i in
            records[i].slots != nil && records[i].shape != UInt32(classIndexes[i]) ? records[i].classOID : nil
        } + headers.compactMap { h in
            h.kind == .slots && currentIndex(h.classOID).map { h.shape != UInt32($0) } ?? false ? h.classOID : nil
        })
        var ghostWords: [Int] = []
        ghostWords.reserveCapacity(headers.count)
        var bytes = 0
        for h in headers {
            ghostWords.append(session.shapes.ghostWords(h, current: currentIndex(h.classOID)))
            bytes += vm.ghostBytes(words: ghostWords[ghostWords.count - 1])
        }
        bytes += (absent.count - headers.count) * vm.ghostBytes(words: 0)
        let fingerprints = records.map { r -> UInt64? in
            if case .largeBytes = r.contents, !r.isBlob { return nil }
            return r.fingerprint
        }
        for i in records.indices { records[i] = try session.shapes.migrated(records[i], current: classIndexes[i], nilReference: nilReference) }
        // Checked before anything changes: each record's format and size, and the room they need.
        var targets: [Oop] = []
        targets.reserveCapacity(records.count)
        for r in records {
            let h = r.header, shape = r.heapShape
            guard ImageObjectBuilder.fits(format: Int(r.format), slotCount: shape.slots, byteCount: shape.bytes, pointers: shape.pointers),
                  r.identityHash > 0, r.identityHash < 1 << 22 else {
                throw LoadProblem(text: "object \(r.oid) has format \(r.format), \(h.count) \(h.kind == .slots ? "slots" : "bytes") and identity hash \(r.identityHash)")
            }
            if let o = plan.ghosts[r.oid] {
                guard vm.ghostFits(o, words: h.heapWords), vm.imageHeader(of: o).hash == Int(r.identityHash) else {
                    throw LoadProblem(text: "object \(r.oid) is not the size or identity hash it had when it was referred to")
                }
                // A small ghost's object is allocated elsewhere (the ghost becomes a forwarder to it).
                if vm.imageSlotCount(o) != h.heapWords { bytes += vm.loadedObjectBytes(words: h.heapWords) }
                targets.append(o)
            } else {
                bytes += vm.loadedObjectBytes(words: h.heapWords)
                targets.append(0)
            }
        }
        guard vm.oldSpaceHasRoom(for: bytes + keepingFree) else {
            // Objects asked for: a collection may evict enough for them to fit when asked for again.
            if keepingFree == 0 { vm.faultFoundNoRoom() }
            throw LoadProblem(text: "it does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        // New ghosts, in OID order (missing objects become ghosts too: loading one says it is missing).
        session.reserveCapacity(session.objects.count + absent.count + records.count)
        var made = NewGhosts()
        var headerIndex = 0
        for oid in absent {
            if headerIndex < headers.count && headers[headerIndex].oid == oid {
                let h = headers[headerIndex]
                made.append(oid, try makeGhost(oid, hash: Int(h.identityHash), words: ghostWords[headerIndex], classOID: h.classOID))
                headerIndex += 1
            } else {
                made.append(oid, try makeGhost(oid, hash: 0, words: 0))
            }
        }
        for (i, r) in records.enumerated() {
            if targets[i] != 0 && vm.imageSlotCount(targets[i]) == r.header.heapWords {
                vm.materializeGhost(targets[i], classIndex: classIndexes[i], format: Int(r.format))
            } else if targets[i] != 0 {
                let object = try builder.allocate(r, classIndex: classIndexes[i])
                session.forward(targets[i], to: object, oid: r.oid)
                targets[i] = object
            } else {
                targets[i] = try builder.allocate(r, classIndex: classIndexes[i])
                session.adopt(targets[i], oid: r.oid)
            }
        }
        // Every reference resolves now: to an object, a new ghost, or a record of this batch.
        func resolve(_ oid: UInt64) -> Oop { made.find(oid) ?? vm.followed(memo.find(oid, in: session.objects)!) }
        for (i, r) in records.enumerated() {
            if case let .slots(slots) = r.contents {
                for (k, slot) in slots.enumerated() { vm.setImageSlot(targets[i], k, slot & 7 != 0 ? slot : resolve(slot >> 3)) }
            } else {
                try builder.fill(targets[i], from: r) { session.objects[$0] }
            }
            // The record as stored: a migrated object is not changed (a commit writes it if it is).
            if let fingerprint = fingerprints[i] { session.fingerprints[r.oid] = fingerprint }     // large bytes: rewritten once, as bytes
        }
        // Compiled code is read-only, loaded as compiled (its bytecodes and literal frame are loaded with it),
        // once checked: damaged code signals an error when run, a closure of damaged code fails `value`
        // (VMCore/LoadedCode.swift).
        for o in targets {
            vm.checkLoadedCode(o)
            vm.freezeIfCode(o)
        }
        for o in targets { vm.checkLoadedClosure(o) }
        loadedCount += records.count
    }

    /// Whether the instances of a class hold bits (its format, loaded or among the records read); nil
    /// when it cannot be told without loading it.
    private func holdsBits(_ classOID: UInt64, _ plan: Plan) -> Bool? {
        var format: UInt64?
        if let cls = session.objects[classOID], !vm.isGhost(cls) {
            format = vm.fetchSlot(cls, ClassLayout.format)
        } else if let slots = plan.records[classOID]?.slots, slots.count > ClassLayout.format {
            format = slots[ClassLayout.format]
        }
        guard let format, isSmallInt(format) else { return nil }
        return (intValue(format) >> 16) & 31 >= Format.words64
    }

    /// The reference to nil in records.
    private var nilReference: UInt64 { StoredObject.reference(session.oids[vm.nilObj] ?? 0) }

    /// Reads the store's shapes of these classes, unless read before.
    private func readShapes(_ classOIDs: [UInt64]) throws {
        if try session.shapes.read(classOIDs) { readCount += 1 }
    }

    /// The ghosts one batch made, in OID order; found by a search that first tries the one after the
    /// last found (a big Array refers to consecutive new objects).
    private struct NewGhosts {
        private var oids: [UInt64] = [], oops: [Oop] = []
        private var hint = 0

        mutating func append(_ oid: UInt64, _ o: Oop) {
            oids.append(oid)
            oops.append(o)
        }

        mutating func find(_ oid: UInt64) -> Oop? {
            if hint < oids.count && oids[hint] == oid { hint += 1; return oops[hint - 1] }
            var low = 0, high = oids.count
            while low < high {
                let mid = (low + high) / 2
                if oids[mid] < oid { low = mid + 1 } else { high = mid }
            }
            guard low < oids.count && oids[low] == oid else { return nil }
            hint = low + 1
            return oops[low]
        }
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

    @discardableResult
    private func makeGhost(_ oid: UInt64, hash: Int, words: Int, classOID: UInt64 = 0) throws -> Oop {
        guard let o = vm.allocateGhost(oid: oid, hash: hash, words: words, classOID: classOID) else {
            throw LoadProblem(text: "it does not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
        }
        session.adopt(o, oid: oid)
        ghostCount += 1
        return o
    }

    /// A small direct-mapped memo in front of `ImageSession.objects`: the records of a batch refer to
    /// the same few objects (nil, their class) over and over.
    private struct ObjectMemo {
        private var oids = [UInt64](repeating: 0, count: 256), oops = [Oop](repeating: 0, count: 256)

        mutating func find(_ oid: UInt64, in objects: WordMap) -> Oop? {
            let i = Int(truncatingIfNeeded: oid) & 255
            if oids[i] == oid && oid != 0 { return oops[i] }
            guard let o = objects[oid] else { return nil }
            oids[i] = oid
            oops[i] = o
            return o
        }
    }

    // MARK: Objects put into memory from outside a fault

    /// After an abort wrote these records into memory: loads what the VM reads of them without sending
    /// (their classes, then what their kinds need), as a fault would have.
    func completeRestored(_ records: [StoredObject]) throws {
        func ghosts(_ oids: [UInt64]) -> [UInt64] { oids.filter { session.objects[$0].map(vm.isGhost) ?? false } }
        let classes = ghosts(records.map(\.classOID))
        if !classes.isEmpty { try load(classes) }
        var plan = Plan()
        var needed: [UInt64] = []
        for r in records { if let kind = kind(ofInstancesOf: r.classOID, plan) { needed += self.needed(by: r, kind: kind, &plan) } }
        var arrays: [Oop] = []
        for array in plan.wholeArrays {
            guard let o = session.objects[array], !vm.isGhost(o) else { continue }
            arrays.append(o)
            for i in 0..<vm.valueSlotCount(o) where vm.isGhost(vm.fetchSlot(o, i)) { needed.append(vm.ghostOID(vm.fetchSlot(o, i))) }
        }
        let dependents = ghosts(needed)
        if !dependents.isEmpty { try load(dependents) }
        for o in arrays { vm.replaceForwarders(in: o) }
    }

    // MARK: Ghosts for objects referred to from outside a fault

    /// Ghosts for those of `oids` memory does not hold yet (opening, abort): one read of headers. An
    /// object that does not exist becomes a ghost that fails to load, or, with `existing`, an error.
    /// A ghost gets the size of its object as an instance of its class now: `classIndex` may say a
    /// class's index (an abort about to replace classes), else it is the class's in memory.
    /// With `keepingFree`, nothing is made unless the ghosts leave that many bytes of old space free.
    func makeGhosts(for oids: [UInt64], existing: Bool = false, keepingFree: Int? = nil,
                    classIndex: (UInt64) -> Int? = { _ in nil }) throws {
        let absent = Array(Set(oids.filter { session.objects[$0] == nil }))
        if absent.isEmpty { return }
        let headers = try store.headers(of: absent, asOf: session.snapshot)
        readCount += 1
        let found = Set(headers.map(\.oid))
        if existing, let missing = absent.filter({ !found.contains($0) }).min() {
            throw LoadProblem(text: "object \(missing) is referred to but missing")
        }
        let batch = Dictionary(headers.map { ($0.oid, Int($0.identityHash)) }) { a, _ in a }
        func current(_ classOID: UInt64) -> Int? {
            classIndex(classOID) ?? session.objects[classOID].map { vm.imageHeader(of: $0).hash } ?? batch[classOID]
        }
        try readShapes(headers.compactMap { h in
            h.kind == .slots && current(h.classOID).map { h.shape != UInt32($0) } ?? false ? h.classOID : nil
        })
        let words = headers.map { session.shapes.ghostWords($0, current: current($0.classOID)) }
        if let keepingFree {
            let bytes = words.reduce(0) { $0 + vm.ghostBytes(words: $1) } + (absent.count - headers.count) * vm.ghostBytes(words: 0)
            guard vm.oldSpaceHasRoom(for: bytes + keepingFree) else {
                vm.faultFoundNoRoom()
                throw LoadProblem(text: "\(absent.count) objects do not fit in the heap limit of \(vm.config.heapLimitBytes >> 20) MB")
            }
        }
        for (h, words) in zip(headers, words) {
            try makeGhost(h.oid, hash: Int(h.identityHash), words: words, classOID: h.classOID)
        }
        for oid in absent where !found.contains(oid) { try makeGhost(oid, hash: 0, words: 0) }
    }
}

extension ImageSession {
    /// The loaded objects that nothing in memory reaches (`isReached` says what does) but that differ
    /// from their record as of the snapshot: those changed (the VM's dirty list) whose record differs
    /// from the one last read or written, and those this session committed since the snapshot (loading
    /// them again would read the snapshot's version). Ghosts may still refer to them — a ghost's
    /// references are not in memory — so they are not garbage: a full collection keeps them (and a
    /// commit writes the changed ones, as every changed object). None when no ghost is reached.
    func changedUnreached(isReached: (Oop) -> Bool) -> [Oop] {
        let changed = vm.changedObjects.filter { !isReached($0) && !vm.isGhost($0) }
        let committed = committedSinceSnapshot.compactMap { objects[$0] }.filter { !isReached($0) && !vm.isGhost($0) }
        guard !changed.isEmpty || !committed.isEmpty,
              oids.contains(where: { vm.isGhost($0.key) && isReached($0.key) }) else { return [] }
        return committed + recordChanged(among: changed).map(\.object)
    }
}

extension ImageSession {
    /// Before `become:` (its objects are loaded): a one-way become of one object of the image into
    /// another must redirect references nothing in memory holds — those of objects not loaded — so
    /// the VM has loaded them all first (`becomePrimitive`). A class of the image becoming another class (redefined) leaves the
    /// objects not loaded alone: they are migrated when they load; answers replacements for ghosts whose
    /// size changes with it (`classesWillChange`).
    func identitiesWillChange(_ from: [Oop], _ to: [Oop], twoWay: Bool) -> [(Oop, Oop)] {
        if twoWay { return [] }
        // Between two objects of the image the VM loaded every object first: no class changes here.
        if zip(from, to).contains(where: { oids[$0.0] != nil && oids[$0.1] != nil }) { return [] }
        return classesWillChange(from, to)
    }

    /// After `become:`: an OID names an identity, so it moves with it. Two-way, the objects exchange
    /// OIDs (a record referring to one now refers to the object that took its place); one-way, the
    /// object referred to instead takes over the OID if it has none.
    func identitiesChanged(_ pairs: [(from: Oop, to: Oop)], twoWay: Bool) {
        for (from, to) in pairs {
            let fromOID = oids[from], toOID = oids[to]
            // An object under another OID than before is saved there with the next commit.
            if twoWay {
                forget(from)
                forget(to)
                if let toOID { adopt(from, oid: toOID); vm.noteChanged(from) }
                if let fromOID { adopt(to, oid: fromOID); vm.noteChanged(to) }
            } else if let fromOID, toOID == nil {
                forget(from)
                adopt(to, oid: fromOID)
                if !vm.isGhost(to) { vm.noteChanged(to) }     // a ghost resized by `classesWillChange`
            }
        }
    }
}

extension Runtime {
    /// Objects of the image loaded from their records so far (the VM state and roots at opening,
    /// then what was used). For tests, benchmarks and curiosity.
    public var loadedObjectCount: Int { imageSession?.loader?.loadedCount ?? 0 }

    /// Ghosts now in memory: objects of the image referred to but not loaded.
    public var ghostCount: Int { imageSession.map { s in s.objects.reduce(0) { $0 + (vm.isGhost($1.value) ? 1 : 0) } } ?? 0 }

    /// Faults served so far, and the store reads they took.
    public var faultStatistics: (faults: Int, reads: Int) {
        (imageSession?.loader?.faultCount ?? 0, imageSession?.loader?.readCount ?? 0)
    }

    /// The OID of an object of this runtime's image; nil for objects not committed yet.
    public func imageOID(of o: Oop) -> UInt64? { imageSession?.oids[o] }

    /// How many objects following a ghost in memory are looked at for ghosts to load with it (default 256).
    public var prefetchCount: Int {
        get { imageSession?.loader?.prefetch ?? 0 }
        set { imageSession?.loader?.prefetch = max(0, newValue) }
    }
}
