// Eviction of objects of 255 slots or more (an overflow word precedes their header): an Array of
// 100,000 slots, a ByteArray and a String of hundreds of thousands of bytes, loaded from an image into
// a heap too small to keep them, shrink to small ghosts at a full collection — their memory is
// reclaimed — and are loaded again whole, with their identity, when used. Changed ones stay loaded.

import Foundation
@testable import VMCore
import XCTest
@testable import LivingObjects

final class BigEvictionTests: MasterImageTestCase {
    override class var master: MasterImage? { BigImage.master }

    /// The image opened with a heap limit of 3 MB: the big objects loaded make more than half of it.
    private func opened() throws -> CapturingImage { try openedWithoutPrefetching(heapLimit: BigImage.heapLimit) }

    /// The value of each big global as memory holds it (a ghost or an object; a forwarder is followed).
    private func bigObjects(_ image: CapturingImage) throws -> [Oop] {
        try BigImage.globals.map { try XCTUnwrap(image.rt.global($0)) }
    }

    /// The slots of the global Keeper's value as memory holds them.
    private func kept(_ image: CapturingImage) throws -> [Oop] {
        let keeper = try XCTUnwrap(image.rt.vm.loaded(try XCTUnwrap(image.rt.global("Keeper"))))
        return (0..<BigImage.globals.count).map { fetch(keeper, $0) }
    }

    func testBigObjectsShrinkToSmallGhostsAndAreLoadedAgainWholeWithTheirIdentity() throws {
        let image = try opened()
        let vm = image.rt.vm
        // Keeper, new (so never evicted), keeps references to them: evicted, they stay as ghosts. (The
        // globals' associations are evicted too, which frees what only they refer to.)
        XCTAssertEqual(try image.print("""
            Smalltalk at: #Keeper put: { BigArray. BigBytes. BigString }.
            BigArray size + BigBytes size + BigString size
            """), "\(BigImage.slots + BigImage.bytes + BigImage.characters)", image.err)
        XCTAssertEqual(vm.evictions, 0, "nothing evicted yet")
        let loaded = try kept(image).map(vm.followed)
        XCTAssertTrue(loaded.allSatisfy { !vm.isGhost($0) && hasOverflowWord($0) })
        let hashes = loaded.map(vm.identityHashValue)
        let bigBytes = loaded.map(objectBytes).reduce(0, +)
        let before = vm.oldSpaceBytes
        XCTAssertGreaterThan(before, BigImage.heapLimit / 2, "more than half of old space is live")
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 1)
        let ghosts = try kept(image)
        XCTAssertTrue(ghosts.allSatisfy { vm.isGhost($0) && vm.isSmallGhost($0) && hasOverflowWord($0) && objectBytes($0) == 32 })
        XCTAssertEqual(ghosts.map(vm.ghostObjectWords), [BigImage.slots, BigImage.bytes / 8, BigImage.characters / 8])
        XCTAssertEqual(ghosts.map(vm.identityHashValue), hashes)
        XCTAssertGreaterThanOrEqual(before - vm.oldSpaceBytes, bigBytes - 3 * 32, "their memory is reclaimed")
        XCTAssertNil(vm.oldSpaceProblem())
        vm.fullGC()
        XCTAssertNil(vm.oldSpaceProblem())
        XCTAssertTrue(try kept(image).allSatisfy { vm.isSmallGhost($0) })
        // Used again: loaded through forwarders, every slot and byte as stored; the references Keeper and
        // BigHolder hold are identical to the globals'.
        XCTAssertEqual(try image.print("""
            | sum bytes characters |
            sum := (Keeper at: 1) inject: 0 into: [:s :e | s + (e isString ifTrue: [e asNumber] ifFalse: [e])].
            bytes := 0.
            1 to: BigBytes size do: [:k | (BigBytes at: k) = (k * 7 \\\\ 256) ifTrue: [bytes := bytes + 1]].
            characters := 0.
            1 to: BigString size do: [:k | (BigString at: k) = (Character value: 97 + (k \\\\ 26)) ifTrue: [characters := characters + 1]].
            { sum. bytes. characters. (BigArray at: 1000) = '1000'.
              (Keeper at: 1) == BigArray. (Keeper at: 2) == BigBytes. (Keeper at: 3) == BigString.
              (BigHolder at: 1) == BigArray. (BigHolder at: 2) == (Keeper at: 2). (BigHolder at: 3) == BigString.
              Keeper collect: [:o | o identityHash] }
            """), "#(\(BigImage.slots * (BigImage.slots + 1) / 2) \(BigImage.bytes) \(BigImage.characters) true true true true true true true #(\(hashes.map(String.init).joined(separator: " "))))",
            image.err)
        XCTAssertTrue(try kept(image).allSatisfy { vm.isForwarder($0) && !vm.isGhost(vm.followed($0)) })
        XCTAssertNil(vm.oldSpaceProblem())
    }

    /// Element 99 of BigArray, BigBytes and (its code point) BigString.
    private static let secondSum: Int = 99 + (99 * 7) % 256 + 97 + 99 % 26

    func testABigObjectHeldInATemporaryIsTheSameObjectAfterItWasEvicted() throws {
        let image = try opened()
        let vm = image.rt.vm
        XCTAssertEqual(try image.print("""
            | a b hash first second |
            a := BigArray. b := BigBytes. hash := a identityHash.
            first := a size + b size + BigString size.
            Smalltalk garbageCollect.
            second := (a at: 99) + (b at: 99) + (BigString at: 99) asInteger.
            { first. second. a == BigArray. a == (BigHolder at: 1). b == BigBytes. a identityHash = hash. (a at: 2000) = '2000' }
            """), "#(\(BigImage.slots + BigImage.bytes + BigImage.characters) \(Self.secondSum) true true true true true)", image.err)
        XCTAssertEqual(vm.evictions, 1)
        XCTAssertGreaterThanOrEqual(vm.evictedObjects, 3)
        XCTAssertNil(vm.oldSpaceProblem())
    }

    func testBigObjectsChangedAndNotCommittedAreNotEvictedAndOnceCommittedAre() throws {
        let image = try opened()
        let vm = image.rt.vm
        XCTAssertEqual(try image.print("""
            BigArray at: 5 put: 'changed'. BigBytes at: 1 put: 255.
            BigArray size + BigBytes size + BigString size
            """), "\(BigImage.slots + BigImage.bytes + BigImage.characters)", image.err)
        vm.fullGC()
        XCTAssertEqual(vm.evictions, 1)
        let (array, bytes, string) = try { let o = try bigObjects(image); return (o[0], o[1], o[2]) }()
        XCTAssertFalse(vm.isGhost(array), "changed since the last commit")
        XCTAssertFalse(vm.isGhost(bytes), "changed since the last commit")
        XCTAssertTrue(vm.isGhost(string) && vm.isSmallGhost(string))
        XCTAssertNil(vm.oldSpaceProblem())
        XCTAssertEqual(try image.print("{ BigArray at: 5. BigArray at: 6. BigBytes at: 1. BigBytes at: 2. BigString size }"),
                       "#('changed' 6 255 14 \(BigImage.characters))", image.err)
        XCTAssertEqual(try image.print("System commit"), "true", image.err)
        vm.fullGC()
        // BigString, loaded again since the last eviction, may stay: evicting the others is enough.
        XCTAssertTrue(try bigObjects(image).prefix(2).allSatisfy { vm.isGhost($0) }, "committed: what memory holds is the record again")
        XCTAssertEqual(try image.print("{ BigArray at: 5. BigArray at: 6. BigBytes at: 1. BigBytes at: 2. BigString size }"),
                       "#('changed' 6 255 14 \(BigImage.characters))", image.err)
    }
}

/// An image holding BigArray (100,000 slots: k at k, except k printString at multiples of 1,000),
/// BigBytes (500,000 bytes: k · 7 \\ 256 at k), BigString (300,000 characters: the letter 97 + k \\ 26
/// at k) and BigHolder, an Array of the three.
enum BigImage {
    static let slots = 100_000, bytes = 500_000, characters = 300_000
    static let heapLimit = 3 << 20
    static let globals = ["BigArray", "BigBytes", "BigString"]

    static let master = MasterImage("big objects") { c in
        _ = try c.rt.evaluate("""
            | b s |
            Smalltalk at: #BigArray put: ((1 to: \(slots)) collect: [:k | k \\\\ 1000 = 0 ifTrue: [k printString] ifFalse: [k]]).
            b := ByteArray new: \(bytes).
            1 to: \(bytes) do: [:k | b at: k put: k * 7 \\\\ 256].
            Smalltalk at: #BigBytes put: b.
            s := String new: \(characters).
            1 to: \(characters) do: [:k | s at: k put: (Character value: 97 + (k \\\\ 26))].
            Smalltalk at: #BigString put: s.
            Smalltalk at: #BigHolder put: { BigArray. BigBytes. BigString }
            """)
    }
}
