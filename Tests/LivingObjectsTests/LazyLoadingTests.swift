// Lazy loading: an opened image's objects are ghosts until used, and no program can tell — values,
// identity, classes, primitives given ghosts, become:, collections, commit and abort behave as if the
// image had been read whole. A record that is missing or damaged is an ObjectFault, not a crash.

import Foundation
@testable import Store
import VMCore
import XCTest
@testable import LivingObjects

final class LazyLoadingTests: MasterImageTestCase {
    override class var master: MasterImage? { DataImage.master }

    func testOpeningLoadsOnlyTheVMStateAndObjectsStayGhostsUntilUsed() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertLessThan(image.rt.loadedObjectCount, 2_000, "of some 40,000 objects in the image")
        let data = try XCTUnwrap(image.rt.global("Data"))
        XCTAssertTrue(image.rt.vm.isGhost(data))
        XCTAssertEqual(try image.print("Data size"), "\(DataImage.dataSize)")
        XCTAssertFalse(image.rt.vm.isGhost(data), "loaded in place: the reference held is the object now")
        let first = try element(image, "Data", 0), second = try element(image, "Data", 1)
        XCTAssertTrue(image.rt.vm.isGhost(first))
        XCTAssertEqual(try image.print("(Data at: 1) value"), "1")
        XCTAssertFalse(image.rt.vm.isGhost(first))
        XCTAssertTrue(image.rt.vm.isGhost(second), "its neighbour was not used")
    }

    func testValuesIdentityAndClassesAreThoseSaved() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Data at: 2) size"), "8")
        XCTAssertEqual(try image.print("(Data at: 2) reversed"), "'gnirts a'")
        XCTAssertEqual(try image.print("(Data at: 3) class"), "Array")
        XCTAssertEqual(try image.print("{ (Data at: 3) size. (Data at: 3) at: 2. (Data at: 3) at: 3 }"), "#(3 #two 'three')")
        XCTAssertEqual(try image.print("(Data at: 4) instVarAt: 1"), "4")
        XCTAssertEqual(try image.print("{ (Data at: 4) class. (Data at: 4) value. (Data at: 4) next value }"), "an Array(LazyNode 4 5)")
        XCTAssertEqual(try image.print("(Data at: 4) next == (Data at: 5)"), "true", "two paths to one object")
        XCTAssertEqual(try image.print("(Data at: 6) == (Data at: 6)"), "true")
        XCTAssertEqual(try image.print("Hashes = ((1 to: 8) collect: [:i | (Data at: i) identityHash])"), "true")
        XCTAssertEqual(try image.print("(Data at: 7) class"), "LargePositiveInteger")
        XCTAssertEqual(try image.print("(Data at: 7) - (2 raisedTo: 80)"), "1")
        XCTAssertEqual(try image.print("(Data at: 8) printString"), "'3.25'")
        XCTAssertEqual(try image.print("(Data at: 9) keys asSortedCollection asArray"), "#(#a #b)")
    }

    func testIdentityCollectionsFindGhostsByIdentityHash() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("{ Members includes: (Data at: 4). Members includes: (Data at: 5). Members includes: 4 }"),
                       "#(true true false)")
        XCTAssertEqual(try image.print("(Data at: 10) includes: (Data at: 4)"), "true", "an IdentitySet loaded after its members")
    }

    func testPrimitivesGivenGhostsAnswerAsForLoadedObjects() throws {
        let image = try openedWithoutPrefetching()
        let text = try element(image, "Data", 1)
        XCTAssertEqual(try image.print("'abc' , (Data at: 2)"), "'abca string'")
        XCTAssertEqual(try image.print("'a string' = (Data at: 2)"), "true")
        XCTAssertFalse(image.rt.vm.isGhost(text))
        _ = try image.rt.evaluate("Smalltalk at: #Copy put: (Array new: 3)")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Data", 2)))
        XCTAssertEqual(try image.print("Copy replaceFrom: 1 to: 3 with: (Data at: 3) startingAt: 1; yourself"), "#(1 #two 'three')")
        XCTAssertEqual(try image.print("(Data at: 3) == (Data at: 3) yourself"), "true")
        XCTAssertEqual(try image.print("(Data at: 11) value: 4"), "5", "a saved block, evaluated")
        XCTAssertEqual(try image.print("#(3 1 2) asSortedCollection: (Data at: 12)"), "a SortedCollection(3 2 1)")
        XCTAssertEqual(try image.print("(Array new: 2) at: 1 put: (Data at: 13); yourself"), "#(#(13) nil)")
    }

    func testBecomeSwapsGhostsAndLoadedObjects() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Data at: 14) become: (Data at: 15). { Data at: 14. Data at: 15 }"), "#('fifteen' 'fourteen')")
        XCTAssertEqual(try image.print("| fresh | fresh := 'fresh' copy. (Data at: 16) become: fresh. { Data at: 16. fresh }"),
                       "#('fresh' 'sixteen')")
    }

    func testBecomeMovesOIDsSoThatObjectsNotLoadedSeeTheNewIdentities() throws {
        let image = try openedWithoutPrefetching()
        // Node 4 (not loaded) refers to node 5, node 19 to node 20.
        XCTAssertEqual(try image.print("(Data at: 5) become: 'five' copy. (Data at: 4) next"), "'five'")
        XCTAssertEqual(try image.print("(Data at: 20) becomeForward: 'twenty' copy. (Data at: 19) next"), "'twenty'")
        XCTAssertEqual(try image.print("System commit"), "true")
        XCTAssertEqual(try openedWithoutPrefetching().print("{ Data at: 5. (Data at: 4) next. Data at: 20. (Data at: 19) next }"),
                       "#('five' 'five' 'twenty' 'twenty')")
        // One object of the image into another: what refers to the first, loaded or not, sees the second.
        let again = try openedWithoutPrefetching()
        XCTAssertEqual(try again.print("(Data at: 25) becomeForward: (Data at: 26). (Data at: 24) next == (Data at: 26)"), "true")
        XCTAssertEqual(try again.print("System commit. { (Data at: 24) next value. (Data at: 25) value }"), "#(26 26)")
        XCTAssertEqual(try openedWithoutPrefetching().print("{ (Data at: 24) next value. (Data at: 25) == (Data at: 26) }"), "#(26 true)")
    }

    func testGhostsSurviveCollectionsAndLoadAfterThem() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Data at: 17) value"), "17")
        let oid = image.rt.vm.ghostOID(try element(image, "Data", 18))
        _ = try image.print("Smalltalk garbageCollect. 1 to: 100000 do: [:i | Array new: 10]. Smalltalk garbageCollect")
        let ghost = try element(image, "Data", 18)
        XCTAssertTrue(image.rt.vm.isGhost(ghost), "moved by the collector, still a ghost")
        XCTAssertEqual(image.rt.vm.ghostOID(ghost), oid)
        XCTAssertEqual(try image.print("{ (Data at: 19) value. (Data at: 17) value. (Data at: 4) next value }"), "#(19 17 5)")
    }

    func testAChangedObjectThatOnlyAGhostStillRefersToIsNeitherCollectedNorLeftUncommitted() throws {
        let image = try openedWithoutPrefetching()
        // Node 5 changes, then only node 4 (not loaded: a ghost) refers to it.
        XCTAssertEqual(try image.print("(Data at: 5) value: 55. Data at: 5 put: nil. Smalltalk garbageCollect. Data size"), "30")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Data", 3)))
        XCTAssertEqual(try image.print("Smalltalk garbageCollect. (Data at: 4) next value"), "55")
        let other = try openedWithoutPrefetching()
        XCTAssertEqual(try other.print("(Data at: 20) value: 200. Data at: 20 put: nil. Smalltalk garbageCollect. System commit"), "true")
        XCTAssertEqual(try openedWithoutPrefetching().print("{ (Data at: 19) next value. Data at: 20 }"), "#(200 nil)")
    }

    func testLoadedObjectsAndGhostsArePersistentAndLoadingChangesNothing() throws {
        let image = try openedWithoutPrefetching()
        let vm = image.rt.vm
        let store = try XCTUnwrap(image.rt.imageStore)
        let head = try store.headCommit()
        XCTAssertEqual(try image.print("{ (Data at: 4) value. (Data at: 3) size. (Data at: 2) size }"), "#(4 3 8)")
        let loaded = try element(image, "Data", 3), ghost = try element(image, "Data", 20)
        XCTAssertFalse(vm.isGhost(loaded))
        XCTAssertTrue(vm.isGhost(ghost))
        XCTAssertTrue(vm.isPersistent(loaded) && vm.isPersistent(ghost), "both have an OID")
        // Running an evaluation changes which process is active, nothing else.
        XCTAssertEqual(vm.changedObjects.filter { $0 != vm.root(.processor) }, [], "filling ghosts is not a change")
        XCTAssertEqual(try image.rt.commitImage(message: "nothing"), head, "nothing to commit")
        XCTAssertEqual(try image.print("(Data at: 4) value: 44. System abort. (Data at: 4) value"), "4")
        XCTAssertTrue(vm.isGhost(try element(image, "Data", 20)), "an abort keeps ghosts")
        XCTAssertEqual(vm.changedObjects.filter { $0 != vm.root(.processor) }, [])
    }

    func testAnObjectCommittedThenReachedOnlyThroughAGhostIsNotReadAgainAsOfTheSnapshot() throws {
        let image = try openedWithoutPrefetching()
        // Node 5 changes and is committed, then only node 4 (not loaded: a ghost) refers to it.
        XCTAssertEqual(try image.print("""
            (Data at: 5) value: 55. System commit. Data at: 5 put: nil. System commit. Smalltalk garbageCollect.
            (Data at: 4) next value
            """), "55")
    }

    func testAllInstancesFindsObjectsThatWereNotLoadedAndLeavesThemGhosts() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Object allInstances size"), "0")
        XCTAssertEqual(try image.print("LazyNode allInstances size"), "\(DataImage.nodeCount)")
        // The store's index says which records are instances: the nodes are answered, not loaded.
        // (A count of loaded objects would also count the kernel methods the evaluation loads.)
        let vm = image.rt.vm
        for slot in [10, 19, 29] { XCTAssertTrue(vm.isGhost(try element(image, "Data", slot)), "Data at: \(slot + 1) is still a ghost") }
        XCTAssertEqual(try image.print("(LazyNode allInstances collect: [:n | n value]) asSortedCollection asArray = (1 to: \(DataImage.nodeCount)) asArray"), "true")
    }

    func testCompiledCodeLoadedIsReadOnlyAsFreshlyCompiledCodeIs() throws {
        let image = try openedWithoutPrefetching()
        try image.rt.compile("fresh ^ value printString , 'x'", inClass: "LazyNode")
        let attempts = { (method: String) in
            """
            | m | m := \(method).
            { [m instVarAt: 1 put: nil. #changed] on: Error do: [:e | e class name].
              [m bytecodes at: 1 put: 0. #changed] on: Error do: [:e | e class name].
              [m literals at: 1 put: nil. #changed] on: Error do: [:e | e class name].
              [m become: Object new. #changed] on: Error do: [:e | #refused] }
            """
        }
        let refused = "#(#Error #Error #Error #refused)"
        XCTAssertEqual(try image.print(attempts("LazyNode >> #fresh")), refused)
        XCTAssertEqual(try image.print(attempts("Object >> #printString")), refused, "loaded from the image: the same")
        XCTAssertEqual(try image.print("{ (Data at: 1) value. (Data at: 1) fresh }"), "#(1 '1x')")
        // Put back by an abort, still read-only.
        XCTAssertEqual(try image.print("System abort. true"), "true")
        XCTAssertEqual(try image.print(attempts("Object >> #printString")), refused)
        XCTAssertEqual(try image.print("(Data at: 3) printString"), "'#(1 #two ''three'')'")
    }

    func testACommitAfterSomeObjectsLoadedWritesOnlyWhatChanged() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Data at: 4) value: 40. (Data at: 20) value"), "20")
        let store = try XCTUnwrap(image.rt.imageStore)
        let head = try store.headCommit()
        XCTAssertEqual(try image.print("System commit"), "true")
        let written = try store.changedOIDs(commit: try store.headCommit())
        XCTAssertNotEqual(try store.headCommit(), head)
        XCTAssertLessThan(written.count, 20, "the changed node and a few VM-state records, not the image")
        let reopened = try openedWithoutPrefetching()
        XCTAssertEqual(try reopened.print("{ (Data at: 4) value. (Data at: 5) value. (Data at: 21) value. Data last value }"),
                       "#(40 5 21 \(DataImage.nodeCount))")
    }

    func testAbortPutsBackLoadedObjectsAndLeavesGhostsLoadable() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Data at: 4) value: 99. (Data at: 3) at: 1 put: #changed. System abort"), "true")
        XCTAssertEqual(try image.print("{ (Data at: 4) value. (Data at: 3) first. (Data at: 22) value }"), "#(4 1 22)")
        let other = try openedWithoutPrefetching()
        XCTAssertEqual(try other.print("(Data at: 23) value: 230. System commit"), "true")
        XCTAssertEqual(try image.print("System abort. { (Data at: 23) value. (Data at: 24) value }"), "#(230 24)")
    }

    func testAMissingOrDamagedRecordIsAnObjectFaultNotACrash() throws {
        let store = try SQLiteStore.open(path: image)
        let probe = try openedWithoutPrefetching()
        let damaged = probe.rt.vm.ghostOID(try element(probe, "Data", 24))
        let missing = probe.rt.vm.ghostOID(try element(probe, "Data", 25))
        try store.write { connection in
            try connection.execute("UPDATE objects SET contents = x'ffffffff' WHERE oid = \(damaged)")
            try connection.execute("DELETE FROM objects WHERE oid = \(missing)")
        }
        let image = try openedWithoutPrefetching()
        let text = try image.print("[(Data at: 25) value] on: ObjectFault do: [:e | e messageText]")
        XCTAssertTrue(text.contains("object \(damaged)") && text.contains("cannot be decoded"), text)
        XCTAssertEqual(try image.print("[(Data at: 26) value] on: Error do: [:e | e class]"), "ObjectFault")
        XCTAssertTrue(try image.print("[(Data at: 26) value] on: Error do: [:e | e messageText]").contains("object \(missing) does not exist"))
        XCTAssertThrowsError(try image.rt.evaluate("(Data at: 25) printString"))
        XCTAssertTrue(image.err.contains("ObjectFault"), image.err)
        XCTAssertEqual(try image.print("(Data at: 27) value"), "27", "the rest of the image is fine")
        XCTAssertEqual(try image.print("[(Data at: 2) , (Data at: 25)] on: ObjectFault do: [:e | #caught]"), "#caught")
    }

    /// When what signals the error is what cannot be loaded, each ObjectFault would fault again one level
    /// deeper, rereading the record, until the stack overflowed: the VM stops the process instead.
    /// Compiled code whose record was damaged on disk is checked when loaded: running it signals an
    /// error naming the damage instead of running wild; its source and the rest of the image are fine.
    func testDamagedCompiledCodeSignalsAnErrorWhenRun() throws {
        XCTAssertEqual(try ImageFile(path: image).check().problems, [], "the kernel's code passes")
        let probe = try openedWithoutPrefetching()
        try probe.rt.compile("sumTo: n | s | s := 0. 1 to: n do: [:i | s := s + i]. ^ s", inClass: "LazyNode")
        try probe.rt.compile("twiceSumTo: n ^ (self sumTo: n) * 2", inClass: "LazyNode")
        try probe.rt.compile("countTo: n | s | s := 0. 1 to: n do: [:i | s := s + 1]. ^ s", inClass: "LazyNode")
        _ = try probe.rt.evaluate("System commit")
        XCTAssertEqual(try probe.print("(LazyNode new sumTo: 10) + (LazyNode new countTo: 10)"), "65")
        func bytecodesOID(_ selector: String) throws -> UInt64 {
            let method = try probe.rt.evaluate("LazyNode >> #\(selector)")
            return try XCTUnwrap(probe.rt.imageSession?.oids[probe.rt.vm.fetchSlot(method, CodeLayout.bytecodes)])
        }
        let store = try SQLiteStore.open(path: image)
        func damage(_ selector: String, _ code: (Int) -> [UInt8]) throws {
            let oid = try bytecodesOID(selector)
            let length = try XCTUnwrap(try store.load(oid: oid, asOf: try store.headCommit())?.bytes?.count)
            let hex = code(length).map { String(format: "%02x", $0) }.joined()
            try store.write { try $0.execute("UPDATE objects SET contents = x'\(hex)' WHERE oid = \(oid)") }
        }
        let returnTop = Opcode.returnTop.rawValue
        // A temporary far outside the frame; a stack deeper than the frame has room for.
        try damage("sumTo:") { [Opcode.pushTemp.rawValue, 100] + Array(repeating: returnTop, count: $0 - 2) }
        try damage("countTo:") { Array(repeating: Opcode.pushNil.rawValue, count: $0 - 1) + [returnTop] }
        let found = try ImageFile(path: image).check().problems
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("compiled code of #sumTo: (object") && $0.hasSuffix("temp offset 100 out of range") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("compiled code of #countTo: (object") && $0.contains("the frame has room for") }, "\(found)")

        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("[LazyNode new twiceSumTo: 10] on: Error do: [:e | e messageText]"),
                       "'the compiled code of this method is damaged in the image (temp offset 100 out of range): compile it again, or roll back'")
        XCTAssertTrue(try image.print("[LazyNode new countTo: 10] on: Error do: [:e | e messageText]").contains("the frame has room for"))
        XCTAssertEqual(try image.print("(LazyNode >> #sumTo:) sourceCode size > 10"), "true")
        XCTAssertEqual(try image.print("(Data at: 4) value + 3"), "7", "the rest of the image is fine")
        try image.rt.compile("sumTo: n ^ n * (n + 1) // 2", inClass: "LazyNode")
        XCTAssertEqual(try image.print("LazyNode new twiceSumTo: 10"), "110", "compiled again, it runs")
    }

    func testAFaultInTheCodeThatSignalsFaultsStopsTheProcessWithAReport() throws {
        let probe = try openedWithoutPrefetching()
        let method = try probe.rt.evaluate("Exception >> #signal:")
        let damaged = try XCTUnwrap(probe.rt.imageSession?.oids[method])
        try SQLiteStore.open(path: image).write { connection in
            try connection.execute("UPDATE objects SET contents = x'ffffffff' WHERE oid = \(damaged)")
        }
        let image = try openedWithoutPrefetching()
        XCTAssertThrowsError(try image.rt.evaluate("Error new signal: 'first'"))
        XCTAssertTrue(image.err.contains("cannot load object \(damaged)"), image.err)
        XCTAssertTrue(image.err.contains("(\(VM.objectFaultNestingLimit) object faults nested): the process is stopped"), image.err)
        XCTAssertThrowsError(try image.rt.evaluate("[Error new signal: 'again'] on: ObjectFault do: [:e | e return: 1]"))
        XCTAssertEqual(image.err.components(separatedBy: "the process is stopped").count, 3, "stopped the same way again")
        XCTAssertEqual(try image.print("(Data at: 4) value + 3"), "7", "the rest of the image is fine")
        XCTAssertEqual(try image.print("[(Data at: 4) foo] on: MessageNotUnderstood do: [:e | e return: 5]"), "5")
    }
}

/// An image with data of every kind behind the global Data, saved once and copied for each test.
enum DataImage {
    static let dataSize = 30, nodeCount = 30

    static let master = MasterImage("data image") { c in
        _ = try c.rt.evaluate("Object subclass: #LazyNode instanceVariableNames: 'value next' classVariableNames: '' package: 'Lazy-Test'")
        try c.rt.compile("value ^ value", inClass: "LazyNode")
        try c.rt.compile("value: v value := v", inClass: "LazyNode")
        try c.rt.compile("next ^ next", inClass: "LazyNode")
        try c.rt.compile("next: n next := n", inClass: "LazyNode")
        _ = try c.rt.evaluate("""
            | data nodes |
            nodes := (1 to: \(nodeCount)) collect: [:i | LazyNode new value: i].
            1 to: nodes size - 1 do: [:i | (nodes at: i) next: (nodes at: i + 1)].
            data := nodes copy.
            data at: 1 put: (nodes at: 1); at: 2 put: 'a string' copy; at: 3 put: { 1. #two. 'three' }.
            data at: 6 put: (Array new: 1); at: 7 put: (2 raisedTo: 80) + 1; at: 8 put: 3.25.
            data at: 9 put: (Dictionary new at: #a put: 1; at: #b put: 2; yourself).
            data at: 10 put: (IdentitySet new add: (nodes at: 4); yourself).
            data at: 11 put: [:x | x + 1]; at: 12 put: [:a :b | a >= b]; at: 13 put: #(13) copy.
            data at: 14 put: 'fourteen' copy; at: 15 put: 'fifteen' copy; at: 16 put: 'sixteen' copy.
            Smalltalk at: #Data put: data.
            Smalltalk at: #Members put: (IdentitySet new add: (nodes at: 4); add: (nodes at: 5); yourself).
            Smalltalk at: #Hashes put: ((1 to: 8) collect: [:i | (data at: i) identityHash])
            """)
    }
}
