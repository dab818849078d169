// What a small commit skips: the tenuring scavenge when the changes reach no young object, and the
// encoding of the roots and class table while they are as last saved (ImageWriter.swift). Each test
// shows that what the shortcut must not miss is committed.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class CommitShortcutTests: AccountImageTestCase {
    func testACommitThatReachesNoYoungObjectMovesNothingAndOneThatDoesMakesItOld() throws {
        let image = try opened()
        _ = try image.rt.evaluate("TheAccount balance: 5")
        var scavenges = image.rt.vm.scavengeCount
        try image.rt.commitImage(message: "old only")
        XCTAssertEqual(image.rt.vm.scavengeCount, scavenges, "nothing young to save: nothing moved")

        _ = try image.rt.evaluate("TheAccount balance: (Array with: 7 with: 'seven' copy)")
        scavenges = image.rt.vm.scavengeCount
        try image.rt.commitImage(message: "young")
        XCTAssertGreaterThan(image.rt.vm.scavengeCount, scavenges, "the new Array was young: every object was made old")
        XCTAssertEqual(try opened().print("TheAccount balance"), "#(7 'seven')")
    }

    func testAYoungObjectReachedOnlyThroughAnOldNewObjectIsMadeOld() throws {
        let image = try opened()
        _ = try image.rt.evaluate("Smalltalk at: #Holder put: (Array new: 1)")
        image.rt.vm.scavenge(tenureAll: true)       // the Holder is old now, and has no OID yet
        _ = try image.rt.evaluate("Holder at: 1 put: (OrderedCollection with: 3 with: 4)")
        XCTAssertEqual(try image.print("System commit"), "true", image.err)
        XCTAssertEqual(try opened().print("Holder"), "an Array(an OrderedCollection(3 4))")
    }

    func testANewClassIsCommittedWithTheClassTableAfterCommitsThatSkippedIt() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("TheAccount balance: 1. System commit"), "true")
        _ = try image.rt.evaluate("TheAccount balance: 2")
        try image.rt.commitImage(message: "the classes loaded by printing")
        XCTAssertEqual(image.rt.imageSession?.specialsAreSaved(), true, "the next commit would not encode the class table")
        XCTAssertEqual(try image.print("""
            Object subclass: #Fresh instanceVariableNames: 'x' classVariableNames: '' package: 'Shortcut-Test'.
            Smalltalk at: #AFresh put: (Smalltalk at: #Fresh) new.
            System commit
            """), "true", image.err)
        let reopened = try opened()
        XCTAssertEqual(try reopened.print("{ AFresh class name. AFresh class == Fresh. Fresh new class name }"), "#(#Fresh true #Fresh)",
                       reopened.err)
    }

    /// The saved roots refer to objects by OID: when the object of a root is saved under another OID,
    /// the roots are saved again though no root changed in memory.
    func testTheRootsAreSavedAgainWhenTheOIDOfARootObjectChanges() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("TheAccount balance: 1. System commit"), "true")
        try image.rt.commitImage(message: "the classes loaded by printing")
        let session = try XCTUnwrap(image.rt.imageSession)
        XCTAssertTrue(session.specialsAreSaved(), "the next commit would not encode the roots")
        let vm = image.rt.vm, selectors = vm.root(.specialSelectors)
        let oldOID = try XCTUnwrap(session.oids[selectors])
        session.forget(selectors)
        let newOID = try session.takeOIDs(1)
        session.adopt(selectors, oid: newOID)
        vm.noteChanged(selectors)
        try image.rt.commitImage(message: "another OID")

        let store = try XCTUnwrap(image.rt.imageStore), head = try store.headCommit()
        let specials = try XCTUnwrap(try store.root(named: ImageSpecialsRecord.rootName, asOf: head))
        let header = try XCTUnwrap(try store.load(oids: [specials], asOf: head)[0].slots)
        let rootsOID = try XCTUnwrap(StoredObject.referencedOID(header[1]))
        let roots = try XCTUnwrap(try store.load(oids: [rootsOID], asOf: head)[0].slots)
        XCTAssertNotEqual(oldOID, newOID)
        XCTAssertEqual(StoredObject.referencedOID(roots[Root.specialSelectors.rawValue]), newOID)
    }

    /// Sessions take OIDs in blocks (ImageSession.takeOIDs): two sessions making objects in turn never
    /// give two objects one OID.
    func testTwoSessionsMakingObjectsInTurnGiveThemDistinctOIDs() throws {
        let a = try opened(), b = try opened()
        for i in 1...3 {
            XCTAssertEqual(try a.print("TheAccount balance: (Array with: \(i) with: 'a' copy). System commit"), "true", a.err)
            XCTAssertEqual(try b.print("Saved at: 1 put: (Array with: \(-i) with: 'b' copy). System commit"), "true", b.err)
        }
        let aOID = try XCTUnwrap(a.rt.imageOID(of: try a.rt.evaluate("TheAccount balance")))
        let bOID = try XCTUnwrap(b.rt.imageOID(of: try b.rt.evaluate("Saved at: 1")))
        XCTAssertNotEqual(aOID, bOID)
        XCTAssertEqual(try opened().print("{ TheAccount balance. Saved first }"), "#(#(3 'a') #(-3 'b'))")
    }
}
