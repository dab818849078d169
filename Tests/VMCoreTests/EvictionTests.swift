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
        XCTAssertEqual(vm.evictedObjects, Self.chunks, "the chunks; the table is held by the host")
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
        XCTAssertEqual(vm.evictedObjects, Self.chunks - 2)
        let table = vm.handleValue(h)
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(table, 3)), "changed since the last commit")
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(table, 4)), "the host cannot load it again as it is")
        XCTAssertFalse(vm.isGhost(vm.fetchSlot(vm.fetchSlot(table, 3), 1)))
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
        // Chunk 0 changes, so the first eviction keeps it; then its change is committed.
        let first = vm.fetchSlot(vm.handleValue(h), 0)
        vm.store(first, 0, vm.fetchSlot(first, 0))
        vm.fullGC()
        XCTAssertEqual(vm.evictedObjects, Self.chunks - 1, "all loaded since the start: evicted, as evicting none was not enough")
        vm.clearChangedObjects()
        // Load chunks until more than half of old space is live, by less than chunk 0 holds.
        let half = 4 << 20
        var loaded = 1
        while vm.oldSpaceBytes <= half { read(vm, vm.handleValue(h), chunk: loaded); loaded += 1 }
        XCTAssertLessThan(loaded, Self.chunks)
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 2)
        XCTAssertEqual(vm.evictedObjects, Self.chunks, "chunk 0 only: loaded before the last eviction")
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
}
