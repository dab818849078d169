// Schema evolution: a class whose instance variables change (added, removed, reordered) while an
// image holds instances of it that are not loaded. They are migrated when they load — instance
// variables keep their values by name, new ones are nil, the indexed part stays — in the session that
// changed the class and in any later one; the change itself loads none of them.

import Foundation
@testable import Store
import VMCore
import XCTest
@testable import LivingObjects

final class SchemaEvolutionTests: MasterImageTestCase {
    override class var master: MasterImage? { EvolutionImage.master }

    /// The named instance variables of each of the global `name`'s elements, and their class's names.
    private func values(_ image: CapturingImage, _ name: String, _ ivars: [String]) throws -> String {
        let names = ivars.map { "r instVarNamed: '\($0)'" }.joined(separator: ". ")
        return try image.print("\(name) collect: [:r | { \(names) }]")
    }

    /// The error a class definition (in package Evolution) signals, or `#changed` if it is accepted.
    private func refusal(of definition: String, in image: CapturingImage) throws -> String {
        try image.print("[\(definition) classVariableNames: '' package: 'Evolution'. #changed] on: Error do: [:e | e messageText]")
    }

    // MARK: In a later session

    func testInstancesNotLoadedWhenTheirClassChangedAreMigratedInALaterSession() throws {
        let changer = try openedWithoutPrefetching()
        _ = try changer.print("Recs size")
        XCTAssertTrue(changer.rt.vm.isGhost(try element(changer, "Recs", 0)))
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c d a"))
        XCTAssertTrue(changer.rt.vm.isGhost(try element(changer, "Recs", 0)), "changing the class loads no instance")
        try changer.rt.commitImage(message: "Rec: b removed, d added, reordered")

        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try values(later, "Recs", ["a", "c", "d"]),
                       "#(#(1 '1' nil) #(2 '2' nil) #(3 '3' nil) #(4 '4' nil) #(5 '5' nil))")
        XCTAssertEqual(try later.print("{ Rec instVarNames. (Recs at: 2) instVarAt: 1. (Recs at: 2) instVarAt: 3. Recs first class == Rec }"),
                       "#(#(#c #d #a) '2' 2 true)")
        XCTAssertEqual(later.rt.vm.imageSlotCount(try element(later, "Recs", 0)), 3)
        XCTAssertEqual(try later.print("[Recs first instVarNamed: 'b'] on: Error do: [:e | #noB]"), "#noB")
        XCTAssertEqual(try later.print("(Recs at: 3) sum"), "'33'", "methods compiled for the new shape read it")
    }

    func testAVariableRemovedAndAddedAgainIsANewVariable() throws {
        let remover = try openedWithoutPrefetching()
        _ = try remover.rt.evaluate(EvolutionImage.define("Rec", "b c"))
        XCTAssertEqual(try remover.print("(Recs at: 2) instVarNamed: 'b' put: 22. System commit"), "true", "one instance rewritten without a")
        let adder = try openedWithoutPrefetching()
        _ = try adder.rt.evaluate(EvolutionImage.define("Rec", "a b c"))
        try adder.rt.commitImage(message: "Rec: a again")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "b"]),
                       "#(#(nil 10) #(nil 22) #(nil 30) #(nil 40) #(nil 50))", "no a comes back from the records written before its removal")
    }

    func testAMigratedInstanceIsWrittenInItsNewShapeOnlyWhenItChanges() throws {
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "d a"))
        try changer.rt.commitImage(message: "Rec: a and d")
        let store = try XCTUnwrap(changer.rt.imageStore)

        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try values(later, "Recs", ["a", "d"]), "#(#(1 nil) #(2 nil) #(3 nil) #(4 nil) #(5 nil))")
        let first = try XCTUnwrap(later.rt.imageOID(of: try element(later, "Recs", 0)))
        XCTAssertEqual(try later.print("Recs first instVarNamed: 'd' put: #new. System commit"), "true")
        let written = try store.changedOIDs(commit: try store.headCommit())
        XCTAssertTrue(written.contains(first))
        XCTAssertEqual(written.count, 1, "the changed instance only; the others stay as stored")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "d"]), "#(#(1 #new) #(2 nil) #(3 nil) #(4 nil) #(5 nil))")
    }

    func testAClassChangedTwiceInTwoSessionsMigratesFromEitherVersion() throws {
        let first = try openedWithoutPrefetching()
        XCTAssertEqual(try first.print("(Recs at: 1) instVarNamed: 'c' put: 'one'. (Recs at: 1) a"), "1")
        _ = try first.rt.evaluate(EvolutionImage.define("Rec", "c a x"))
        XCTAssertEqual(try first.print("(Recs at: 2) instVarNamed: 'x' put: #x2. System commit"), "true")
        let second = try openedWithoutPrefetching()
        _ = try second.rt.evaluate(EvolutionImage.define("Rec", "x y c"))
        try second.rt.commitImage(message: "Rec: x y c")
        // Recs 1 (loaded, then migrated in memory) and Recs 2 (migrated when it loaded) were written
        // with c a x by the first session; the others are still stored with a b c.
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["x", "y", "c"]),
                       "#(#(nil nil 'one') #(#x2 nil '2') #(nil nil '3') #(nil nil '4') #(nil nil '5'))")
    }

    // MARK: In the session that changed the class

    func testAllLoadedInstancesLeavesOutAndDoesNotLoadInstancesNotLoaded() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Rec allLoadedInstances size"), "0")
        XCTAssertEqual(try image.print("(Recs at: 2) a. Rec allLoadedInstances collect: [:r | r a]"), "#(2)")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Recs", 0)))
        XCTAssertEqual(try image.print("Rec allInstances size"), "5", "allInstances loads them")
    }

    func testGhostsOfInstancesGetTheNewSizeWhenTheClassChanges() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Recs size"), "5")
        let ghost = try element(image, "Recs", 0)
        XCTAssertTrue(image.rt.vm.isGhost(ghost))
        XCTAssertEqual(image.rt.vm.ghostObjectWords(ghost), 3)
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "c d a e"))
        let resized = try element(image, "Recs", 0)
        XCTAssertTrue(image.rt.vm.isGhost(resized), "still not loaded")
        XCTAssertEqual(image.rt.vm.ghostObjectWords(resized), 4)
        XCTAssertEqual(try values(image, "Recs", ["a", "c", "d", "e"]),
                       "#(#(1 '1' nil nil) #(2 '2' nil nil) #(3 '3' nil nil) #(4 '4' nil nil) #(5 '5' nil nil))")
        try image.rt.commitImage(message: "Rec: c d a e")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "c", "d", "e"]),
                       "#(#(1 '1' nil nil) #(2 '2' nil nil) #(3 '3' nil nil) #(4 '4' nil nil) #(5 '5' nil nil))")
    }

    func testInstancesNotEvenGhostsWhenTheClassChangesAreMigratedWhenReached() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertTrue(image.rt.vm.isGhost(try XCTUnwrap(image.rt.global("Recs"))))
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "e c"))
        XCTAssertEqual(try values(image, "Recs", ["c", "e"]), "#(#('1' nil) #('2' nil) #('3' nil) #('4' nil) #('5' nil))")
        XCTAssertEqual(image.rt.vm.imageSlotCount(try element(image, "Recs", 4)), 2)
        XCTAssertEqual(try image.print("(Recs at: 2) class == Rec and: [(Recs at: 2) class instSize = 2]"), "true")
    }

    func testLoadedAndGhostInstancesAreMigratedAlike() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Recs at: 2) a + (Recs at: 4) a"), "6")
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "b d c a"))
        XCTAssertEqual(try values(image, "Recs", ["a", "b", "c", "d"]),
                       "#(#(1 10 '1' nil) #(2 20 '2' nil) #(3 30 '3' nil) #(4 40 '4' nil) #(5 50 '5' nil))")
    }

    // MARK: Images written before shapes were kept

    func testAnImageWrittenBeforeShapesWereKeptMigratesFromTheShapeItsClassHadThen() throws {
        try Self.forgetShapes(image)
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c d a"))
        XCTAssertEqual(try values(changer, "Recs", ["a", "c", "d"]),
                       "#(#(1 '1' nil) #(2 '2' nil) #(3 '3' nil) #(4 '4' nil) #(5 '5' nil))")
        try changer.rt.commitImage(message: "Rec: b removed, d added, reordered")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "c", "d"]),
                       "#(#(1 '1' nil) #(2 '2' nil) #(3 '3' nil) #(4 '4' nil) #(5 '5' nil))")
    }

    /// Makes the image as store format 2 left it: no class shapes, records without a shape.
    private static func forgetShapes(_ path: String) throws {
        let store = try SQLiteStore.open(path: path)
        try store.write { connection in
            try connection.execute("DELETE FROM shapes")
            let scan = try connection.statement("SELECT oid, commit_id, header FROM objects")
            var headers: [(oid: UInt64, commit: Int64, header: StoredHeader)] = []
            while try scan.step() {
                let oid = scan.uint64(0)
                let (header, _) = try XCTUnwrap(RecordCoding.decodeHeader(oid: oid, scan.blob(2)))
                if header.shape != 0 { headers.append((oid, scan.int64(1), header)) }
            }
            scan.reset()
            let update = try connection.statement("UPDATE objects SET header = ? WHERE oid = ? AND commit_id = ?")
            for (oid, commit, h) in headers {
                let plain = StoredObject(oid: oid, classOID: h.classOID, format: h.format, identityHash: h.identityHash,
                                         slots: Array(repeating: 1, count: h.count))
                var bytes: [UInt8] = []
                let length = RecordCoding.encode(plain, into: &bytes)
                update.reset()
                update.bind(1, Array(bytes[..<length]))
                update.bind(2, oid)
                update.bind(3, commit)
                try update.run()
            }
        }
        XCTAssertTrue(try store.classShapes(of: Array(1...100_000)).isEmpty)
    }

    // MARK: Aborts

    func testAnAbortAfterAnotherSessionChangedTheClassMigratesLoadedInstancesAndGhosts() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Recs at: 1) a + (Recs at: 2) a. (Recs at: 2) instVarNamed: 'c' put: 'mine'. Recs size"), "5")
        let other = try openedWithoutPrefetching()
        _ = try other.rt.evaluate(EvolutionImage.define("Rec", "c d a e"))
        XCTAssertEqual(try other.print("(Recs at: 4) instVarNamed: 'e' put: #e4. System commit"), "true")
        XCTAssertEqual(try image.print("System abort. Rec instVarNames"), "#(#c #d #a #e)")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Recs", 2)))
        XCTAssertEqual(image.rt.vm.ghostObjectWords(try element(image, "Recs", 2)), 4, "a ghost resized")
        XCTAssertEqual(try values(image, "Recs", ["a", "c", "d", "e"]),
                       "#(#(1 '1' nil nil) #(2 '2' nil nil) #(3 '3' nil nil) #(4 '4' nil #e4) #(5 '5' nil nil))")
        XCTAssertEqual(try image.print("(Recs at: 1) class == Rec and: [(Recs at: 1) sum = '11']"), "true")
        XCTAssertEqual(try image.print("(Recs at: 5) instVarNamed: 'd' put: 5. System commit"), "true")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "d", "e"]),
                       "#(#(1 nil nil) #(2 nil nil) #(3 nil nil) #(4 nil #e4) #(5 5 nil))")
    }

    func testAnAbortAfterAnotherSessionChangedAClassNotLoadedHereResizesTheGhostsOfItsInstances() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Recs size"), "5")
        XCTAssertTrue(image.rt.vm.isGhost(try XCTUnwrap(image.rt.global("Rec"))), "the class is not loaded either")
        let other = try openedWithoutPrefetching()
        _ = try other.rt.evaluate(EvolutionImage.define("Rec", "e c d a"))
        try other.rt.commitImage(message: "Rec: e c d a")
        XCTAssertEqual(try image.print("System abort"), "true")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Recs", 0)))
        XCTAssertEqual(image.rt.vm.ghostObjectWords(try element(image, "Recs", 0)), 4)
        XCTAssertEqual(try values(image, "Recs", ["a", "c", "d", "e"]),
                       "#(#(1 '1' nil nil) #(2 '2' nil nil) #(3 '3' nil nil) #(4 '4' nil nil) #(5 '5' nil nil))")
    }

    func testAnAbortUndoesARedefinitionOfThisSession() throws {
        let image = try openedWithoutPrefetching()
        let size = image.rt.vm.classTableSize
        XCTAssertEqual(try image.print("(Recs at: 1) a"), "1")
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "c d a e"))
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Recs", 2)))
        XCTAssertEqual(image.rt.vm.ghostObjectWords(try element(image, "Recs", 2)), 4)
        XCTAssertEqual(try image.print("| made | made := Rec new instVarNamed: 'a' put: #made; yourself. System abort. { Rec instVarNames. made a }"),
                       "#(#(#a #b #c) #made)", "an instance made since is migrated back too")
        XCTAssertTrue(image.rt.vm.isGhost(try element(image, "Recs", 2)))
        XCTAssertEqual(image.rt.vm.ghostObjectWords(try element(image, "Recs", 2)), 3)
        XCTAssertEqual(try values(image, "Recs", ["a", "b", "c"]),
                       "#(#(1 10 '1') #(2 20 '2') #(3 30 '3') #(4 40 '4') #(5 50 '5'))")
        XCTAssertEqual(try image.print("(Rec new instVarNamed: 'b' put: 2; yourself) class instSize"), "3")
        XCTAssertEqual(image.rt.vm.classTableSize, size, "the new versions' class indices are given back")
    }

    func testAnAbortAfterAnotherSessionMadeAVersionAtTheSameIndexMigratesThisSessionsInstancesByName() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("(Recs at: 1) a"), "1")
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "a b c d"))
        let other = try openedWithoutPrefetching()
        _ = try other.rt.evaluate(EvolutionImage.define("Rec", "c x a"))
        try other.rt.commitImage(message: "Rec: c x a")
        XCTAssertEqual(try image.print("Rec identityHash"), try other.print("Rec identityHash"), "both versions have one class index")
        XCTAssertEqual(try image.print("System commitTransaction"), "false", "both sessions wrote Rec")
        XCTAssertEqual(try image.print("| made | made := Rec new instVarNamed: 'a' put: #made; yourself. System abort. { Rec instVarNames. made a }"),
                       "#(#(#c #x #a) #made)")
        XCTAssertEqual(try values(image, "Recs", ["c", "x", "a"]),
                       "#(#('1' nil 1) #('2' nil 2) #('3' nil 3) #('4' nil 4) #('5' nil 5))")
        XCTAssertEqual(try image.print("(Recs at: 1) instVarNamed: 'x' put: #x1. System commit"), "true")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["c", "x", "a"]),
                       "#(#('1' #x1 1) #('2' nil 2) #('3' nil 3) #('4' nil 4) #('5' nil 5))")
    }

    func testAnAbortPutsBackFromTheirRecordsLoadedInstancesWhoseVersionDroppedAVariable() throws {
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "a b c d"))
        try changer.rt.commitImage(message: "Rec: d added; the instances stay stored as a b c")
        let image = try openedWithoutPrefetching()
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "a c"))
        XCTAssertEqual(try image.print("Recs inject: 0 into: [:sum :r | sum + r a]"), "15", "loaded and migrated: b dropped in memory")
        XCTAssertEqual(try image.print("System abort. Rec instVarNames"), "#(#a #b #c #d)")
        XCTAssertEqual(try values(image, "Recs", ["a", "b", "d"]), "#(#(1 10 nil) #(2 20 nil) #(3 30 nil) #(4 40 nil) #(5 50 nil))")
        XCTAssertEqual(try image.print("(Recs at: 1) instVarNamed: 'd' put: #d1. System commit"), "true")
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "Recs", ["a", "b", "d"]),
                       "#(#(1 10 #d1) #(2 20 nil) #(3 30 nil) #(4 40 nil) #(5 50 nil))")
    }

    func testLoadedInstancesKeepTheirIdentityHashWhenTheirClassChanges() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Smalltalk at: #Hashes put: (Recs collect: [:r | r identityHash]). Smalltalk at: #Held put: (IdentitySet withAll: Recs). Recs size"), "5")
        _ = try image.rt.evaluate(EvolutionImage.define("Rec", "c a"))
        XCTAssertEqual(try image.print("{ (Recs collect: [:r | r identityHash]) = Hashes. Recs allSatisfy: [:r | Held includes: r] }"), "#(true true)")
        XCTAssertEqual(try image.print("Recs first becomeForward: Object new. Held includes: Recs first"), "true", "becomeForward: copies the hash")
        try image.rt.commitImage(message: "Rec: c a")
        XCTAssertEqual(try openedWithoutPrefetching().print("{ (Recs collect: [:r | r identityHash]) = Hashes. Recs allSatisfy: [:r | Held includes: r] }"),
                       "#(true true)")
    }

    // MARK: Rollback

    func testAClassIndexARollbackLeftOutOfTheClassTableIsNotGivenToAnotherVersion() throws {
        let store = try SQLiteStore.open(path: image)
        let before = try store.headCommit()
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c x a"))
        try changer.rt.commitImage(message: "Rec: c x a")
        let rolledBack = try changer.print("Rec identityHash")
        _ = try ImageFile(path: image).rollback(to: before)
        for (ivars, expected) in [("a c x", "#(#(1 '1' nil) #(2 '2' nil) #(3 '3' nil) #(4 '4' nil) #(5 '5' nil))"),
                                  ("p q r w", "#(#(1 2 3 4) #(1 2 3 4) #(1 2 3 4) #(1 2 3 4) #(1 2 3 4))")] {
            let names = ivars.split(separator: " ")
            let session = try openedWithoutPrefetching()
            _ = try session.rt.evaluate(EvolutionImage.define("Rec", ivars))
            XCTAssertNotEqual(try session.print("Rec identityHash"), rolledBack)
            if names.count == 4 {
                XCTAssertEqual(try session.print("Recs do: [:r | #(#p #q #r #w) doWithIndex: [:n :i | r instVarNamed: n put: i]]. System commit"), "true")
            } else {
                try session.rt.commitImage(message: "Rec: \(ivars)")
            }
            XCTAssertEqual(try ImageFile(path: image).check().problems, [])
            let later = try openedWithoutPrefetching()
            _ = try later.rt.evaluate(EvolutionImage.define("Rec", ivars + " t"))
            XCTAssertEqual(try values(later, "Recs", names.map(String.init)), expected)
            _ = try ImageFile(path: image).rollback(to: before)
        }
    }

    func testAGCAfterARollbackDoesNotGiveTheRolledBackVersionsIndexAgain() throws {
        let before = try SQLiteStore.open(path: image).headCommit()
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c x a"))
        try changer.rt.commitImage(message: "Rec: c x a")
        let rolledBack = try changer.print("Rec identityHash")
        _ = try ImageFile(path: image).rollback(to: before)
        XCTAssertGreaterThan(try ImageFile(path: image).collectGarbage(keepingDays: 0).vacuum.shapesRemoved, 0, "c x a among them")
        let later = try openedWithoutPrefetching()
        _ = try later.rt.evaluate(EvolutionImage.define("Rec", "a c x"))
        XCTAssertNotEqual(try later.print("Rec identityHash"), rolledBack)
    }

    /// A session holds a version of Rec that another session replaced; a gc deletes its shape (no kept
    /// record is written with it). An instance of it that the session commits then records it again.
    func testASessionRecordsAgainTheShapeOfItsVersionThatAGCDeleted() throws {
        let holder = try openedWithoutPrefetching()
        _ = try holder.rt.evaluate(EvolutionImage.define("Rec", "a b c x"))
        try holder.rt.commitImage(message: "Rec: x added")
        let other = try openedWithoutPrefetching()
        _ = try other.rt.evaluate(EvolutionImage.define("Rec", "a q"))
        XCTAssertEqual(try other.print("Recs do: [:r | r instVarNamed: 'q' put: r a]. System commit"), "true")
        XCTAssertGreaterThan(try ImageFile(path: image).collectGarbage(keepingDays: 0).vacuum.shapesRemoved, 0)
        XCTAssertEqual(try holder.print("Tallies first instVarNamed: 'label' put: (Rec new instVarNamed: 'x' put: #x; yourself). System commit"), "true")
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
        XCTAssertEqual(try openedWithoutPrefetching().print("| r | r := Tallies first instVarNamed: 'label'. { Rec instVarNames. r class == Rec. r a }"),
                       "#(#(#a #q) true nil)")
    }

    func testAnAbortAfterARollbackToBeforeAClassLeavesTheClassThisSessionHoldsWorking() throws {
        let before = try SQLiteStore.open(path: image).headCommit()
        let maker = try openedWithoutPrefetching()
        XCTAssertEqual(try maker.print("\(EvolutionImage.define("Late", "v")). Late class compile: 'hello ^ 42'. System commit"), "true")
        let holder = try openedWithoutPrefetching()
        XCTAssertEqual(try holder.rt.evaluateAndPrint("held := Late. held hello", workspace: true), "42")
        _ = try ImageFile(path: image).rollback(to: before)
        XCTAssertEqual(try holder.rt.evaluateAndPrint("System abort. { Smalltalk includesKey: #Late. held hello. held new class == held }", workspace: true),
                       "#(false 42 true)", "the rolled-back class is not in the image, but what holds it still works")
    }

    // MARK: Indexable classes and subclasses

    func testAnIndexableClassKeepsTheIndexedPart() throws {
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate("""
            Object variableSubclass: #Tally instanceVariableNames: 'z label' classVariableNames: '' package: 'Evolution'
            """)
        try changer.rt.commitImage(message: "Tally: z label")
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("""
            Tallies collect: [:t | { t instVarNamed: 'label'. t instVarNamed: 'z'. t basicSize. t asArrayOfSlots }]
            """), "#(#('none' nil 0 #()) #('three' nil 3 #(1 2 3)))")
        XCTAssertEqual(image.rt.vm.imageSlotCount(try element(image, "Tallies", 1)), 5)
    }

    func testASubclassFollowsItsSuperclassChange() throws {
        let changer = try openedWithoutPrefetching()
        XCTAssertEqual(try changer.print("SubRecs size"), "2")
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "d c"))
        XCTAssertEqual(try changer.print("SubRec allInstVarNames"), "#(#d #c #s)")
        XCTAssertEqual(try values(changer, "SubRecs", ["c", "d", "s"]), "#(#('x' nil #s1) #('y' nil #s2))")
        try changer.rt.commitImage(message: "Rec: d c")
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try values(image, "SubRecs", ["c", "d", "s"]), "#(#('x' nil #s1) #('y' nil #s2))")
        XCTAssertEqual(image.rt.vm.imageSlotCount(try element(image, "SubRecs", 0)), 3)
    }

    // MARK: Concurrent sessions

    /// A redefinition gives the class a new method dictionary: a method another session compiles
    /// meanwhile into the old one was lost with it, silently. The two commits conflict now, in either
    /// order, and the one retried after an abort keeps both changes. (Selectors and names the image
    /// has already: a new Symbol would make both sessions write the symbol table, and conflict anyway.)
    func testAMethodAddedBeforeAnotherSessionRedefinesTheClassIsNeverLost() throws {
        try compileAndRedefineConcurrently(compilerFirst: true, "size ^ a * 2", check: "(Recs at: 2) size", "4")
    }

    func testAMethodChangedAfterAnotherSessionRedefinedTheClassIsNeverLost() throws {
        try compileAndRedefineConcurrently(compilerFirst: false, "sum ^ a * 3", check: "(Recs at: 2) sum", "6")
    }

    private func compileAndRedefineConcurrently(compilerFirst: Bool, _ source: String, check: String, _ expected: String) throws {
        let compiler = try openedWithoutPrefetching(), redefiner = try openedWithoutPrefetching()
        XCTAssertEqual(try compiler.print("Rec name"), "#Rec")
        XCTAssertEqual(try redefiner.print("Rec name"), "#Rec")
        let compile = "Rec compile: '\(source)'. System commit"
        let redefine = EvolutionImage.define("Rec", "c b a") + ". System commit"
        let (first, second) = compilerFirst ? (compiler, redefiner) : (redefiner, compiler)
        let secondChange = compilerFirst ? redefine : compile
        XCTAssertEqual(try first.print(compilerFirst ? compile : redefine), "true")
        let conflict = try second.print("[\(secondChange)] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(conflict.contains("a MethodDictionary") || conflict.contains("an Association (#sum)"), conflict)
        XCTAssertEqual(try second.print("System abort. \(secondChange)"), "true", second.err)
        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try later.print("{ Rec instVarNames. \(check) }"), "#(#(#c #b #a) \(expected))")
    }

    /// A session holds a version of Rec whose instance variable names it never loaded; another
    /// redefines Rec and rewrites every instance, and a gc reclaims the old version's names and shape.
    /// An instance of the old version committed then would name a shape nobody can read: the commit
    /// is refused (it was accepted, and the object could never be loaded).
    func testACommitOfAnInstanceOfAClassVersionWhoseLayoutAGCReclaimedIsRefused() throws {
        let old = try openedWithoutPrefetching()
        XCTAssertEqual(try old.print("Rec name"), "#Rec")
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c a"))
        XCTAssertEqual(try changer.print("Recs do: [:r | r instVarNamed: 'a' put: (r instVarNamed: 'a') + 1000]. System commit"), "true")
        XCTAssertGreaterThan(try ImageFile(path: image).collectGarbage(keepingDays: 0).vacuum.shapesRemoved, 0)
        let extra = "Smalltalk at: #Extra put: (Rec new instVarAt: 1 put: 11; yourself). System commit"
        let refused = try old.print("[\(extra)] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(refused.contains("the changes hold instances of a version of the class Rec"), refused)
        XCTAssertEqual(try old.print("System abort. \(extra)"), "true", old.err)
        XCTAssertEqual(try openedWithoutPrefetching().print("{ Extra instVarNamed: 'c'. Extra instVarNamed: 'a' }"), "#(11 nil)")
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
    }

    // MARK: Check and gc

    func testCheckVerifiesShapesAndGCDeletesThoseNoRecordNeedsAnyMore() throws {
        XCTAssertEqual(try ImageFile(path: image).check().problems, [], "every record of the image fits its shape")
        let changer = try openedWithoutPrefetching()
        _ = try changer.rt.evaluate(EvolutionImage.define("Rec", "c d a"))
        try changer.rt.commitImage(message: "Rec: c d a")
        // The old shape of Rec is needed while its instances are stored with it.
        let rec = try XCTUnwrap(changer.rt.imageOID(of: try XCTUnwrap(changer.rt.global("Rec"))))
        let store = try SQLiteStore.open(path: image)
        XCTAssertEqual(try store.classShapes(of: [rec]).count, 2)
        _ = try ImageFile(path: image).collectGarbage(keepingDays: 0)    // the metaclasses' old shapes go
        XCTAssertEqual(try store.classShapes(of: [rec]).count, 2)
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
        XCTAssertEqual(try values(try openedWithoutPrefetching(), "SubRecs", ["c", "d", "s"]), "#(#('x' nil #s1) #('y' nil #s2))")
        // Rewritten in the new shape, they no longer need it: gc deletes it.
        XCTAssertEqual(try changer.print("Recs do: [:r | r instVarNamed: 'd' put: 0]. System commit"), "true")
        XCTAssertEqual(try ImageFile(path: image).collectGarbage(keepingDays: 0).vacuum.shapesRemoved, 1)
        XCTAssertEqual(try store.classShapes(of: [rec]).map(\.names), [["c", "d", "a"]])
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try values(later, "Recs", ["a", "c", "d"]), "#(#(1 '1' 0) #(2 '2' 0) #(3 '3' 0) #(4 '4' 0) #(5 '5' 0))")
    }

    // MARK: Between pointers and bits

    func testAClassOfBitsWithStoredInstancesCannotBeGivenPointersAndNothingChanges() throws {
        let image = try openedWithoutPrefetching()
        let text = try refusal(of: "Object subclass: #Blob instanceVariableNames: 'x y'", in: image)
        XCTAssertTrue(text.contains("Blob cannot change from bytes to normal instances: the image holds 1 of its instances not loaded"), text)
        XCTAssertEqual(try image.print("{ Blob typeOfClass. Blob instVarNames. (Blobs first basicAt: 16). Blobs first class == Blob }"),
                       "#(#bytes #() 255 true)", "nothing changed")
        XCTAssertEqual(try image.print("System commit. Blob storedInstanceCount"), "0", "loaded now")
        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try later.print("{ Blob typeOfClass. Blob storedInstanceCount. Blobs first basicAt: 1 }"), "#(#bytes 1 255)")
    }

    func testAClassWithStoredInstancesCannotBeMadeToHoldBitsNorCanItsSubclasses() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Tally storedInstanceCount"), "2")
        let text = try refusal(of: "Object variableByteSubclass: #Tally instanceVariableNames: ''", in: image)
        XCTAssertTrue(text.contains("Tally cannot change from variable to bytes instances: the image holds 2 of its instances"), text)
        XCTAssertEqual(try image.print("{ Tally typeOfClass. Tally instVarNames. Tallies last asArrayOfSlots }"), "#(#variable #(#label) #(1 2 3))")
        // A subclass whose layout would change with its superclass's is checked too.
        _ = try image.rt.evaluate(EvolutionImage.define("Base", ""))
        _ = try image.rt.evaluate(EvolutionImage.define("Leaf", "", superclass: "Base"))
        XCTAssertEqual(try image.print("Smalltalk at: #Leaves put: { Leaf new }. System commit. Leaf typeOfClass"), "#normal")
        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try later.print("{ Base storedInstanceCount. Leaf storedInstanceCount }"), "#(0 1)")
        let refused = try refusal(of: "Object variableByteSubclass: #Base instanceVariableNames: ''", in: later)
        XCTAssertTrue(refused.contains("Leaf cannot change from normal to bytes instances: the image holds 1"), refused)
        XCTAssertEqual(try later.print("{ Base typeOfClass. Leaf typeOfClass. Leaves first class == Leaf }"), "#(#normal #normal true)")
    }

    func testInstancesLoadedFirstAreConvertedAsInMemory() throws {
        let image = try openedWithoutPrefetching()
        XCTAssertEqual(try image.print("Tallies collect: [:t | t basicSize]"), "#(0 3)")
        XCTAssertEqual(try image.print("""
            Object variableByteSubclass: #Tally instanceVariableNames: '' classVariableNames: '' package: 'Evolution'.
            { Tally typeOfClass. Tallies last class == Tally. Tallies last basicSize. Tallies last basicAt: 3 }
            """), "#(#bytes true 3 0)", "as the class builder converts instances in memory: same size, contents cleared")
        try image.rt.commitImage(message: "Tally holds bytes")
        let later = try openedWithoutPrefetching()
        XCTAssertEqual(try later.print("{ Tally typeOfClass. Tallies last class == Tally. Tallies last basicSize }"), "#(#bytes true 3)")
    }
}

/// An image with instances of classes that the tests change: `Recs` (Rec: a b c), `SubRecs` (SubRec,
/// a subclass of Rec adding s), `Tallies` (Tally, indexable: label) and `Blobs` (Blob, bytes).
enum EvolutionImage {
    static func define(_ name: String, _ ivars: String, superclass: String = "Object") -> String {
        "\(superclass) subclass: #\(name) instanceVariableNames: '\(ivars)' classVariableNames: '' package: 'Evolution'"
    }

    static let master = MasterImage("evolution image") { c in
        _ = try c.rt.evaluate(define("Rec", "a b c"))
        try c.rt.compile("a ^ a", inClass: "Rec")
        try c.rt.compile("sum ^ c , a printString", inClass: "Rec")
        _ = try c.rt.evaluate(define("SubRec", "s", superclass: "Rec"))
        _ = try c.rt.evaluate("Object variableSubclass: #Tally instanceVariableNames: 'label' classVariableNames: '' package: 'Evolution'")
        _ = try c.rt.evaluate("Object variableByteSubclass: #Blob instanceVariableNames: '' classVariableNames: '' package: 'Evolution'")
        try c.rt.compile("asArrayOfSlots ^ (1 to: self basicSize) collect: [:i | self basicAt: i]", inClass: "Tally")
        _ = try c.rt.evaluate("""
            Smalltalk at: #Recs put: ((1 to: 5) collect: [:i |
                Rec new instVarNamed: 'a' put: i; instVarNamed: 'b' put: i * 10; instVarNamed: 'c' put: i printString; yourself]).
            Smalltalk at: #SubRecs put: ((1 to: 2) collect: [:i |
                SubRec new instVarNamed: 'c' put: (#('x' 'y') at: i); instVarNamed: 's' put: (#(#s1 #s2) at: i); yourself]).
            Smalltalk at: #Blobs put: { (Blob new: 16) basicAt: 1 put: 255; basicAt: 16 put: 255; yourself }.
            Smalltalk at: #Tallies put: {
                Tally new instVarNamed: 'label' put: 'none'; yourself.
                (Tally new: 3) instVarNamed: 'label' put: 'three'; basicAt: 1 put: 1; basicAt: 2 put: 2; basicAt: 3 put: 3; yourself }
            """)
    }
}
