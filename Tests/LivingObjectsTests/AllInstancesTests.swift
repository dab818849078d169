// allInstances on an image larger than the heap: the store says which records are instances of the
// class, and only those are made ghosts — the other objects of the image are never read.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class AllInstancesTests: MasterImageTestCase {
    override class var master: MasterImage? { MarkerImage.master }

    /// What these tests count is what allInstances reads. Prefetching would also load the ghosts that
    /// happen to lie after a loaded one in memory — the chunks and their blobs, if the kernel's layout
    /// puts the ghost of `Lone` before theirs — which is another matter (ImageLoader.swift).
    private func opened() throws -> CapturingImage { try openedWithoutPrefetching(heapLimit: MarkerImage.heapLimit) }

    func testAllInstancesAnswersStoredInstancesWithoutLoadingTheRestOfTheImage() throws {
        let image = try opened()
        // The code these expressions run, loaded first.
        XCTAssertEqual(try image.print("Object allInstances size + Lone n"), "1000")
        let blobsLoaded = "(ByteArray allLoadedInstances select: [:b | b size = \(MarkerImage.blobSize)]) size"
        XCTAssertEqual(try image.print(blobsLoaded), "0")
        XCTAssertEqual(try image.print("Marker allInstances size"), "\(MarkerImage.markers)", image.err)
        // Counted among the loaded Markers only (the count of all loaded objects also counts the kernel
        // code the evaluation loads, which depends on the kernel).
        XCTAssertEqual(try image.print("Marker allLoadedInstances size"), "1", "the instances are ghosts until used (Lone was used)")
        XCTAssertEqual(try image.print("(Marker allInstances inject: 0 into: [:sum :m | sum + m n])"), "\(MarkerImage.sum)", image.err)
        XCTAssertEqual(try image.print("| sum | sum := 0. Marker allInstancesDo: [:m | sum := sum + m n]. sum"), "\(MarkerImage.sum)")
        XCTAssertEqual(try image.print("Marker instanceCount"), "\(MarkerImage.markers)")
        XCTAssertEqual(try image.print("Marker someInstance class name"), "#Marker")
        XCTAssertEqual(try image.print(blobsLoaded), "0",
                       "the markers, not the \(MarkerImage.chunks * MarkerImage.perChunk) byte arrays beside them")
        XCTAssertEqual(image.rt.vm.evictions, 0, "nothing had to be evicted")
        // The same objects as reached through the references: one identity each.
        XCTAssertEqual(try image.print("(Marker allInstances includes: ((Chunks at: 7) at: 1)) & (Marker allInstances includes: Lone)"), "true")
        XCTAssertEqual(try image.print("(Marker allInstances collect: [:m | m n]) asSet size"), "\(MarkerImage.markers)")
    }

    func testNewChangedAndCommittedInstancesAreCountedOnceAndStoredGarbageUntilGC() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("Smalltalk at: #Fresh put: (Marker new n: 5000). Marker allInstances size"), "\(MarkerImage.markers + 1)")
        XCTAssertEqual(try image.print("((Chunks at: 3) at: 1) n: 3000. Lone n: 2000. (Marker allInstances inject: 0 into: [:sum :m | sum + m n])"),
                       "\(MarkerImage.sum + 5000 + 2997 + 1000)", "changed instances are answered as memory holds them")
        // The Marker of chunk 3, no longer referred to, stays in the store until it is collected there (lo gc).
        XCTAssertEqual(try image.print("(Chunks at: 3) at: 1 put: 'no marker'. System commit. Marker allInstances size"), "\(MarkerImage.markers + 1)")
        let reopened = try opened()
        XCTAssertEqual(try reopened.print("Marker allInstances size"), "\(MarkerImage.markers + 1)", reopened.err)
        try SQLiteStore.open(path: self.image).vacuum(retain: .zero)
        let collected = try opened()
        XCTAssertEqual(try collected.print("Marker allInstances size"), "\(MarkerImage.markers)", collected.err)
        XCTAssertEqual(try collected.print("(Marker allInstances inject: 0 into: [:sum :m | sum + m n])"), "\(MarkerImage.sum - 3 + 5000 + 1000)")
    }

    func testInstancesTwiceTheHeapAreTraversedThroughEviction() throws {
        let image = try opened()
        // Their ghosts fit (small ghosts: two words each); the 24 MB of byte arrays are loaded one after
        // the other and evicted (shrunk back to small ghosts) while the Array of them stays.
        let blobs = MarkerImage.chunks * (MarkerImage.perChunk - 1)
        XCTAssertEqual(try image.print("ByteArray allInstances size >= \(blobs)"), "true", image.err)
        XCTAssertEqual(try image.print("""
            (ByteArray allInstances inject: 0 into: [:sum :b | sum + b size]) >= \(blobs * MarkerImage.blobSize)
            """), "true", image.err)
        XCTAssertGreaterThan(image.rt.vm.evictions, 0)
        // Once collected, what was loaded for the Array of them is gone.
        XCTAssertEqual(try image.print("Smalltalk garbageCollect. Marker allInstances size"), "\(MarkerImage.markers)",
                       "the session goes on: " + image.err)
    }
}

/// An image of \(chunks) Arrays of byte arrays, twice the heap limit in all, where the first element of
/// each Array is a Marker, plus one more Marker in the global Lone.
enum MarkerImage {
    static let chunks = 120, perChunk = 100, blobSize = 2000
    static let markers = chunks + 1
    static let sum = chunks * (chunks + 1) / 2 + 1000
    static let heapLimit = 12 << 20

    static let master = MasterImage("marker image") { c in
        _ = try c.rt.evaluate("Object subclass: #Marker instanceVariableNames: 'n' classVariableNames: '' package: 'Marker-Test'")
        try c.rt.compile("n ^ n", inClass: "Marker")
        try c.rt.compile("n: anInteger n := anInteger", inClass: "Marker")
        _ = try c.rt.evaluate("""
            Smalltalk at: #Chunks put: ((1 to: \(chunks)) collect: [:i |
                ((1 to: \(perChunk)) collect: [:j | ByteArray new: \(blobSize)]) at: 1 put: (Marker new n: i); yourself]).
            Smalltalk at: #Lone put: (Marker new n: 1000)
            """)
    }
}
