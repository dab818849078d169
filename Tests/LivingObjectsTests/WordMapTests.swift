// The image session's word-to-word hash map (WordMap.swift), checked against Swift's Dictionary, and
// the session's maps after full collections move and free persistent objects.

import Foundation
import VMCore
import XCTest
@testable import LivingObjects

/// SplitMix64: the same sequence of operations every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class WordMapTests: XCTestCase {
    /// The map holds exactly the model's entries: by look-up, by iteration and by count.
    private func assertSame(_ map: WordMap, _ model: [UInt64: UInt64], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(map.count, model.count, "count", file: file, line: line)
        for (k, v) in model where map[k] != v {
            XCTFail("key \(k): \(map[k].map(String.init) ?? "nil") instead of \(v)", file: file, line: line)
            return
        }
        var seen: [UInt64: UInt64] = [:]
        for (k, v) in map { XCTAssertNil(seen.updateValue(v, forKey: k), "key \(k) iterated twice", file: file, line: line) }
        XCTAssertEqual(seen, model, "iteration", file: file, line: line)
    }

    func testInsertLookUpOverwriteAndRemove() {
        let map = WordMap()
        XCTAssertTrue(map.isEmpty)
        XCTAssertNil(map[42])
        map[42] = 1
        map[7] = 2
        map[42] = 3
        XCTAssertEqual(map[42], 3)
        XCTAssertEqual(map[7], 2)
        XCTAssertEqual(map.count, 2)
        XCTAssertFalse(map.insert(7, 9), "an entry is there")
        XCTAssertEqual(map[7], 2, "insert leaves an existing entry alone")
        XCTAssertTrue(map.insert(8, 9))
        XCTAssertEqual(map[8], 9)
        XCTAssertEqual(map.removeValue(forKey: 42), 3)
        XCTAssertNil(map.removeValue(forKey: 42))
        XCTAssertNil(map[42])
        map[7] = nil
        assertSame(map, [8: 9])
    }

    func testKeyZeroAndTheLargestKeyAreOrdinaryKeys() {
        let map = WordMap()
        XCTAssertNil(map[0], "0 marks empty slots, yet is not found in an empty map")
        map[0] = 5
        map[UInt64.max] = 6
        map[1] = 0
        assertSame(map, [0: 5, UInt64.max: 6, 1: 0])
        XCTAssertFalse(map.insert(0, 1))
        XCTAssertEqual(map.removeValue(forKey: 0), 5)
        assertSame(map, [UInt64.max: 6, 1: 0])
        map.removeAll()
        assertSame(map, [:])
    }

    func testGrowsFromEmptyThroughAMillionConsecutiveAndAlignedKeys() {
        let map = WordMap()
        var model: [UInt64: UInt64] = [:]
        for i in UInt64(1)...500_000 {
            map[i] = i &* 3                        // OIDs: consecutive
            map[0x7F00_0000_0000 + i * 8] = i      // addresses: 8-byte aligned
            model[i] = i &* 3
            model[0x7F00_0000_0000 + i * 8] = i
        }
        assertSame(map, model)
        let reserved = WordMap(minimumCapacity: 100)
        reserved.reserveCapacity(50_000)
        for i in UInt64(1)...50_000 { reserved[i << 32] = i }   // keys that differ in their high bits only
        for i in UInt64(1)...50_000 where reserved[i << 32] != i { XCTFail("key \(i << 32)"); break }
        XCTAssertEqual(reserved.count, 50_000)
    }

    /// Random inserts, overwrites and removals over a small key space (long probe runs: every removal
    /// shifts entries back through collisions) and a wide one, checked against Dictionary throughout.
    func testRandomOperationsAgreeWithDictionary() {
        for keySpace: UInt64 in [64, 4_000, UInt64.max] {
            var random = SeededGenerator(state: keySpace)
            let map = WordMap()
            var model: [UInt64: UInt64] = [:]
            for step in 0..<60_000 {
                let key = keySpace == .max ? random.next() : random.next() % keySpace
                let value = random.next()
                switch random.next() % 10 {
                case 0..<5:
                    map[key] = value
                    model[key] = value
                case 5:
                    XCTAssertEqual(map.insert(key, value), model[key] == nil)
                    if model[key] == nil { model[key] = value }
                default:
                    let existing = keySpace == .max ? model.keys.randomElement(using: &random) ?? key : key
                    XCTAssertEqual(map.removeValue(forKey: existing), model.removeValue(forKey: existing), "step \(step)")
                }
                if step % 5_000 == 0 { assertSame(map, model) }
            }
            assertSame(map, model)
            // Emptied but for ten, the table shrinks and what is left is still found.
            let gone = Array(model.keys.dropFirst(10))
            map.removeValues(forKeys: gone)
            for key in gone { model[key] = nil }
            assertSame(map, model)
        }
    }

    func testUpdateValuesInPlaceRemovesThoseAnsweredNil() {
        let map = WordMap()
        var model: [UInt64: UInt64] = [:]
        for i in UInt64(0)..<20_000 { map[i * 7] = i; model[i * 7] = i }
        let removed = map.updateValues { key, value in value % 3 == 0 ? nil : value + key }
        var expectedRemoved: [UInt64] = []
        for (k, v) in model { if v % 3 == 0 { expectedRemoved.append(k); model[k] = nil } else { model[k] = v + k } }
        XCTAssertEqual(Set(removed), Set(expectedRemoved))
        assertSame(map, model)
    }

    /// As when a full collection frees the most of the objects loaded: ranges of consecutive OIDs,
    /// nearly all removed, in the order of their slots. The table shrinks only once they are gone, so
    /// those still to remove, all of one end of the table, never crowd into one run of slots (they
    /// did, 981 slots long, when each removal could shrink the table).
    func testRemovingMostEntriesInSlotOrderKeepsProbeRunsShort() {
        func ranges() -> (WordMap, [UInt64: UInt64]) {
            let map = WordMap()
            var model: [UInt64: UInt64] = [:]
            for range in UInt64(0)..<138 {
                for oid in range * 7_000 + 1...range * 7_000 + 1_000 { map[oid] = oid << 3; model[oid] = oid << 3 }
            }
            return (map, model)
        }
        var (map, model) = ranges()
        XCTAssertLessThan(map.longestRun, 32)
        let freed = map.map(\.key).filter { $0 % 7_000 < 950 }
        for (i, oid) in freed.enumerated() {
            XCTAssertEqual(map.removeValue(forKey: oid), model.removeValue(forKey: oid))
            if i % 5_000 == 0 && map.longestRun >= 32 { XCTFail("a run of \(map.longestRun) slots after \(i) removals"); break }
        }
        assertSame(map, model)
        (map, model) = ranges()
        map.updateValues { oid, o in oid % 7_000 < 950 ? nil : o }
        model = model.filter { $0.key % 7_000 >= 950 }
        assertSame(map, model)
        XCTAssertLessThan(map.longestRun, 32)
    }

    func testUpdateKeysMovesEntriesAndAnswersTheValuesOfThoseRemoved() {
        let map = WordMap()
        var model: [UInt64: UInt64] = [:]
        for i in UInt64(0)..<20_000 { map[0x1000 + i * 16] = i }
        // As a compaction does: every other object freed, the others slid down.
        let removed = map.updateKeys { key in
            let index = (key - 0x1000) / 16
            return index % 2 == 1 ? nil : 0x1000 + index * 8
        }
        for i in UInt64(0)..<20_000 where i % 2 == 0 { model[0x1000 + i * 8] = i }
        XCTAssertEqual(Set(removed), Set((0..<20_000).filter { $0 % 2 == 1 }.map(UInt64.init)))
        assertSame(map, model)
    }
}

/// The session's maps stay each other's inverse while full collections move and free persistent
/// objects, and what was committed before reads back the same after.
final class SessionMapsAfterCollectionTests: TemporaryDirectoryTestCase {
    func testFullCollectionsMoveAndFreePersistentObjectsAndCommitsStillWork() throws {
        let file = path("maps.lo")
        let c = try CapturingRuntime()
        _ = try c.rt.evaluate("""
            | keep |
            keep := Array new: 3000.
            1 to: 3000 do: [:i | keep at: i put: (Array with: i with: i printString with: nil)].
            Smalltalk at: #Kept put: keep
            """)
        try c.rt.commitImage(toPath: file, message: "3000 triples")
        let session = try XCTUnwrap(c.rt.imageSession)
        func assertInverse(_ when: String) {
            XCTAssertEqual(session.oids.count, session.objects.count, when)
            for (o, oid) in session.oids where session.objects[oid] != o {
                XCTFail("\(when): object \(o) has OID \(oid), whose object is \(session.objects[oid].map(String.init) ?? "none")")
                return
            }
        }
        assertInverse("after the commit")
        // The last triple: made after those dropped, it moves down when they are freed.
        let last = try XCTUnwrap(c.rt.vm.fetchSlot(try XCTUnwrap(c.rt.vm.globalValue("Kept")), 2998))
        let triple = try XCTUnwrap(c.rt.imageOID(of: last))
        XCTAssertNotNil(session.fingerprints[triple])
        let before = session.oids.count
        // Every other triple dropped and committed, then collected: the rest move.
        _ = try c.rt.evaluate("2 to: 3000 by: 2 do: [:i | Kept at: i put: nil]. Smalltalk garbageCollect")
        try c.rt.commitImage(message: "half")
        c.rt.vm.fullGC()
        assertInverse("after the collection")
        XCTAssertLessThanOrEqual(session.oids.count, before - 1500 * 2, "the dropped triples and their strings are freed")
        XCTAssertNotNil(session.fingerprints[triple], "a live object keeps its fingerprint")
        let moved = c.rt.vm.fetchSlot(c.rt.vm.globalValue("Kept")!, 2998)
        XCTAssertNotEqual(moved, last, "the collection moved it")
        XCTAssertEqual(c.rt.imageOID(of: moved), triple, "and it kept its OID")
        XCTAssertEqual(session.objects[triple], moved)
        _ = try c.rt.evaluate("(Kept at: 1) at: 3 put: #changed. (Kept at: 2999) at: 3 put: #moved")
        try c.rt.commitImage(message: "one change")
        let reopened = try CapturingImage(path: file)
        XCTAssertEqual(try reopened.print("{ (Kept at: 1) at: 3. (Kept at: 2999) at: 3. (Kept at: 3) at: 2. (Kept at: 2). (Kept inject: 0 into: [:s :t | t isNil ifTrue: [s] ifFalse: [s + t first]]) }"),
                       "#(#changed #moved '3' nil 2250000)", reopened.err)
    }
}
