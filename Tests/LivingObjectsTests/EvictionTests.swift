// Eviction: an image whose data is more than twice the heap limit is traversed, changed and committed;
// when old space fills, full collections turn unchanged loaded objects back into ghosts and what only
// they reached is reclaimed, to be loaded again when used. Values, identity and identity hashes stay
// as saved, and no change is lost.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class EvictionTests: MasterImageTestCase {
    override class var master: MasterImage? { BlobImage.master }

    /// The image opened with a heap limit of 12 MB, for its 26 MB of blobs.
    private func opened() throws -> CapturingImage { try opened(heapLimit: BlobImage.heapLimit) }

    func testTraversingAnImageLargerThanTheHeapTwiceEvictsAndReloadsWithValuesAndIdentityKept() throws {
        let image = try opened()
        let result = try image.print("""
            | kept chunkHashes blobHashes first second sameHashes n |
            kept := { (Blobs at: 1) at: 1. (Blobs at: 100) at: 50. (Blobs at: 130) at: 100 }.
            chunkHashes := Blobs collect: [:chunk | chunk identityHash].
            blobHashes := Array new: \(BlobImage.count).
            first := 0. n := 0.
            Blobs doWithIndex: [:chunk :i | chunk doWithIndex: [:b :j |
                n := n + 1.
                blobHashes at: n put: b identityHash.
                \(BlobImage.check("b")) ifTrue: [first := first + 1]]].
            second := 0. sameHashes := 0. n := 0.
            Blobs doWithIndex: [:chunk :i | chunk doWithIndex: [:b :j |
                n := n + 1.
                (blobHashes at: n) = b identityHash ifTrue: [sameHashes := sameHashes + 1].
                \(BlobImage.check("b")) ifTrue: [second := second + 1]]].
            { first. second. sameHashes.
              (Blobs collect: [:chunk | chunk identityHash]) = chunkHashes.
              { (Blobs at: 1) at: 1. (Blobs at: 100) at: 50. (Blobs at: 130) at: 100 } with: kept collect: [:a :b | a == b] }
            """)
        let count = BlobImage.count
        XCTAssertEqual(result, "#(\(count) \(count) \(count) true #(true true true))", image.err)
        let vm = image.rt.vm
        XCTAssertGreaterThanOrEqual(vm.evictions, 2, "the heap filled at least once in each traversal")
        XCTAssertGreaterThan(vm.evictedObjects, 0)
        XCTAssertGreaterThan(image.rt.loadedObjectCount, 2 * count, "blobs were read again in the second traversal")
    }

    func testChangesMadeWhileTraversingAreNeverEvictedAndCommitsKeepThem() throws {
        let image = try opened()
        // Every 20th chunk and its first blob change; the first half is committed half-way, the second
        // half only after more collections evicted objects around the changed ones.
        XCTAssertEqual(try image.print("""
            | good |
            good := 0.
            Blobs doWithIndex: [:chunk :i |
                i \\\\ 20 = 0 ifTrue: [(chunk at: 1) at: 5 put: 77. chunk at: 2 put: i printString].
                i = 100 ifTrue: [System commit].
                chunk doWithIndex: [:b :j | (\(BlobImage.changedCheck("b"))) ifTrue: [good := good + 1]]].
            good
            """), "\(BlobImage.count)", image.err)
        XCTAssertGreaterThan(image.rt.vm.evictions, 0)
        XCTAssertEqual(try image.print(BlobImage.changedTraversal), "\(BlobImage.count)", "changes not committed yet are kept")
        XCTAssertEqual(try image.print("System commit"), "true")
        XCTAssertEqual(try image.print(BlobImage.changedTraversal), "\(BlobImage.count)")
        let reopened = try opened()
        XCTAssertEqual(try reopened.print(BlobImage.changedTraversal), "\(BlobImage.count)", reopened.err)
    }

    func testObjectsCommittedAfterAnotherSessionCommittedAreNeverReadAgainAsOfTheSnapshot() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("(Blobs at: 3) size + ((Blobs at: 120) at: 1) size"), "\(BlobImage.perChunk + BlobImage.blobSize)")
        let other = try CapturingImage(path: self.image)
        XCTAssertEqual(try other.print("((Blobs at: 120) at: 1) at: 5 put: 99. System commit"), "true")
        // This session's commit does not follow its snapshot: chunk 3 and the objects made for it are
        // loaded as of the snapshot no more, so they stay in memory; the rest is still read as of it.
        XCTAssertEqual(try image.print("(Blobs at: 3) at: 1 put: { 'fresh' copy. 42 }. System commit"), "true")
        XCTAssertEqual(try image.print("""
            | good |
            good := 0.
            Blobs doWithIndex: [:chunk :i | chunk doWithIndex: [:b :j |
                ((i = 3 and: [j = 1]) or: [\(BlobImage.check("b"))]) ifTrue: [good := good + 1]]].
            { good. (Blobs at: 3) first = #('fresh' 42). ((Blobs at: 120) at: 1) at: 5 }
            """), "#(\(BlobImage.count) true 5)", image.err)
        XCTAssertGreaterThan(image.rt.vm.evictions, 0)
        XCTAssertEqual(try image.print("System abort. { (Blobs at: 3) first = #('fresh' 42). ((Blobs at: 120) at: 1) at: 5 }"), "#(true 99)")
    }

    /// After a traversal has filled the heap with blobs loaded and unchanged, `allInstances` needs room
    /// for the ghosts of every stored instance: a collection evicts the blobs first, and it answers at
    /// once (it used to fail, and succeed only when asked again).
    func testAllInstancesAfterATraversalFilledTheHeapAnswersTheFirstTime() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("""
            | n |
            n := 0.
            Blobs do: [:chunk | chunk do: [:b | n := n + (b at: 3)]].
            n
            """), "\(BlobImage.chunks * BlobImage.perChunk * (BlobImage.perChunk + 1) / 2)")
        XCTAssertEqual(try image.print("""
            [(ByteArray allInstances select: [:b | b size = \(BlobImage.blobSize)]) size] on: ObjectFault do: [:e | e messageText]
            """), "\(BlobImage.count)")
    }

    /// A one-way become between two objects of the image must redirect the references of objects not
    /// loaded too, so every object is loaded first; when they do not fit in the heap, the become
    /// fails and changes nothing (it used to go on and miss them).
    func testABecomeBetweenObjectsOfAnImageLargerThanTheHeapFailsAndChangesNothing() throws {
        let image = try opened()
        let failed = try image.print("[(Blobs at: 1) becomeForward: (Blobs at: 2). #done] on: ObjectFault do: [:e | e messageText]")
        XCTAssertTrue(failed.contains("heap limit"), failed)
        XCTAssertEqual(try image.print("{ (Blobs at: 1) == (Blobs at: 2). ((Blobs at: 1) at: 1) at: 1. ((Blobs at: 2) at: 1) at: 1 }"), "#(false 1 2)")
        XCTAssertEqual(try image.print("System commit"), "true")
        XCTAssertEqual(try opened().print("{ (Blobs at: 1) == (Blobs at: 2). ((Blobs at: 1) at: 1) at: 1 }"), "#(false 1)")
    }

    /// A send to a big ghost right after a traversal filled the heap with blobs loaded and unchanged:
    /// the ghost does not fit until a full collection evicts them, and none can run in the middle of a
    /// send, so the send is made again after one (it used to fail once, and succeed when repeated);
    /// so is a primitive's.
    /// An object that fits in no heap this size still fails, once, with an ObjectFault.
    func testASendWhoseGhostFindsTheHeapFullIsSentAgainAfterACollection() throws {
        let big = 5 << 20, huge = 20 << 20
        XCTAssertEqual(try opened(heapLimit: 64 << 20).print("""
            Smalltalk at: #Big put: ((ByteArray new: \(big)) at: 12345 put: 7; yourself).
            Smalltalk at: #Huge put: (ByteArray new: \(huge)).
            System commit
            """), "true")
        let traversal = "| n | n := 0. Blobs do: [:chunk | chunk do: [:b | n := n + (b at: 3)]]. n"
        let sum = "\(BlobImage.chunks * BlobImage.perChunk * (BlobImage.perChunk + 1) / 2)"
        /// What `expression` answers in a session whose traversal left Big a ghost and the heap full.
        func afterATraversal(_ expression: String) throws -> (answer: String, collected: Bool) {
            let image = try opened()
            XCTAssertEqual(try image.print(traversal), sum)
            XCTAssertTrue(image.rt.vm.isGhost(try XCTUnwrap(image.rt.global("Big"))))
            let collections = image.rt.vm.fullGCCount
            let answer = try image.print("[\(expression)] on: ObjectFault do: [:e | e messageText]")
            return (answer, image.rt.vm.fullGCCount > collections)
        }
        let send = try afterATraversal("{ Big at: 12345. Big size }")
        XCTAssertEqual(send.answer, "#(7 \(big))")
        XCTAssertTrue(send.collected)
        let primitive = try afterATraversal("(ByteArray new: 3) replaceFrom: 1 to: 3 with: Big startingAt: 12344")
        XCTAssertEqual(primitive.answer, "#[0 7 0]", "as a primitive's argument")
        XCTAssertTrue(primitive.collected)
        let image = try opened()
        XCTAssertEqual(try image.print(traversal), sum)
        XCTAssertEqual(try image.print("[Huge at: 1] on: ObjectFault do: [:e | #fault]"), "#fault")
        XCTAssertEqual(try image.print("[Huge size] on: ObjectFault do: [:e | #fault]"), "#fault")
        XCTAssertEqual(try image.print("Big at: 12345"), "7")
    }

    /// When what another session committed meanwhile is nothing this session has loaded, its commit
    /// moves the snapshot past both (as a commit right after the snapshot does): what it committed
    /// can be evicted again, and the other session's change is read when first used.
    func testACommitAfterAnotherSessionsCommitOfObjectsNotLoadedMovesTheSnapshot() throws {
        let threshold = ImageSession.snapshotMoveThreshold
        ImageSession.snapshotMoveThreshold = 0
        defer { ImageSession.snapshotMoveThreshold = threshold }
        let image = try opened()
        XCTAssertEqual(try image.print("(Blobs at: 3) size"), "\(BlobImage.perChunk)")
        let other = try CapturingImage(path: self.image)
        XCTAssertEqual(try other.print("((Blobs at: 120) at: 1) at: 5 put: 99. System commit"), "true")
        XCTAssertEqual(try image.print("(Blobs at: 3) at: 1 put: { 'fresh' copy. 42 }. System commit"), "true")
        let session = try XCTUnwrap(image.rt.imageSession)
        XCTAssertEqual(session.snapshot, session.base, "the snapshot moved to this session's commit")
        XCTAssertEqual(session.committedSinceSnapshot, [])
        let chunk = image.rt.vm.followed(try image.rt.evaluate("Blobs at: 3"))
        XCTAssertNotNil(session.reloadableOID(of: chunk), "what it committed can be evicted")
        XCTAssertEqual(try image.print("{ (Blobs at: 3) first = #('fresh' 42). ((Blobs at: 120) at: 1) at: 5 }"), "#(true 99)")
        XCTAssertEqual(try image.print("((Blobs at: 7) at: 1) at: 5 put: 55. System commit"), "true", "commits go on")
        XCTAssertEqual(try other.print("System abort. { (Blobs at: 3) first = #('fresh' 42). ((Blobs at: 7) at: 1) at: 5 }"), "#(true 55)")
    }
}

/// An image whose global Blobs holds 130 Arrays of 100 ByteArrays of 2,000 bytes: 26 MB, opened with a
/// heap limit of 12 MB. Blob j of chunk i holds i in its first two bytes, j in its third, (i + j) \\ 256
/// in its last and k \\ 251 at every other k.
enum BlobImage {
    static let chunks = 130, perChunk = 100, blobSize = 2000
    static let count = chunks * perChunk
    static let heapLimit = 12 << 20

    static let master = MasterImage("blob image") { c in
        _ = try c.rt.evaluate("""
            | template |
            template := ByteArray new: \(blobSize).
            1 to: \(blobSize) do: [:k | template at: k put: k \\\\ 251].
            Smalltalk at: #Blobs put: ((1 to: \(chunks)) collect: [:i |
                (1 to: \(perChunk)) collect: [:j |
                    template copy at: 1 put: i \\\\ 256; at: 2 put: i // 256; at: 3 put: j;
                        at: \(blobSize) put: (i + j) \\\\ 256; yourself]])
            """)
    }

    /// Whether blob j of chunk i (the expression `b`) holds what it was made with.
    static func check(_ b: String) -> String {
        """
        (\(b) size = \(blobSize) and: [(\(b) at: 1) + ((\(b) at: 2) * 256) = i and: [(\(b) at: 3) = j
            and: [(\(b) at: \(blobSize)) = ((i + j) \\\\ 256) and: [(\(b) at: 1000) = (1000 \\\\ 251)]]]])
        """
    }

    /// Whether element j of chunk i is as the change test leaves it: in every 20th chunk, blob 1 has 77
    /// at 5 and element 2 is i printString.
    static func changedCheck(_ b: String) -> String {
        """
        (i \\\\ 20 = 0 and: [j <= 2])
            ifTrue: [j = 1 ifTrue: [(\(b) at: 5) = 77 and: [\(check(b))]] ifFalse: [\(b) = i printString]]
            ifFalse: [(\(b) at: 5) = 5 and: [\(check(b))]]
        """
    }

    /// Counts the elements that are as the change test leaves them.
    static let changedTraversal = """
        | good |
        good := 0.
        Blobs doWithIndex: [:chunk :i | chunk doWithIndex: [:b :j | (\(changedCheck("b"))) ifTrue: [good := good + 1]]].
        good
        """
}
