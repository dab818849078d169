// Small ghosts and forwarders: a ghost of an object bigger than two words is two words, so an object
// whose referents together exceed the heap can be loaded and traversed; loading such a ghost makes it a
// forwarder to the object, and no program can tell — identity, identity hashes, identity collections,
// classes, primitives, commit and abort behave as for any object, and a full collection leaves no
// reference to a forwarder.

import Foundation
@testable import VMCore
import XCTest
@testable import LivingObjects

final class ForwarderTests: MasterImageTestCase {
    override class var master: MasterImage? { ForwarderImage.master }

    /// Slot `i` of the global `name`'s value as memory holds it (a ghost, a forwarder or an object).
    private func rawElement(_ image: CapturingImage, _ name: String, _ i: Int) throws -> Oop {
        let vm = image.rt.vm
        return fetch(try XCTUnwrap(vm.loaded(try XCTUnwrap(image.rt.global(name)))), i)
    }

    func testAnArrayWhoseElementsTogetherExceedTheHeapIsLoadedAndTraversed() throws {
        let image = try openedWithoutPrefetching(heapLimit: ForwarderImage.heapLimit)
        XCTAssertEqual(try image.print("Big size"), "\(ForwarderImage.count)", image.err)
        XCTAssertTrue(image.rt.vm.isGhost(try rawElement(image, "Big", 0)), "its elements are small ghosts until used")
        XCTAssertEqual(try image.print("Big inject: 0 into: [:sum :b | sum + (b at: 1)]"), "\(ForwarderImage.firstByteSum)", image.err)
        XCTAssertEqual(try image.print("(Big collect: [:b | b size]) asSet asArray"), "#(\(ForwarderImage.blobSize))", image.err)
        let vm = image.rt.vm
        XCTAssertGreaterThan(vm.evictions, 0, "the heap filled: eviction reclaimed the elements read")
        XCTAssertGreaterThan(vm.forwardersMade, ForwarderImage.count, "every element was loaded through a forwarder, some twice")
        XCTAssertLessThanOrEqual(vm.oldSpaceBytes, ForwarderImage.heapLimit)
    }

    func testAReferenceTakenBeforeLoadingIsIdenticalToOneTakenAfter() throws {
        let image = try openedWithoutPrefetching()
        let vm = image.rt.vm
        XCTAssertTrue(vm.isGhost(try rawElement(image, "Items", 2)))
        XCTAssertEqual(try image.print("""
            | before after |
            before := Items at: 3.
            after := (Items at: 3) yourself.
            { before == after. after == before. before ~~ after. before identityHash = after identityHash.
              before identityHash = (ItemHashes at: 3). before class. after class == before class }
            """), "an Array(true true false true true ByteString true)", image.err)
        XCTAssertTrue(vm.isForwarder(try rawElement(image, "Items", 2)), "the ghost in Items is a forwarder now")
        XCTAssertEqual(vm.identityHashValue(try rawElement(image, "Items", 2)), vm.identityHashValue(vm.followed(try rawElement(image, "Items", 2))))
        XCTAssertTrue(vm.identical(try rawElement(image, "Items", 2), vm.followed(try rawElement(image, "Items", 2))))
        XCTAssertEqual(try image.print("(Items at: 3) == (Items at: 3) yourself"), "true")
    }

    func testIdentityCollectionsFindAnObjectThroughItsForwarderAndWithout() throws {
        let image = try openedWithoutPrefetching()
        // Item 4 is loaded (its slot in Items becomes a forwarder) before the collections are, item 5 after.
        XCTAssertEqual(try image.print("(Items at: 4) size"), "\(ForwarderImage.itemSize)")
        XCTAssertTrue(image.rt.vm.isForwarder(try rawElement(image, "Items", 3)))
        XCTAssertEqual(try image.print("""
            { ItemSet includes: (Items at: 4). ItemSet includes: (Items at: 4) yourself.
              (ItemDict at: (Items at: 4)) = 4. (ItemDict at: (Items at: 4) yourself) = 4.
              ItemSet includes: (Items at: 5). (ItemDict at: (Items at: 5) yourself) = 5. ItemSet includes: 'not an item' }
            """), "#(true true true true true true false)", image.err)
        XCTAssertEqual(try image.print("(Items indexOf: (Items at: 6) yourself) = 6 and: [(Items at: 6) = (Items at: 6) copy]"), "true")
    }

    func testPrimitivesOnObjectsReachedThroughForwarders() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Items at: 7) first"), "$i")
        XCTAssertTrue(image.rt.vm.isForwarder(try rawElement(image, "Items", 6)))
        XCTAssertEqual(try image.print("""
            | item copy |
            item := Items at: 7.
            copy := String new: item size.
            copy replaceFrom: 1 to: item size with: item startingAt: 1.
            { item at: 6. item size. (item , '!') last. ('>' , item) size. copy = item. item basicSize. item hash = copy hash.
              (item copyFrom: 1 to: 4). (Array with: item) first == item. item shallowCopy = item. item shallowCopy == item }
            """), "#($7 \(ForwarderImage.itemSize) $! \(ForwarderImage.itemSize + 1) true \(ForwarderImage.itemSize) true 'item' true true false)",
                       image.err)
    }

    func testAChangeThroughAForwarderIsCommittedUnderItsOIDAndAbortPutsItBack() throws {
        let image = try openedWithoutPrefetching()
        let vm = image.rt.vm
        XCTAssertEqual(try image.print("(Items at: 8) at: 1 put: $Z. (Items at: 9) at: 1 put: $Q. (Items at: 8) first"), "$Z")
        XCTAssertTrue(vm.isForwarder(try rawElement(image, "Items", 7)))
        let oid = try XCTUnwrap(image.rt.imageOID(of: vm.followed(try rawElement(image, "Items", 7))))
        XCTAssertNil(image.rt.imageOID(of: try rawElement(image, "Items", 7)), "the forwarder has no OID of its own")
        XCTAssertEqual(try image.print("System commit"), "true")
        XCTAssertEqual(try image.print("(Items at: 9) at: 1 put: $W. System abort. { (Items at: 8) first. (Items at: 9) first }"),
                       "#($Z $Q)", image.err)
        XCTAssertEqual(try image.print("(Items at: 10) at: 1 put: $X. System abort. (Items at: 10) first"), "$i", image.err)
        let reopened = try openedWithoutPrefetching()
        XCTAssertEqual(try reopened.print("{ (Items at: 8) first. (Items at: 9) first. (Items at: 10) first. (Items at: 8) identityHash = (ItemHashes at: 8) }"),
                       "#($Z $Q $i true)", reopened.err)
        XCTAssertEqual(reopened.rt.imageOID(of: reopened.rt.vm.followed(try rawElement(reopened, "Items", 7))), oid)
    }

    func testAFullCollectionLeavesNoReferenceToAForwarder() throws {
        let image = try openedWithoutPrefetching()
        let vm = image.rt.vm
        _ = try image.rt.evaluate("Smalltalk at: #Kept put: { Items at: 2. Items at: 3 }. (Items at: 2) size + (Items at: 3) size")
        XCTAssertGreaterThan(vm.referencesToForwarders(), 0)
        XCTAssertTrue(vm.forwardersMayBeReferenced, "== follows forwarders when the oops differ")
        vm.fullGC()
        XCTAssertEqual(vm.referencesToForwarders(), 0)
        XCTAssertFalse(vm.forwardersMayBeReferenced, "== compares oops alone again")
        XCTAssertEqual(vm.forwarderCount(), 0, "unreferenced, they were collected")
        XCTAssertFalse(vm.isForwarder(try rawElement(image, "Items", 1)))
        XCTAssertEqual(try image.print("""
            { (Kept at: 1) == (Items at: 2). (Kept at: 2) == (Items at: 3). (Items at: 2) identityHash = (ItemHashes at: 2).
              ItemSet includes: (Kept at: 1). (Kept at: 2) size }
            """), "#(true true true true \(ForwarderImage.itemSize))", image.err)
    }

    func testBecomeOfAnObjectReachedThroughAForwarder() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Items at: 11) size"), "\(ForwarderImage.itemSize)")
        XCTAssertTrue(image.rt.vm.isForwarder(try rawElement(image, "Items", 10)))
        XCTAssertEqual(try image.print("""
            | other | other := 'another string' copy.
            (Items at: 11) become: other.
            { Items at: 11. other first. (Items at: 11) == (Items at: 11) yourself }
            """), "#('another string' $i true)", image.err)
    }
}

/// An image holding `Big`, an Array of `count` ByteArrays of `blobSize` bytes (byte k of element i is
/// (i + k) \\ 256), several times the heap limit in all; and `Items`, strings of `itemSize` characters
/// (small ghosts), with an IdentitySet and an IdentityDictionary of them and their identity hashes.
enum ForwarderImage {
    static let count = 20_000, blobSize = 1024, itemSize = 30, items = 12
    static let heapLimit = 12 << 20
    static var firstByteSum: Int { (1...count).reduce(0) { $0 + ($1 + 1) % 256 } }

    static let master = MasterImage("forwarder image") { c in
        _ = try c.rt.evaluate("""
            Smalltalk at: #Big put: ((1 to: \(count)) collect: [:i | | b |
                b := ByteArray new: \(blobSize).
                1 to: \(blobSize) do: [:k | b at: k put: i + k \\\\ 256].
                b]).
            Smalltalk at: #Items put: ((1 to: \(items)) collect: [:i | ('item ', (i printString: 10)) , (String new: \(itemSize) - 5 - (i printString: 10) size withAll: $.)]).
            Smalltalk at: #ItemSet put: (IdentitySet withAll: Items).
            Smalltalk at: #ItemDict put: (IdentityDictionary new).
            Items doWithIndex: [:s :i | ItemDict at: s put: i].
            Smalltalk at: #ItemHashes put: (Items collect: [:s | s identityHash])
            """)
    }
}
