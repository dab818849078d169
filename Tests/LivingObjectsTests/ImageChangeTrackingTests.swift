// Commits start from the objects the VM noted as changed: each kind of change is committed in one
// runtime and seen in the next, and a commit writes what changed, not the object space.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class ImageChangeTrackingTests: AccountImageTestCase {
    /// Runs `change` and commits in one runtime, then answers `check` printed in a fresh one.
    private func committed(_ change: String, thenIn check: String, line: UInt = #line) throws -> String {
        let first = try opened()
        XCTAssertEqual(try first.print("\(change). System commit"), "true", first.err, line: line)
        return try opened().print(check)
    }

    private var objectsInLastCommit: Int {
        get throws { try SQLiteStore.open(path: image).commits(limit: 1)[0].objectCount }
    }

    func testAnInstanceVariable() throws {
        XCTAssertEqual(try committed("TheAccount balance: 42", thenIn: "TheAccount balance"), "42")
    }

    func testAStringChangedInPlace() throws {
        XCTAssertEqual(try committed("(Saved at: 3) at: 1 put: $n; at: 4 put: $s", thenIn: "Saved at: 3"), "'nexs'")
    }

    func testReplaceFromToWithStartingAt() throws {
        XCTAssertEqual(try committed("""
            Saved replaceFrom: 1 to: 2 with: #(7 8 9) startingAt: 2.
            (Saved at: 3) replaceFrom: 2 to: 3 with: 'XY' startingAt: 1
            """, thenIn: "Saved"), "#(8 9 'tXYt')")
    }

    func testACompiledMethod() throws {
        XCTAssertEqual(try committed("Account compile: 'interest ^ balance * 2'. TheAccount balance: 4",
                                     thenIn: "TheAccount interest"), "8")
    }

    func testAGlobal() throws {
        XCTAssertEqual(try committed("Smalltalk at: #Fresh put: 'hello'. Counter := 2",
                                     thenIn: "{ Fresh. Counter }"), "#('hello' 2)")
    }

    func testBecomeBetweenPersistentObjects() throws {
        XCTAssertEqual(try committed("Smalltalk at: #A put: 'first' copy; at: #B put: 'second' copy; at: #Both put: { A. B }",
                                     thenIn: "Both"), "#('first' 'second')")
        XCTAssertEqual(try committed("A become: B", thenIn: "{ A. B. Both. (Both at: 1) == A }"),
                       "#('second' 'first' #('second' 'first') true)")
    }

    func testANewGraphHungOffAPersistentObject() throws {
        XCTAssertEqual(try committed("""
            | shared |
            shared := 'shared' copy.
            TheAccount balance: (OrderedCollection new add: { shared. 3 / 4. Set with: #x }; add: shared; yourself)
            """, thenIn: "{ TheAccount balance first first == TheAccount balance last. TheAccount balance first }"),
                       "an Array(true an Array('shared' (3/4) a Set(#x)))")
    }

    func testChangesSurviveAFullCollectionAndDeadObjectsAreDropped() throws {
        XCTAssertEqual(try committed("""
            | gone | gone := Saved. Smalltalk removeKey: #Saved. gone at: 1 put: 99. gone := nil.
            TheAccount balance: 77. Smalltalk garbageCollect
            """, thenIn: "{ TheAccount balance. Smalltalk includesKey: #Saved }"), "#(77 false)")
    }

    func testAWeakReferenceTheCollectorCleared() throws {
        XCTAssertEqual(try committed("Smalltalk at: #Strong put: 'held' copy; at: #Weak put: (WeakArray with: Strong)",
                                     thenIn: "Weak first"), "'held'")
        XCTAssertEqual(try committed("Weak size. Smalltalk removeKey: #Strong. Smalltalk garbageCollect", thenIn: "Weak first"), "nil",
                       "the collector clears a WeakArray it holds loaded (it used to be loaded here by prefetching)")
    }

    func testACommitAfterChangingOneObjectWritesOneRecord() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("TheAccount balance: 1. System commit"), "true")
        XCTAssertEqual(try objectsInLastCommit, 1)
        XCTAssertEqual(try image.print("Counter := 5. TheAccount balance: 2. System commit"), "true")
        XCTAssertEqual(try objectsInLastCommit, 2)
        XCTAssertEqual(try image.print("TheAccount balance: 3. TheAccount balance: 2. Counter := 5. System commit"), "true",
                       "changed back: nothing to write")
        XCTAssertEqual(try objectsInLastCommit, 2, "no new commit")
    }

    func testRunningCodeChangesNothingThatIsSaved() throws {
        let image = try opened()
        let store = try XCTUnwrap(image.rt.imageStore)
        let head = try store.headCommit()
        XCTAssertEqual(try image.print("((1 to: 100) inject: 0 into: [:a :b | a + b]) printString size"), "4")
        XCTAssertEqual(try image.rt.commitImage(message: "nothing"), head, "inline caches filled, nothing committed")
        XCTAssertEqual(image.rt.vm.changedObjects, [], "the commit cleared the changed objects")
    }
}
