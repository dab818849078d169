// Schema evolution: an object stored with an older version of its class is migrated when it loads.
//
// A record of a pointer object carries the class index its object had when it was written (its
// shape, `StoredObject.shape`); a class whose instance variables change is a new class object with a
// new class index, which takes over the old one's OID (`become:`). The store keeps, for each class OID
// and class index, the names of the instances' slots (`ClassShape`): recorded with the commit that
// writes a class, and, for a class about to be replaced, taken from memory just before (with those of
// its subclasses, whose inherited names change with it). A record whose shape is not its class's
// index now is migrated before it is put into memory: instance variables of the same name keep their
// values, new ones are nil, removed ones are dropped, the indexed part is kept. Ghosts are allocated
// at the migrated size, so that loading fills them in place. Records written before shapes were kept
// (store format 2) have none: they hold the first shape recorded for their class, else its current.
//
// A class index names one version of a class only if no two versions of a class get the same index:
// a session gives new classes indices above every index a shape is recorded for (`classIndexFloor`),
// so that a rollback, which gives the class table back its old length, does not hand out an index again.
// Two sessions may still each make a version of a class at the same index; the second one's commit
// conflicts (both write the class), and until its abort its own version is the one its memory follows
// (`madeVersions`).

import Store
import VMCore

/// What a session knows of class shapes: those recorded in its store (read per class, once), those to
/// record with its next commit, and those of the classes in memory.
final class ShapeBook {
    private unowned let session: ImageSession
    private var store: SQLiteStore { session.store }
    private var vm: VM { session.vm }
    /// The store's shapes of the classes read so far, in the order recorded (empty: none).
    private var recorded: [UInt64: [ClassShape]] = [:]
    /// Shapes to record with the next commit, and the keys of every shape recorded or pending.
    private(set) var pending: [ClassShape] = []
    private var known = Set<Key>()
    /// The versions of classes this session made since it last committed: they hold its instances in
    /// memory, even where the store records another session's version at the same index.
    private var madeVersions: [Key: ClassShape] = [:]

    private struct Key: Hashable {
        let classOID: UInt64, index: Int

        init(classOID: UInt64, index: Int) {
            self.classOID = classOID
            self.index = index
        }

        /// The key of a shape: its class and class index.
        init(_ shape: ClassShape) { self.init(classOID: shape.classOID, index: Int(shape.classIndex)) }
    }
    /// Migrations worked out so far (forgotten with the pending shapes they may rest on).
    private var migrations: [MigrationKey: ShapeMigration] = [:]

    private struct MigrationKey: Hashable {
        let classOID: UInt64, from: Int, to: Int
    }

    init(session: ImageSession) {
        self.session = session
    }

    /// Reads the store's shapes of those classes not read yet (one read); false if there were none.
    @discardableResult
    func read(_ classOIDs: some Sequence<UInt64>) throws -> Bool {
        let unread = Set(classOIDs).filter { recorded[$0] == nil }
        if unread.isEmpty { return false }
        let shapes = try store.classShapes(of: Array(unread))
        for oid in unread { recorded[oid] = [] }
        add(shapes)
        return true
    }

    private func add(_ shapes: [ClassShape]) {
        for shape in shapes {
            recorded[shape.classOID, default: []].append(shape)
            known.insert(Key(shape))
        }
    }

    /// An abort: memory is as committed in the store's head again. The versions this session made are
    /// forgotten, and so is what was read of the store before; `fresh` are the shapes of `classOIDs`
    /// as the store has them now. (Shapes noted to be recorded stay until `dropPending`: the abort
    /// may need those of the versions it puts back.)
    func restart(fresh: [ClassShape], of classOIDs: some Sequence<UInt64>) {
        pending.removeAll { madeVersions[Key($0)] != nil }
        madeVersions = [:]
        migrations = [:]
        recorded = [:]
        known = Set(pending.map { Key($0) })
        for oid in classOIDs { recorded[oid] = [] }
        add(fresh)
    }

    /// The shape of class `classOID` at class index `index`: a version this session made, pending,
    /// recorded (if read), or that of the class of that OID registered at that index in memory
    /// (loading what it needs with `loading`).
    func shape(_ classOID: UInt64, index: Int, loading: Bool = false) -> ClassShape? {
        if let s = madeVersions[Key(classOID: classOID, index: index)] { return s }
        if let s = pending.first(where: { $0.classOID == classOID && Int($0.classIndex) == index }) { return s }
        if let s = recorded[classOID]?.first(where: { Int($0.classIndex) == index }) { return s }
        guard let cls = vm.registeredClass(at: index), session.oids[cls] == classOID else { return nil }
        return memoryShape(of: cls, oid: classOID, loading: loading)
    }

    /// The shape of a class in memory registered at its index, from its instance-variable Arrays.
    func memoryShape(of cls: Oop, oid: UInt64, loading: Bool) -> ClassShape? {
        let index = vm.imageHeader(of: cls).hash
        guard let (format, names) = vm.instanceShape(ofClass: cls, loading: loading) else { return nil }
        return ClassShape(classOID: oid, classIndex: UInt32(index), format: UInt8(format), names: names)
    }

    /// The class index a record's slots follow: its shape, or (records without one) the first shape
    /// recorded (or to be recorded) for its class, or else `current`.
    func writtenIndex(shape: UInt32, classOID: UInt64, current: Int) -> Int {
        if shape != 0 { return Int(shape) }
        let first = recorded[classOID]?.first ?? pending.first { $0.classOID == classOID }
        return first.map { Int($0.classIndex) } ?? current
    }

    /// Whether the store has, or the next commit records, this shape.
    func isKnown(_ classOID: UInt64, index: Int) -> Bool { known.contains(Key(classOID: classOID, index: index)) }

    /// To be recorded with the next commit (unless known already).
    func note(_ shape: ClassShape) {
        guard known.insert(Key(shape)).inserted else { return }
        pending.append(shape)
    }

    /// To be recorded with the next commit even if known: a gc deleted it from the store.
    func noteAgain(_ shape: ClassShape) {
        guard !pending.contains(where: { Key($0) == Key(shape) }) else { return }
        known.insert(Key(shape))
        pending.append(shape)
    }

    /// A version of a class this session made (redefining it): to be recorded with the next commit.
    func noteMadeVersion(_ shape: ClassShape) {
        madeVersions[Key(shape)] = shape
        note(shape)
    }

    /// The next commit recorded `count` pending shapes (and every version this session made).
    func recorded(first count: Int) {
        for shape in pending.prefix(count) where recorded[shape.classOID] != nil {
            recorded[shape.classOID]!.append(shape)
        }
        pending.removeFirst(count)
        madeVersions = [:]
    }

    /// An abort: shapes noted since the last commit are forgotten (memory is as committed again).
    func dropPending() {
        for shape in pending { known.remove(Key(shape)) }
        pending = []
        madeVersions = [:]
        migrations = [:]
    }

    /// Whether `index` holds a version of class `classOID` this session made since it last committed.
    func isMadeVersion(_ classOID: UInt64, index: Int) -> Bool { madeVersions[Key(classOID: classOID, index: index)] != nil }

    // MARK: Migration

    /// Whether a record of class `classOID` with this shape must be migrated to be an instance of the
    /// class at index `current` (after `read` of its class, for records without a shape).
    func needsMigration(kind: StoredHeader.Kind, shape: UInt32, classOID: UInt64, current: Int) -> Bool {
        kind == .slots && writtenIndex(shape: shape, classOID: classOID, current: current) != current
    }

    /// The record as an instance of the version of its class at class index `current`. Throws when a
    /// shape it needs is unknown or the class now holds bits.
    func migrated(_ r: StoredObject, current: Int, nilReference: UInt64) throws -> StoredObject {
        guard case let .slots(slots) = r.contents,
              needsMigration(kind: .slots, shape: r.shape, classOID: r.classOID, current: current) else { return r }
        let migration = try self.migration(r.classOID, from: writtenIndex(shape: r.shape, classOID: r.classOID, current: current),
                                           to: current, object: r.oid)
        guard let (format, migrated) = migration.slots(slots, format: Int(r.format), nilReference: nilReference) else {
            throw ImageLoader.LoadProblem(text: Self.cannot(r.oid, slots.count, migration))
        }
        return StoredObject(oid: r.oid, classOID: r.classOID, format: UInt8(format), identityHash: r.identityHash,
                            shape: UInt32(current), slots: migrated)
    }

    /// The words a ghost of the object with this header takes: its migrated size if its class is at
    /// index `current` now and the shapes are known without loading anything, else the size stored.
    func ghostWords(_ h: StoredHeader, current: Int?) -> Int {
        let stored = h.heapWords
        guard let current, needsMigration(kind: h.kind, shape: h.shape, classOID: h.classOID, current: current),
              let migration = try? self.migration(h.classOID, from: writtenIndex(shape: h.shape, classOID: h.classOID, current: current),
                                                  to: current, object: h.oid),
              let layout = migration.layout(count: h.count, format: Int(h.format)) else { return stored }
        return layout.count
    }

    /// How objects of class `classOID` written with the version at class index `written` become
    /// instances of the version at `current` (kept for the next object of that kind).
    private func migration(_ classOID: UInt64, from written: Int, to current: Int, object: UInt64) throws -> ShapeMigration {
        let key = MigrationKey(classOID: classOID, from: written, to: current)
        if let known = migrations[key] { return known }
        guard let old = shape(classOID, index: written) else {
            throw ImageLoader.LoadProblem(text: "object \(object) was written with a version of its class (class index \(written)) whose instance variables are not recorded")
        }
        guard let new = shape(classOID, index: current) else {
            throw ImageLoader.LoadProblem(text: "the instance variables of the class of object \(object) (class index \(current)) are not known")
        }
        let migration = ShapeMigration(from: old, to: new, dropping: removedBetween(classOID, written, current, old.names))
        migrations[key] = migration
        return migration
    }

    /// Those of `names` (of the version at index `written`) that a version recorded after it and
    /// before the one at `current` did not have: removed and added again, they are other variables.
    private func removedBetween(_ classOID: UInt64, _ written: Int, _ current: Int, _ names: [String]) -> Set<String> {
        let versions = (recorded[classOID] ?? []) + pending.filter { $0.classOID == classOID }
        guard let from = versions.firstIndex(where: { Int($0.classIndex) == written }) else { return [] }
        let to = versions.firstIndex { Int($0.classIndex) == current } ?? versions.count
        guard from + 1 < to else { return [] }
        var removed = Set<String>()
        for version in versions[(from + 1)..<to] { removed.formUnion(Set(names).subtracting(version.names)) }
        return removed
    }

    private static func cannot(_ oid: UInt64, _ count: Int, _ migration: ShapeMigration) -> String {
        "object \(oid) (\(count) slots, instance variables \(migration.old.names.joined(separator: " "))) cannot become an instance of "
            + (migration.new.format >= UInt8(Format.words64) ? "its class, which now holds bits" : "its class as it is now")
    }
}

/// How the slots of an object stored with one version of its class become those of another: named
/// slots by name (new ones nil), then the indexed part if both versions have one.
struct ShapeMigration {
    let old: ClassShape, new: ClassShape
    /// For each named slot of `new`, the slot of `old` of that name, if any.
    private let sources: [Int?]

    /// `dropping`: names of `old` that do not carry their values over (removed in a version between).
    init(from old: ClassShape, to new: ClassShape, dropping dropped: Set<String> = []) {
        self.old = old
        self.new = new
        var position: [String: Int] = [:]
        for (i, name) in old.names.enumerated() where position[name] == nil && !dropped.contains(name) { position[name] = i }
        sources = new.names.map { position[$0] }
    }

    /// The VM format and slot count of an object of `count` slots and format `format` stored with
    /// `old`, as an instance of `new`; nil if its slots do not fit `old` or `new` holds bits.
    func layout(count: Int, format: Int) -> (format: Int, count: Int)? {
        let named = old.names.count
        let oldIndexed = Format.isIndexable(format) && Format.isPointers(format) ? count - named : 0
        guard count >= named, Format.isPointers(format), oldIndexed >= 0, named + oldIndexed == count else { return nil }
        let fixed = new.names.count
        switch Int(new.format) {
        case Format.empty, Format.fixed: return (fixed == 0 ? Format.empty : Format.fixed, fixed)
        case Format.indexable, Format.fixedIndexable: return (fixed == 0 ? Format.indexable : Format.fixedIndexable, fixed + oldIndexed)
        case Format.weak: return (Format.weak, fixed + oldIndexed)
        case 5: return (5, fixed)
        default: return nil
        }
    }

    /// The migrated format and slots (`nilReference` for the new instance variables).
    func slots(_ slots: [UInt64], format: Int, nilReference: UInt64) -> (format: Int, slots: [UInt64])? {
        guard let (newFormat, count) = layout(count: slots.count, format: format) else { return nil }
        var result: [UInt64] = []
        result.reserveCapacity(count)
        for source in sources { result.append(source.map { slots[$0] } ?? nilReference) }
        result += slots[old.names.count...].prefix(count - result.count)
        return (newFormat, result)
    }
}

extension ImageSession {
    /// Before `become:` makes classes of the image other classes (a class redefined: the new class
    /// takes over the old one's OID): notes the shapes of the classes replaced and of their subclasses,
    /// whose inherited instance variables change with them, while memory still shows them; then
    /// answers, for the ghosts of their instances whose size the new class changes, ghosts of the new
    /// size to replace them (with the same OID and identity hash), so that loading them later fills
    /// them in place.
    func classesWillChange(_ from: [Oop], _ to: [Oop]) -> [(Oop, Oop)] {
        var replaced: [UInt64: Oop] = [:]
        var seen = Set<Oop>()
        for (old, new) in zip(from, to) where old != new {
            guard vm.isClass(old), let oid = oids[old], isClassObject(new), vm.indexOfClass(new) != nil else { continue }
            replaced[oid] = new
            noteShapes(of: vm.instanceSide(old), &seen)
            if let shape = shapes.memoryShape(of: new, oid: oid, loading: true) { shapes.noteMadeVersion(shape) }
        }
        return replaced.isEmpty ? [] : resizedGhosts(ofInstancesOf: replaced)
    }

    /// Whether `o` is a class or a metaclass (an instance of a metaclass, or of Metaclass).
    private func isClassObject(_ o: Oop) -> Bool {
        guard vm.isPointer(o), o != vm.nilObj, !vm.isGhost(o) else { return false }
        let metaclass = vm.root(.classMetaclass), cls = vm.classOf(o)
        return cls == metaclass || vm.classOf(cls) == metaclass
    }

    /// Notes the shapes of `cls`, its subclasses and their metaclasses, as memory shows them now.
    private func noteShapes(of cls: Oop, _ seen: inout Set<Oop>) {
        var pending = [cls]
        while let c = pending.popLast() {
            guard seen.insert(c).inserted, vm.isClass(c) else { continue }
            for k in [c, vm.classOf(c)] {
                guard let oid = oids[k], vm.isClass(k), !shapes.isKnown(oid, index: vm.imageHeader(of: k).hash),
                      let shape = shapes.memoryShape(of: k, oid: oid, loading: true) else { continue }
                shapes.note(shape)
            }
            let subclasses = vm.fetchSlot(c, ClassLayout.subclasses)
            guard vm.isPointer(subclasses), subclasses != vm.nilObj, vm.ensureLoaded(subclasses) else { continue }
            for i in 0..<vm.indexableSize(subclasses) { pending.append(vm.fetchSlot(subclasses, i)) }
        }
    }

    /// Ghosts of the new size for the ghosts of instances of these classes (class OID → the class it
    /// is now) that their new class makes another size. One read of the headers of those ghosts that
    /// may be instances: those that keep their class's OID and name one of these, and those too small
    /// to keep it.
    private func resizedGhosts(ofInstancesOf classes: [UInt64: Oop]) -> [(Oop, Oop)] {
        let ghosts = objects.compactMap { oid, o in vm.isGhost(o) && vm.ghostClassOID(o).map { classes[$0] != nil } ?? true ? oid : nil }
        guard !ghosts.isEmpty, let headers = try? store.headers(of: ghosts, asOf: snapshot) else { return [] }
        let affected = headers.filter { $0.kind == .slots && classes[$0.classOID] != nil }
        if affected.isEmpty { return [] }
        _ = try? shapes.read(classes.keys)
        var pairs: [(Oop, Oop)] = []
        for h in affected {
            guard let ghost = objects[h.oid], vm.isGhost(ghost) else { continue }
            let words = shapes.ghostWords(h, current: vm.imageHeader(of: classes[h.classOID]!).hash)
            guard !vm.ghostFits(ghost, words: words),
                  let fresh = vm.allocateGhost(oid: h.oid, hash: vm.imageHeader(of: ghost).hash, words: words, classOID: h.classOID)
            else { continue }
            pairs.append((ghost, fresh))
        }
        return pairs
    }
}

extension ImageSession {
    /// A copy of `o` (in memory, laid out as `old` says) as an instance of the class version `new`, with
    /// `o`'s identity hash, allocated in old space without the write barrier (call when every object is
    /// old: an abort); nil if its slots do not fit `old` or the heap is full.
    func migratedCopy(of o: Oop, from old: ClassShape, to new: ClassShape) -> Oop? {
        let header = vm.imageHeader(of: o)
        guard Format.isPointers(header.format) else { return nil }
        let values = (0..<vm.imageSlotCount(o)).map { vm.fetchSlot(o, $0) }
        guard let (format, slots) = ShapeMigration(from: old, to: new).slots(values, format: header.format, nilReference: vm.nilObj),
              let copy = vm.allocateImageObject(classIndex: Int(new.classIndex), format: format, hash: header.hash,
                                                slotCount: slots.count, byteCount: 0) else { return nil }
        for (i, value) in slots.enumerated() { vm.setImageSlot(copy, i, value) }
        return copy
    }
}
