// Eviction seen from the VM: a full collection that finds more than half of old space live turns
// unchanged loaded persistent objects back into ghosts in place, so that what only they reached is
// freed; objects changed, objects the host cannot load again, objects loaded since the last eviction
// (while evicting the others is enough) and objects the VM reads directly stay loaded.

import XCTest
@testable import VMCore

final class EvictionTests: XCTestCase {
    typealias T = TestSpace

    /// An image host as an image session is, on records kept in memory: ghosts are loaded in place (small
    /// ones into a new object, the ghost a forwarder to it), and references to objects memory does not
    /// hold become ghosts (with the identity hash of their record).
    private final class Host {
        enum Slot { case value(Oop), ref(UInt64) }
        enum Contents { case slots([Slot]), bytes([UInt8]) }
        struct Record { let className: String, hash: Int, contents: Contents }

        let vm: VM
        var records: [UInt64: Record] = [:]
        var objects: [UInt64: Oop] = [:], oids: [Oop: UInt64] = [:]
        var notReloadable: Set<UInt64> = []
        var loads = 0

        init(_ vm: VM) {
            self.vm = vm
            vm.faultHandler = { [unowned self] ghosts in
                ghosts.forEach(self.load)
                return nil
            }
            vm.objectsMoved = { [unowned self] newAddress in
                var moved: [Oop: UInt64] = [:]
                for (o, oid) in self.oids { if let n = newAddress(o) { moved[n] = oid } }
                self.oids = moved
                self.objects = Dictionary(uniqueKeysWithValues: moved.map { ($1, $0) })
            }
            vm.reloadableOID = { [unowned self] o in self.oids[o].flatMap { self.notReloadable.contains($0) ? nil : $0 } }
        }

        /// The object with this OID: the one in memory, or a new ghost.
        func object(_ oid: UInt64) -> Oop {
            if let o = objects[oid] { return o }
            let r = records[oid]!
            let words: Int
            switch r.contents {
            case .slots(let s): words = s.count
            case .bytes(let b): words = (b.count + 7) / 8
            }
            let g = vm.allocateGhost(oid: oid, hash: r.hash, words: words)!
            objects[oid] = g
            oids[g] = oid
            vm.makePersistent(g)
            return g
        }

        private func load(_ ghost: Oop) {
            let r = records[vm.ghostOID(ghost)]!
            let classIndex = vm.indexOfClass(vm.globalValue(r.className)!)!
            switch r.contents {
            case .slots(let slots):
                let format = r.className == "Array" ? Format.indexable : Format.fixed
                let values = slots.map { slot -> Oop in
                    switch slot {
                    case .value(let v): return v
                    case .ref(let oid): return object(oid)
                    }
                }
                let o = adopt(vm.materialize(ghost, classIndex: classIndex, format: format, words: values.count)!, for: ghost)
                for (i, v) in values.enumerated() { vm.setImageSlot(o, i, v) }
            case .bytes(let bytes):
                let format = Format.bytes + (8 - bytes.count % 8) % 8
                let o = adopt(vm.materialize(ghost, classIndex: classIndex, format: format, words: (bytes.count + 7) / 8)!, for: ghost)
                bytes.withUnsafeBytes { vm.setImageBytes(o, $0) }
            }
            loads += 1
        }

        /// The object loaded for `ghost` has its OID (a small ghost's is a new object).
        private func adopt(_ o: Oop, for ghost: Oop) -> Oop {
            guard o != ghost, let oid = oids.removeValue(forKey: ghost) else { return o }
            oids[o] = oid
            objects[oid] = o
            vm.makePersistent(o)
            return o
        }
    }

    /// Chunk `i` (OID 100 + i) is an Array of `perChunk` blobs; blob j of chunk i (OID 1000 + 100 i + j)
    /// is a ByteArray of `blobSize` bytes holding i, j and then k % 251 at k. The table (OID 1) is an Array
    /// of the chunks.
    private static let chunks = 30, perChunk = 20, blobSize = 8000

    private static func blobOID(_ i: Int, _ j: Int) -> UInt64 { UInt64(1000 + 100 * i + j) }

    private func space() throws -> (VM, Host) {
        var config = VMConfiguration()
        config.heapLimitBytes = 8 << 20
        let vm = try T.make(config)
        let host = Host(vm)
        host.records[1] = .init(className: "Array", hash: 1, contents: .slots((0..<Self.chunks).map { .ref(UInt64(100 + $0)) }))
        for i in 0..<Self.chunks {
            host.records[UInt64(100 + i)] = .init(className: "Array", hash: 100 + i,
                                                  contents: .slots((0..<Self.perChunk).map { .ref(Self.blobOID(i, $0)) }))
            for j in 0..<Self.perChunk {
                let bytes = [UInt8(i), UInt8(j)] + (2..<Self.blobSize).map { UInt8($0 % 251) }
                host.records[Self.blobOID(i, j)] = .init(className: "ByteArray", hash: 1000 + 100 * i + j, contents: .bytes(bytes))
            }
        }
        return (vm, host)
    }

    /// Loads chunk `i` and its blobs (reading them as a program would).
    private func read(_ vm: VM, _ table: Oop, chunk i: Int) {
        let chunk = vm.fetchSlot(table, i)
        for j in 0..<Self.perChunk { _ = vm.indexableSize(vm.fetchSlot(chunk, j)) }
    }

    /// Whether blob j of chunk i, read through the table, holds what its record does and has its hash.
    private func blobIsIntact(_ vm: VM, _ table: Oop, _ i: Int, _ j: Int) -> Bool {
        let blob = vm.fetchSlot(vm.fetchSlot(table, i), j)
        let bytes = vm.byteArrayContents(blob)
        guard bytes.count == Self.blobSize else { return false }
        return bytes[0] == UInt8(i) && bytes[1] == UInt8(j) && bytes[Self.blobSize - 1] == UInt8((Self.blobSize - 1) % 251)
            && vm.identityHashValue(blob) == 1000 + 100 * i + j
    }

    func testUnchangedObjectsBecomeGhostsInPlaceAndWhatOnlyTheyReachedIsFreedThenLoadedAgain() throws {
        let (vm, host) = try space()
        let h = vm.handle(host.object(1))
        for i in 0..<Self.chunks { read(vm, vm.handleValue(h), chunk: i) }
        let before = vm.oldSpaceBytes
        XCTAssertGreaterThan(before, 4 << 20, "more than half of old space is live")
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 1)
        XCTAssertEqual(vm.evictedObjects, Self.chunks * (1 + Self.perChunk),
                       "the chunks and their blobs (which nothing else refers to then: freed); the table is held by the host")
        XCTAssertLessThan(vm.oldSpaceBytes, before / 4)
        let table = vm.handleValue(h)
        XCTAssertFalse(vm.isGhost(table))
        for i in 0..<Self.chunks {
            let chunk = vm.fetchSlot(table, i)
            XCTAssertTrue(vm.isGhost(chunk))
            XCTAssertEqual(vm.ghostOID(chunk), UInt64(100 + i))
            XCTAssertEqual(vm.identityHashValue(chunk), 100 + i)
            XCTAssertEqual(host.objects[UInt64(100 + i)], chunk)
            XCTAssertNil(host.objects[Self.blobOID(i, 0)], "only the chunk referred to its blobs: freed")
        }
        let loads = host.loads
        XCTAssertTrue((0..<Self.chunks).allSatisfy { i in (0..<Self.perChunk).allSatisfy { blobIsIntact(vm, table, i, $0) } })
        XCTAssertEqual(host.loads - loads, Self.chunks * (1 + Self.perChunk), "loaded again when used")
    }

    func testChangedUnreloadableAndLeafObjectsAndWhatTheyReachStayLoaded() throws {
        let (vm, host) = try space()
        let h = vm.handle(host.object(1))
        for i in 0..<Self.chunks { read(vm, vm.handleValue(h), chunk: i) }
        host.records[6] = .init(className: "Array", hash: 6, contents: .slots([.value(intOop(1)), .ref(1)]))
        host.records[7] = .init(className: "Array", hash: 7, contents: .slots([.ref(6)]))
        let holder = vm.handle(host.object(7))
        _ = vm.indexableSize(vm.fetchSlot(vm.handleValue(holder), 0))
        let changed = vm.fetchSlot(vm.handleValue(h), 3)
        vm.store(changed, 0, vm.fetchSlot(changed, 0))
        host.notReloadable.insert(104)
        let kept = vm.handle(vm.fetchSlot(vm.fetchSlot(vm.handleValue(h), 5), 0))
        vm.fullGC()
        XCTAssertEqual(vm.evictedObjects, Self.chunks - 2 + Self.chunks * Self.perChunk - 1, "every blob but the one the host holds")
        let table = vm.handleValue(h)
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(table, 3)), "changed since the last commit")
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(table, 4)), "the host cannot load it again as it is")
        XCTAssertTrue(vm.isGhost(vm.fetchSlot(vm.fetchSlot(table, 3), 1)), "unchanged itself: evicted, kept as a ghost by its chunk")
        XCTAssertTrue(blobIsIntact(vm, table, 3, 1))
        XCTAssertTrue(vm.isGhost(vm.fetchSlot(table, 5)))
        XCTAssertFalse(vm.isGhost(vm.handleValue(kept)), "held by the host: not freed")
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(vm.handleValue(holder), 0)), "it refers to nothing evicting it could free")
        XCTAssertEqual(vm.fetchSlot(vm.fetchSlot(table, 5), 0), vm.handleValue(kept), "loading chunk 5 again finds the blob it held")
        XCTAssertTrue(blobIsIntact(vm, table, 5, 0))
    }

    func testObjectsLoadedSinceTheLastEvictionStayWhenEvictingTheOthersIsEnough() throws {
        let (vm, host) = try space()
        let h = vm.handle(host.object(1))
        for i in 0..<Self.chunks { read(vm, vm.handleValue(h), chunk: i) }
        // Chunk 0 and its blobs change, so the first eviction keeps them; then their changes are committed.
        let first = vm.fetchSlot(vm.handleValue(h), 0)
        vm.store(first, 0, vm.fetchSlot(first, 0))
        for j in 0..<Self.perChunk { vm.noteChanged(vm.fetchSlot(first, j)) }
        vm.fullGC()
        XCTAssertEqual(vm.evictedObjects, (Self.chunks - 1) * (1 + Self.perChunk),
                       "all loaded since the start: evicted, as evicting none was not enough")
        vm.clearChangedObjects()
        // Load chunks until more than half of old space is live, by less than chunk 0 holds.
        let half = 4 << 20
        var loaded = 1
        while vm.oldSpaceBytes <= half { read(vm, vm.handleValue(h), chunk: loaded); loaded += 1 }
        XCTAssertLessThan(loaded, Self.chunks)
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 2)
        XCTAssertEqual(vm.evictedObjects, Self.chunks * (1 + Self.perChunk), "chunk 0 and its blobs only: loaded before the last eviction")
        let table = vm.handleValue(h)
        XCTAssertTrue(vm.isGhost(vm.fetchSlot(table, 0)))
        XCTAssertTrue((1..<loaded).allSatisfy { !vm.isGhost(vm.fetchSlot(table, $0)) })
    }

    func testAReceiverWithInstanceVariablesAndATempVectorStayLoadedWhileTheirMethodRuns() throws {
        let (vm, host) = try space()
        T.install(vm, "Object", "collect", primitive: 130, code: [T.op(.pushSelf), T.op(.returnTop)])
        // Pair>>leftAfterCollecting   self collect. ^ left
        T.install(vm, "Pair", "leftAfterCollecting", literals: [.symbol("collect"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushSelf), T.op(.send, 0, 0), T.op(.pop), T.op(.pushInstVar, 0), T.op(.returnTop)])
        // Object>>firstAfterCollecting: vector   self collect. ^ vector's first slot, read as a temp vector
        T.install(vm, "Object", "firstAfterCollecting:", numArgs: 1, literals: [.symbol("collect"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushSelf), T.op(.send, 0, 0), T.op(.pop), T.op(.pushRemoteTemp, 0, -1), T.op(.returnTop)])
        host.records[2] = .init(className: "Pair", hash: 2, contents: .slots([.value(intOop(42)), .ref(5)]))
        host.records[3] = .init(className: "Array", hash: 3, contents: .slots([.value(intOop(7)), .ref(5)]))
        host.records[5] = .init(className: "ByteArray", hash: 5, contents: .bytes([1, 2, 3]))
        host.records[4] = .init(className: "Array", hash: 4, contents: .slots([.ref(2), .ref(3)]))
        let h = vm.handle(host.object(1)), holder = vm.handle(host.object(4))
        for i in 0..<Self.chunks { read(vm, vm.handleValue(h), chunk: i) }
        XCTAssertEqual(try vm.send("leftAfterCollecting", to: vm.fetchSlot(vm.handleValue(holder), 0)), intOop(42))
        XCTAssertGreaterThan(vm.evictions, 0)
        XCTAssertTrue(vm.isGhost(vm.fetchSlot(vm.handleValue(h), 0)), "the chunks were evicted meanwhile")
        for i in 0..<Self.chunks { read(vm, vm.handleValue(h), chunk: i) }
        let vector = vm.fetchSlot(vm.handleValue(holder), 1)
        _ = vm.indexableSize(vector)
        let evictions = vm.evictions
        XCTAssertEqual(try vm.send("firstAfterCollecting:", to: vm.nilObj, with: [vector]), intOop(7))
        XCTAssertGreaterThan(vm.evictions, evictions)
        XCTAssertTrue(vm.isGhost(vm.fetchSlot(vm.handleValue(holder), 0)), "once its method returned, the Pair could go too")
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(vm.handleValue(holder), 1)))
    }

    // MARK: Objects of 255 slots or more (an overflow word precedes their header)

    /// Big objects: OIDs 2…6 are Arrays of `bigSlots` SmallIntegers (slot k of Array i: i · 10⁶ + k), OID 7
    /// a ByteArray of `bigBytes` bytes ((7 k + 3) % 256 at k); OIDs 20… Arrays (slot k: k) and ByteArrays
    /// of sizes around the overflow mark, so that the garbage after their ghosts takes every shape.
    /// The table (OID 1) refers to them all, the holder (OID 8) to Array 2 and the ByteArray again.
    private static let bigSlots = 100_000, bigBytes = 300_000
    private static let edgeSlots = Array(250...262), edgeBytes = [2033, 2040, 2041, 2048, 2049, 2057, 2065, 2073]
    private static var edgeOIDs: Range<UInt64> { 20..<UInt64(20 + edgeSlots.count + edgeBytes.count) }
    private static let bigOIDs: [UInt64] = [2, 3, 4, 5, 6, 7]

    private static func bigByte(_ k: Int) -> UInt8 { UInt8((7 * k + 3) % 256) }

    private func bigSpace() throws -> (VM, Host) {
        var config = VMConfiguration()
        config.heapLimitBytes = 8 << 20
        let vm = try T.make(config)
        let host = Host(vm)
        for i in 2...6 {
            host.records[UInt64(i)] = .init(className: "Array", hash: i, contents: .slots((0..<Self.bigSlots).map { .value(intOop(i * 1_000_000 + $0)) }))
        }
        host.records[7] = .init(className: "ByteArray", hash: 7, contents: .bytes((0..<Self.bigBytes).map(Self.bigByte)))
        var oid = Self.edgeOIDs.lowerBound
        for n in Self.edgeSlots {
            host.records[oid] = .init(className: "Array", hash: Int(oid), contents: .slots((0..<n).map { .value(intOop($0)) }))
            oid += 1
        }
        for n in Self.edgeBytes {
            host.records[oid] = .init(className: "ByteArray", hash: Int(oid), contents: .bytes((0..<n).map(Self.bigByte)))
            oid += 1
        }
        host.records[1] = .init(className: "Array", hash: 1, contents: .slots((Self.bigOIDs + Array(Self.edgeOIDs)).map { .ref($0) }))
        host.records[8] = .init(className: "Array", hash: 8, contents: .slots([.ref(2), .ref(7)]))
        return (vm, host)
    }

    /// Whether the object with this OID, loaded, holds what its record does.
    private func bigObjectIsIntact(_ vm: VM, _ o: Oop, oid: UInt64, host: Host) -> Bool {
        guard let object = vm.loaded(o), vm.identityHashValue(object) == host.records[oid]!.hash else { return false }
        switch host.records[oid]!.contents {
        case .slots(let slots):
            guard vm.indexableSize(object) == slots.count else { return false }
            return slots.indices.allSatisfy { k in
                if case .value(let v) = slots[k] { return fetch(object, k) == v }
                return false
            }
        case .bytes(let bytes):
            return vm.byteArrayContents(object) == bytes
        }
    }

    /// Old-space bytes an object of `slots` slots (or 64-bit words) takes.
    private static func occupied(_ slots: Int) -> Int { (slots + 1 + (slots >= 255 ? 1 : 0)) * 8 }

    func testObjectsWithAnOverflowWordShrinkToSmallGhostsAndAreLoadedAgainWhole() throws {
        let (vm, host) = try bigSpace()
        let table = vm.handle(host.object(1)), holder = vm.handle(host.object(8))
        let all = Self.bigOIDs + Array(Self.edgeOIDs)
        for i in all.indices { _ = vm.indexableSize(vm.fetchSlot(vm.handleValue(table), i)) }
        _ = vm.indexableSize(vm.fetchSlot(vm.handleValue(holder), 0))
        let bigObject = vm.followed(fetch(vm.handleValue(table), 0))
        XCTAssertTrue(hasOverflowWord(bigObject))
        XCTAssertEqual(fetch(vm.handleValue(holder), 0), bigObject, "the holder refers to it too")
        XCTAssertNil(vm.oldSpaceProblem())
        let sizes = (2...6).map { _ in Self.bigSlots } + [(Self.bigBytes + 7) / 8]
        let bigTotal = sizes.map(Self.occupied).reduce(0, +)
        XCTAssertGreaterThan(vm.oldSpaceBytes, 4 << 20, "the big objects alone make more than half of old space")
        let before = vm.oldSpaceBytes
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 1)
        XCTAssertEqual(vm.evictedObjects, all.count, "every one, though most refer to nothing but SmallIntegers")
        XCTAssertGreaterThanOrEqual(before - vm.oldSpaceBytes, bigTotal - Self.bigOIDs.count * 32,
                                    "each big object is four words now")
        XCTAssertNil(vm.oldSpaceProblem())
        for (i, oid) in all.enumerated() {
            let ghost = fetch(vm.handleValue(table), i)
            XCTAssertTrue(vm.isGhost(ghost) && vm.isSmallGhost(ghost), "object \(oid)")
            XCTAssertEqual(vm.ghostOID(ghost), oid)
            XCTAssertEqual(vm.identityHashValue(ghost), host.records[oid]!.hash)
            XCTAssertEqual(objectBytes(ghost), hasOverflowWord(ghost) ? 32 : 24)
        }
        XCTAssertEqual(vm.ghostObjectWords(fetch(vm.handleValue(table), 0)), Self.bigSlots)
        XCTAssertEqual(fetch(vm.handleValue(holder), 0), fetch(vm.handleValue(table), 0), "the same oop, a ghost now")
        let evicted = vm.oldSpaceBytes
        vm.fullGC()
        XCTAssertEqual(vm.oldSpaceBytes, evicted, "the ghosts stay as they are")
        XCTAssertNil(vm.oldSpaceProblem())
        // Loaded again through a forwarder, whole; the holder's reference (to the forwarder) is identical.
        let loads = host.loads
        for (i, oid) in all.enumerated() {
            XCTAssertTrue(bigObjectIsIntact(vm, fetch(vm.handleValue(table), i), oid: oid, host: host), "object \(oid)")
        }
        XCTAssertEqual(host.loads - loads, all.count)
        let throughHolder = fetch(vm.handleValue(holder), 0), throughTable = vm.fetchSlot(vm.handleValue(table), 0)
        XCTAssertTrue(vm.isForwarder(throughHolder))
        XCTAssertTrue(vm.identical(throughHolder, throughTable))
        XCTAssertEqual(vm.identityHashValue(throughHolder), 2)
        XCTAssertNil(vm.oldSpaceProblem())
        vm.fullGC()
        XCTAssertEqual(fetch(vm.handleValue(holder), 0), fetch(vm.handleValue(table), 0), "no forwarder left")
        XCTAssertNil(vm.oldSpaceProblem())
    }

    func testABigObjectChangedSinceTheLastCommitIsNotEvicted() throws {
        let (vm, host) = try bigSpace()
        let table = vm.handle(host.object(1))
        for i in Self.bigOIDs.indices { _ = vm.indexableSize(vm.fetchSlot(vm.handleValue(table), i)) }
        let changed = vm.fetchSlot(vm.handleValue(table), 1)
        vm.store(changed, 5, intOop(-5))
        let bytes = vm.fetchSlot(vm.handleValue(table), 5)
        bytesOf(bytes)[9] = 99
        vm.noteChanged(bytes)
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 1)
        XCTAssertEqual(vm.evictedObjects, 4)
        XCTAssertNil(vm.oldSpaceProblem())
        let table2 = vm.handleValue(table)
        XCTAssertTrue(vm.isGhost(fetch(table2, 0)))
        let kept = fetch(table2, 1), keptBytes = fetch(table2, 5)
        XCTAssertFalse(vm.isGhost(kept), "changed: its record is not what memory holds")
        XCTAssertFalse(vm.isGhost(keptBytes))
        XCTAssertEqual(vm.indexableSize(kept), Self.bigSlots)
        XCTAssertEqual(fetch(kept, 5), intOop(-5))
        XCTAssertEqual(fetch(kept, Self.bigSlots - 1), intOop(3 * 1_000_000 + Self.bigSlots - 1))
        XCTAssertEqual(vm.byteArrayContents(keptBytes)[9], 99)
        XCTAssertEqual(vm.byteArrayContents(keptBytes)[10], Self.bigByte(10))
    }

    func testABigReceiverWhoseCodeReadsInstanceVariablesStaysLoadedWhileItRuns() throws {
        let (vm, host) = try bigSpace()
        T.install(vm, "Object", "collect", primitive: 130, code: [T.op(.pushSelf), T.op(.returnTop)])
        // Object>>firstInstVarAfterCollecting   self collect. ^ the receiver's first slot, read as an instance variable
        T.install(vm, "Object", "firstInstVarAfterCollecting", literals: [.symbol("collect"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushSelf), T.op(.send, 0, 0), T.op(.pop), T.op(.pushInstVar, 3), T.op(.returnTop)])
        let table = vm.handle(host.object(1))
        for i in Self.bigOIDs.indices { _ = vm.indexableSize(vm.fetchSlot(vm.handleValue(table), i)) }
        let receiver = vm.fetchSlot(vm.handleValue(table), 0)
        XCTAssertEqual(try vm.send("firstInstVarAfterCollecting", to: receiver), intOop(2 * 1_000_000 + 3))
        XCTAssertEqual(vm.evictions, 1)
        XCTAssertFalse(vm.isGhost(fetch(vm.handleValue(table), 0)), "an Array, but its code read it directly")
        XCTAssertTrue(vm.isGhost(fetch(vm.handleValue(table), 1)))
        XCTAssertNil(vm.oldSpaceProblem())
    }
}
