// Transactions from Smalltalk against an image: commit, abort, transaction:, conflicts between
// runtimes, checkpoints, method versions; each test on its own copy of one committed image.

import Foundation
import Store
import Synchronization
import VMCore
import XCTest
@testable import LivingObjects

final class ImageTransactionTests: AccountImageTestCase {
    // MARK: Commit and abort

    func testSystemCommitIsSeenByTheNextRuntime() throws {
        let first = try opened()
        XCTAssertEqual(try first.print("TheAccount deposit: 5. System commit: 'five'"), "true")
        XCTAssertEqual(try first.print("TheAccount deposit: 1. System commit"), "true")
        XCTAssertEqual(try opened().print("TheAccount balance"), "6")
        let messages = try XCTUnwrap(first.rt.imageStore).commits(limit: 2).map(\.message)
        XCTAssertEqual(messages, ["System commit", "five"])
    }

    func testAbortPutsBackGlobalsInstanceVariablesAndMethods() throws {
        let image = try opened()
        _ = try image.print("""
            Counter := 99. TheAccount balance: 1000.
            Account compile: 'bonus ^ 7'. Account class compile: 'opened ^ 1'.
            Smalltalk at: #NewGlobal put: 3
            """)
        XCTAssertEqual(try image.print("System abort"), "true")
        XCTAssertEqual(try image.print("""
            { Counter. TheAccount balance. Account includesSelector: #bonus.
              Account class includesSelector: #opened. Smalltalk includesKey: #NewGlobal }
            """), "#(1 0 false false false)")
        XCTAssertEqual(try image.print("[TheAccount bonus] on: MessageNotUnderstood do: [:e | #gone]"), "#gone")
        XCTAssertEqual(try image.print("TheAccount deposit: 2; balance"), "2", "methods still run after the abort")
    }

    func testAbortReplacesObjectsThatGrewOrWereCollected() throws {
        let image = try opened()
        _ = try image.print("""
            1 to: 300 do: [:i | Smalltalk at: ('Grown', i printString) asSymbol put: i].
            Smalltalk removeKey: #Saved. Smalltalk garbageCollect
            """)
        XCTAssertEqual(try image.print("System abort"), "true")
        XCTAssertEqual(try image.print("{ Smalltalk includesKey: #Grown150. Saved. Counter }"), "#(false #(1 $a 'text') 1)")
        XCTAssertEqual(try image.print("Smalltalk at: #Later put: 5. System commit. Later"), "5")
        XCTAssertEqual(try opened().print("{ Later. Saved. Smalltalk includesKey: #Grown1 }"), "#(5 #(1 $a 'text') false)")
    }

    func testAbortReplacesAnObjectWhoseShapeChanged() throws {
        let image = try opened()
        let session = try XCTUnwrap(image.rt.imageSession)
        _ = try image.print("Smalltalk at: #Other put: (Array new: 5)")
        _ = try image.rt.vm.prepareImageSave()
        // Make the 5-slot Array the object at Saved's OID, as if Saved had changed shape in place; both
        // it and the association of Saved (which now refers to an object without OID) are changed.
        let saved = try XCTUnwrap(image.rt.global("Saved")), other = try XCTUnwrap(image.rt.global("Other"))
        let oid = try XCTUnwrap(session.oids[saved])
        session.forget(saved)
        session.adopt(other, oid: oid)
        XCTAssertEqual(try image.print("""
            | held | held := Other. held at: 1 put: 0. Smalltalk at: #Saved put: Saved.
            System abort. { held. held == Saved. Saved }
            """), "#(#(1 $a 'text') true #(1 $a 'text'))")
    }

    func testSymbolsStayUniqueAcrossAnAbort() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try first.print("Smalltalk at: #Shared put: ('shared', 'Sym') asSymbol. System commit"), "true")
        XCTAssertEqual(try second.print("""
            | mine other |
            mine := ('shared', 'Sym') asSymbol.
            other := ('only', 'Here') asSymbol.
            System abort.
            { mine == (Smalltalk at: #Shared). other == ('only', 'Here') asSymbol. mine == ('shared', 'Sym') asSymbol }
            """), "#(true true true)")
    }

    func testAbortInTheMiddleOfAnEvaluationLetsItGoOn() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("""
            | local |
            local := OrderedCollection with: 1.
            TheAccount balance: 50.
            System abort.
            local add: 2.
            { local size. TheAccount balance. [:x | x * 2] value: 21 }
            """), "#(2 0 42)")
    }

    func testCommitInTheMiddleOfAnEvaluationLetsItGoOn() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("""
            | local |
            local := (1 to: 1000) asOrderedCollection.
            Smalltalk at: #Kept put: (local first: 3).
            System commit.
            Smalltalk at: #NotKept put: 1.
            local inject: 0 into: [:a :b | a + b]
            """), "500500")
        XCTAssertEqual(try opened().print("{ Kept asArray. Smalltalk includesKey: #NotKept }"), "#(#(1 2 3) false)")
    }

    func testAFullCollectionBetweenCommitsKeepsEveryObjectsOID() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("Smalltalk garbageCollect. Counter := 2. System commit"), "true")
        let store = try XCTUnwrap(image.rt.imageStore)
        XCTAssertLessThan(try store.changedOIDs(commit: try store.headCommit()).count, 10)
        XCTAssertEqual(try opened().print("Counter"), "2")
    }

    // MARK: System transaction:

    func testTransactionCommitsOnNormalExitAndNonLocalReturn() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("System transaction: [TheAccount deposit: 3. #done]"), "#done")
        XCTAssertEqual(try opened().print("TheAccount balance"), "3")
        XCTAssertEqual(try image.print("TheAccount depositReturning: 4"), "#returned")
        XCTAssertEqual(try opened().print("TheAccount balance"), "7")
    }

    /// A terminated process does not leave its transaction normally: what it changed is put back, in
    /// a forked process as in the evaluation's own (which then fails with a message of its own).
    func testTransactionAbortsWhenItsProcessIsTerminated() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("""
            [System transaction: [TheAccount deposit: 5. Processor activeProcess terminate]] fork.
            Processor yield.
            TheAccount balance
            """), "0")
        XCTAssertThrowsError(try image.print("System transaction: [TheAccount deposit: 6. Processor activeProcess terminate]")) { error in
            XCTAssertEqual("\(error)", "the evaluation's process was terminated (Process>>terminate) before it finished")
        }
        XCTAssertEqual(try image.print("TheAccount balance"), "0")
        XCTAssertEqual(try opened().print("TheAccount balance"), "0")
        XCTAssertEqual(try image.rt.imageStore?.commits(limit: 1).first?.message, "account image", "nothing was committed")
    }

    func testTransactionAbortsOnAnErrorAndPassesItOn() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("""
            [System transaction: [TheAccount deposit: 3. 1 / 0]] on: ZeroDivide do: [:e | e return: #passed].
            """), "#passed")
        XCTAssertEqual(try image.print("TheAccount balance"), "0")
        XCTAssertThrowsError(try image.print("System transaction: [TheAccount deposit: 3. nil foo]"))
        XCTAssertTrue(image.err.contains("foo"), image.err)
        XCTAssertEqual(try image.print("TheAccount balance"), "0")
        XCTAssertEqual(try opened().print("TheAccount balance"), "0")
        XCTAssertEqual(try image.print("""
            System transaction: [[TheAccount deposit: 1. 1 / 0] on: ZeroDivide do: [:e | e return: 0]]. TheAccount balance
            """), "1", "an error handled inside the block does not abort")
    }

    // MARK: Several runtimes

    func testConflictingCommitsSignalCommitConflictAndAbortThenRetrySucceeds() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try first.print("TheAccount deposit: 10. System commit"), "true")
        let conflict = try second.print("[TheAccount deposit: 20. System commit] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(conflict.contains("an Account (OID"), conflict)
        XCTAssertTrue(conflict.contains("nothing was written"), conflict)
        XCTAssertEqual(try second.print("System abort. TheAccount balance"), "10", "the abort brings in the other commit")
        XCTAssertEqual(try second.print("TheAccount deposit: 20. System commit"), "true")
        XCTAssertEqual(try opened().print("TheAccount balance"), "30")
    }

    func testGemStonesCommitTransactionAnswersFalseOnAConflictAndAbortTransactionLetsTheRetryCommit() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try first.print("TheAccount deposit: 10. System commitTransaction"), "true")
        XCTAssertEqual(try second.print("TheAccount deposit: 20. System commitTransaction"), "false")
        XCTAssertEqual(try second.print("TheAccount balance"), "20", "the failed commit keeps the session's changes")
        XCTAssertEqual(try second.print("System abortTransaction. TheAccount balance"), "10")
        XCTAssertEqual(try second.print("TheAccount deposit: 20. System commitTransaction"), "true")
        XCTAssertEqual(try opened().print("TheAccount balance"), "30")
    }

    /// The holder still sees the array it loaded in `Saved`; another session drops it and a gc reclaims
    /// it. Committing a new reference to it would leave the head referring to nothing: the commit
    /// fails as a conflict naming it, and after an abort the holder sees the gc's world.
    func testASessionCannotCommitAReferenceToAnObjectAGCReclaimedAfterAnotherSessionDroppedIt() throws {
        let dropper = try opened()
        XCTAssertEqual(try dropper.print("Saved at: 3 put: (Array with: 'precious' with: 42). System commit"), "true")
        let holder = try opened()
        XCTAssertEqual(try holder.print("(Saved at: 3) last"), "42")
        XCTAssertEqual(try dropper.print("Saved at: 3 put: nil. System commit"), "true")
        let store = try XCTUnwrap(dropper.rt.imageStore)
        XCTAssertGreaterThan(try store.vacuum(retain: .zero).objectsRemoved, 0, "the array among them")

        let refused = try holder.print("[Counter := Saved at: 3. System commit] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(refused.contains("an Array (OID"), refused)
        XCTAssertTrue(refused.contains("reclaimed"), refused)
        XCTAssertTrue(refused.contains("an object kept in a variable across the abort is one of them still"),
                      "an abort cannot bring the object back: the advice says how to retry")
        XCTAssertEqual(try store.check(), [])
        XCTAssertEqual(try holder.print("System abort. Counter := Saved at: 3. System commit. Counter"), "nil")
        XCTAssertEqual(try holder.print("Counter := 2. System commit. Counter"), "2", "commits after the abort are checked and pass")
        XCTAssertEqual(try opened().print("{ Counter. Saved at: 3 }"), "#(2 nil)")
        XCTAssertEqual(try store.check(), [])
    }

    /// An abort reads the head in several batches. Between two of them another session removes the
    /// method the head's Account has, and a gc with no window reclaims it: the abort still puts back the
    /// head as it was when it began (one read transaction), and the next abort the gc's world.
    func testAnAbortIsNotBrokenByAGCThatRunsWhileItReads() throws {
        let holder = try opened()
        nonisolated(unsafe) let other = try opened()  // used by one thread at a time
        XCTAssertEqual(try holder.print("TheAccount balance"), "0")
        XCTAssertEqual(try other.print("Account compile: 'bonus ^ #(7 8) , #(9)'. System commit"), "true")
        let method = try XCTUnwrap(other.rt.imageSession?.oids[try other.rt.evaluate("Account >> #bonus")])
        let store = try XCTUnwrap(other.rt.imageStore)
        let gcDone = DispatchSemaphore(value: 0)
        // On another thread, as another process would: the other session commits, the gc runs, and
        // the abort goes on once the gc has deleted the method (its last step waits for the abort).
        Runtime.betweenAbortReadsForTests = {
            Runtime.betweenAbortReadsForTests = nil
            let reclaimed = DispatchSemaphore(value: 0)
            Thread {
                XCTAssertEqual(try? other.print("Account removeSelector: #bonus. System commit"), "true")
                Thread { _ = try? store.vacuum(retain: .zero); gcDone.signal() }.start()
                let deadline = Date() + 10
                while Date() < deadline, (try? store.missingObjects(among: [method])) != [method] { usleep(1000) }
                reclaimed.signal()
            }.start()
            reclaimed.wait()
        }
        defer { Runtime.betweenAbortReadsForTests = nil }
        XCTAssertEqual(try holder.print("System abort"), "true", "as of the head when the abort began")
        XCTAssertEqual(holder.err, "")
        XCTAssertEqual(try holder.print("Account includesSelector: #bonus"), "true")
        XCTAssertEqual(gcDone.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(try store.missingObjects(among: [method]), [method], "the gc reclaimed the method")
        XCTAssertEqual(try holder.print("System abort. Account includesSelector: #bonus"), "false")
        XCTAssertEqual(try store.check(), [])
    }

    /// A gc with no window keeps the account's version of the checkpoint and of the head, not the one
    /// a session opened between them saw: that session's read must fail clearly, not answer the
    /// checkpoint's balance; an abort moves it to the head.
    func testASessionWhoseSnapshotAGCThinnedOutGetsAnErrorNotAnOlderVersion() throws {
        let other = try opened()
        XCTAssertEqual(try other.print("TheAccount balance: 1. System checkpoint: 'one'. TheAccount balance: 2. System commit"), "true")
        let holder = try opened()
        XCTAssertEqual(try other.print("TheAccount balance: 3. System commit"), "true")
        _ = try XCTUnwrap(other.rt.imageStore).vacuum(retain: .zero)
        let read = try holder.print("[Smalltalk at: #TheAccount] on: Error do: [:e | e messageText]")
        XCTAssertTrue(read.contains("reclaimed by gc"), read)
        XCTAssertThrowsError(try holder.print("TheAccount balance"), "compiling it looks the global up") {
            XCTAssertTrue("\($0)".contains("cannot look up TheAccount") && "\($0)".contains("reclaimed by gc"), "\($0)")
        }
        XCTAssertEqual(try holder.print("System abort"), "true")
        XCTAssertEqual(try holder.print("TheAccount balance"), "3")
    }

    /// An object another session dropped, and a gc deleted, while this session had not loaded it yet:
    /// the read is refused as one of a reclaimed snapshot (it said the object did not exist).
    func testASessionReadingAnObjectAGCDeletedSinceItsSnapshotIsToldToAbort() throws {
        let holder = try opened()
        XCTAssertEqual(try holder.print("Smalltalk includesKey: #TheAccount"), "true")
        let other = try opened()
        XCTAssertEqual(try other.print("Smalltalk removeKey: #TheAccount. System commit"), "true")
        _ = try XCTUnwrap(other.rt.imageStore).vacuum(retain: .zero)
        let read = try holder.print("[(Smalltalk at: #TheAccount) balance] on: ObjectFault do: [:e | e messageText]")
        XCTAssertTrue(read.contains("reclaimed by gc") && read.contains("System abort"), read)
        XCTAssertEqual(try holder.print("System abort. Smalltalk includesKey: #TheAccount"), "false")
    }

    /// The second session's snapshot stays before the first's commit when it commits something else
    /// (its memory still holds the account as it read it): writing the account later must conflict,
    /// not undo the first's deposit.
    func testACommitAfterAnotherSessionsCommitStillConflictsWithWhatThatCommitWrote() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try second.print("TheAccount balance"), "0")
        XCTAssertEqual(try first.print("TheAccount deposit: 10. System commit"), "true")
        XCTAssertEqual(try second.print("Counter := 5. System commit"), "true", "no overlap")
        XCTAssertEqual(try second.print("TheAccount balance"), "0", "the snapshot stays")
        let conflict = try second.print("[TheAccount deposit: 20. System commit] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(conflict.contains("an Account (OID"), conflict)
        XCTAssertEqual(try second.print("Counter := 6. System commitTransaction"), "false", "still conflicts: the deposit is not undone")
        XCTAssertEqual(try opened().print("{ TheAccount balance. Counter }"), "#(10 5)")
        XCTAssertEqual(try second.print("System abort. TheAccount deposit: 20. Counter := 6. System commit"), "true")
        XCTAssertEqual(try opened().print("{ TheAccount balance. Counter }"), "#(30 6)")
    }

    func testASessionTooFarBehindOtherSessionsCommitsConflictsUntilItAborts() throws {
        let limit = ImageSession.unseenWritesLimit
        ImageSession.unseenWritesLimit = 0
        defer { ImageSession.unseenWritesLimit = limit }
        let first = try opened(), second = try opened()
        XCTAssertEqual(try second.print("TheAccount balance"), "0")
        XCTAssertEqual(try first.print("TheAccount deposit: 10. System commit"), "true")
        XCTAssertEqual(try second.print("Counter := 5. System commit"), "true", "no overlap")
        let conflict = try second.print("[Counter := 6. System commit] on: CommitConflict do: [:e | e messageText]")
        XCTAssertTrue(conflict.contains("cannot tell what other sessions committed"), conflict)
        XCTAssertEqual(try second.print("System abort. Counter := 6. System commit. { Counter. TheAccount balance }"), "#(6 10)")
    }

    func testCommitsOfDifferentObjectsDoNotConflict() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try first.print("Transcript show: 'both print'; cr. TheAccount deposit: 10. System commit"), "true")
        XCTAssertEqual(try second.print("Transcript show: 'both print'; cr. Counter := 5. System commit"), "true")
        XCTAssertEqual(try opened().print("{ TheAccount balance. Counter }"), "#(10 5)")
    }

    func testAConflictFromSwiftIsACommitConflictError() throws {
        let first = try opened(), second = try opened()
        _ = try first.rt.evaluateAndCommit("Counter := 7")
        XCTAssertThrowsError(try second.rt.evaluateAndCommit("Counter := 8")) { error in
            guard case RuntimeError.commitConflict(let text) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("an Association (#Counter)"), text)
        }
        try second.rt.abortImage()
        XCTAssertEqual(try second.rt.evaluateAndCommit("Counter := Counter + 1"), "8")
        XCTAssertEqual(try opened().print("Counter"), "8")
    }

    func testRuntimesOfOneImageShareItsStoreAndCommitFromThreadsAtOnce() throws {
        let images = try (0..<3).map { _ in try opened() }
        let store = try XCTUnwrap(images[0].rt.imageStore)
        XCTAssertTrue(images.allSatisfy { $0.rt.imageStore === store }, "one store per image in a process")
        // Each runtime changes its own object, 20 commits each, on threads of their own at once.
        let statements = ["Counter := Counter + 1", "TheAccount deposit: 1", "Saved at: 1 put: Saved first + 1"]
        let failures = Mutex<[String]>([])
        nonisolated(unsafe) let runtimes = images.map(\.rt)
        DispatchQueue.concurrentPerform(iterations: 3) { index in
            do {
                let printed = try runtimes[index].evaluateAndPrint("20 timesRepeat: [\(statements[index]). System commit]. #done")
                if printed != "#done" { failures.withLock { $0.append(printed) } }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try opened().print("{ Counter. TheAccount balance. Saved first }"), "#(21 20 21)")
    }

    // MARK: Classes made in a transaction that is aborted

    private func define(_ name: String, _ ivar: String) -> String {
        "Object subclass: #\(name) instanceVariableNames: '\(ivar)' classVariableNames: '' package: 'Tx-Test'"
    }

    func testAnAbortedClassGivesItsClassIndexBack() throws {
        let image = try opened()
        let size = image.rt.vm.classTableSize
        _ = try image.print("\(define("Gamma", "g")). Smalltalk at: #TheGamma put: Gamma new")
        let taken = image.rt.vm.classTableSize - size
        XCTAssertGreaterThan(taken, 0)
        XCTAssertEqual(try image.print("System abort. Smalltalk includesKey: #Gamma"), "false")
        XCTAssertEqual(image.rt.vm.classTableSize, size, "the class and its metaclass gave their entries back")
        XCTAssertEqual(try image.print("\(define("Delta", "d")). Smalltalk at: #TheDelta put: Delta new. System commit"), "true")
        XCTAssertEqual(image.rt.vm.classTableSize, size + taken, "the next class takes them")
        let reopened = try opened()
        XCTAssertEqual(reopened.rt.vm.classTableSize, size + taken)
        XCTAssertEqual(try reopened.print("{ TheDelta class name. Smalltalk includesKey: #TheGamma }"), "#(#Delta false)")
    }

    func testClassesMadeInTwoSessionsAtOnceTakeTheSameIndexAndTheRetryAfterTheAbortGetsANewOne() throws {
        let first = try opened(), second = try opened()
        let size = first.rt.vm.classTableSize
        let alpha = try first.print("""
            \(define("Alpha", "a")). Smalltalk at: #TheAlpha put: (Alpha new instVarNamed: 'a' put: 1; yourself). Alpha identityHash
            """)
        XCTAssertEqual(try first.print("System commit"), "true")
        let beta = try second.print("""
            \(define("Beta", "b")). Smalltalk at: #TheBeta put: (Beta new instVarNamed: 'b' put: 2; yourself). Beta identityHash
            """)
        XCTAssertEqual(alpha, beta, "both sessions gave their new class the same class index")
        XCTAssertEqual(try second.print("[System commit] on: CommitConflict do: [:e | System abort. #aborted]"), "#aborted")
        XCTAssertEqual(try second.print("{ TheAlpha class name. TheAlpha instVarNamed: 'a'. Smalltalk includesKey: #Beta }"),
                       "#(#Alpha 1 false)")
        XCTAssertEqual(second.rt.vm.classTableSize, first.rt.vm.classTableSize, "no entry left behind")
        XCTAssertEqual(try second.print("""
            \(define("Beta", "b")). Smalltalk at: #TheBeta put: (Beta new instVarNamed: 'b' put: 2; yourself). System commit
            """), "true")
        let reopened = try opened()
        XCTAssertEqual(try reopened.print("""
            { TheAlpha class name. TheAlpha instVarNamed: 'a'. TheBeta class name. TheBeta instVarNamed: 'b'.
              TheAlpha class identityHash = TheBeta class identityHash }
            """), "#(#Alpha 1 #Beta 2 false)")
        XCTAssertEqual(reopened.rt.vm.classTableSize, size + 2 * (first.rt.vm.classTableSize - size), "two classes, nothing leaked")
    }

    func testAnAbortedClassWhoseInstanceIsStillHeldKeepsWorkingUnderAnotherIndex() throws {
        let first = try opened(), second = try opened()
        XCTAssertEqual(try first.print("\(define("Alpha", "a")). Smalltalk at: #TheAlpha put: Alpha new. System commit"), "true")
        XCTAssertEqual(try second.print("""
            | held index |
            \(define("Beta", "b")).
            held := Beta new instVarNamed: 'b' put: 2; yourself.
            Smalltalk at: #TheBeta put: held.
            index := Beta identityHash.
            [System commit] on: CommitConflict do: [:e | System abort].
            { held class name. held instVarNamed: 'b'. held class identityHash = index. (Smalltalk at: #TheAlpha) class identityHash = index }
            """), "#(#Beta 2 false true)")
    }

    // MARK: Checkpoints and method versions

    func testCheckpointCommitsAndNamesTheCommit() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("Counter := 3. System checkpoint: 'three'"), "true")
        let store = try XCTUnwrap(image.rt.imageStore)
        XCTAssertEqual(try store.checkpoints().map(\.name), ["three"])
        XCTAssertEqual(try store.checkpoints().first?.commit, try store.headCommit())
        XCTAssertEqual(try image.print("[System checkpoint: ''] on: Error do: [:e | e messageText]"), "'a checkpoint needs a name'")
        // Names `lo` would read as commit ids, or could not print in one line: refused before committing.
        let head = try store.headCommit()
        for name in ["'2'", "'#3'", "' padded'", "(String with: (Character value: 0) with: $a)", "(String with: $a with: Character cr)"] {
            XCTAssertTrue(try image.print("Counter := 4. [System checkpoint: \(name)] on: Error do: [:e | e messageText]").contains("cannot name a checkpoint"), name)
        }
        XCTAssertEqual(try store.headCommit(), head, "nothing was committed")
        XCTAssertEqual(try store.checkpoints().map(\.name), ["three"])
    }

    func testMethodVersionsNewestFirstAndAbortDropsUncommittedOnes() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("(Account >> #balance) versions"), "#()", "kernel-time methods have no versions")
        _ = try image.print("Account compile: 'rate ^ 1'. System commit. Account compile: 'rate ^ 2' classified: 'rates'. System commit")
        let later = try opened()
        XCTAssertEqual(try later.print("(Account >> #rate) versions collect: [:v | v source]"), "#('rate ^ 2' 'rate ^ 1')")
        XCTAssertEqual(try later.print("(Account >> #rate) versions collect: [:v | { v className. v selector } ]"),
                       "#(#('Account' #rate) #('Account' #rate))")
        XCTAssertEqual(try later.print("(Account >> #rate) versions first timestamp class"), "DateAndTime")
        XCTAssertEqual(try later.print("(Account >> #rate) versions first author isEmpty"), "false")
        XCTAssertEqual(try later.print("Account compile: 'rate ^ 3'. (Account >> #rate) versions size"), "3",
                       "a version not committed yet is listed")
        XCTAssertEqual(try later.print("System abort. { Account new rate. (Account >> #rate) versions size }"), "#(2 2)")
    }

    func testAViewOfThePastListsNoMethodVersionFromAfterIt() throws {
        let image = try opened()
        _ = try image.print("Account compile: 'rate ^ 1'. System commit")
        let first = try XCTUnwrap(image.rt.imageStore).headCommit()
        _ = try image.print("Account compile: 'rate ^ 2'. System commit. Account compile: 'rate ^ 3'. System commit")
        let past = try Runtime(image: self.image, asOf: first)
        XCTAssertEqual(try past.evaluateAndPrint("(Account >> #rate) versions collect: [:v | v source]"), "#('rate ^ 1')")
        XCTAssertEqual(try opened().print("(Account >> #rate) versions size"), "3")
    }

    /// A do-it that aborts, then defines a name it uses, sees the name's value: compiling it bound the
    /// name in Undeclared, which the abort put back without that binding (the do-it read nil).
    func testANameADoItDefinesAfterAnAbortHasItsValueThere() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("System abort. Smalltalk at: #Fresh put: 3. { Fresh. Smalltalk at: #Fresh }"), "#(3 3)")
        XCTAssertEqual(try image.print("""
            System abort.
            Object subclass: #FreshClass instanceVariableNames: '' classVariableNames: '' package: 'Tx-Test'.
            FreshClass new printString
            """), "'a FreshClass'")
        XCTAssertEqual(try image.print("System commit. { Smalltalk includesKey: #Fresh. FreshClass name }"), "#(false #FreshClass)", "the second abort undid the first definition")
    }

    /// The state of locks and delays is the running processes', not data: an abort leaves it alone.
    /// A lock held across an abort was given a second permit when its holder left it (and committed
    /// so), and a process waiting on a delay never woke.
    func testAnAbortLeavesLocksAndDelaysAsTheRunningProcessesLeftThem() throws {
        let image = try opened()
        XCTAssertEqual(try image.print("Smalltalk at: #Lock put: Mutex new. System commit"), "true")
        XCTAssertEqual(try image.print("""
            | order inside gate |
            Lock critical: [System abort].
            order := OrderedCollection new. gate := Semaphore new.
            [Lock critical: [order add: #pIn. gate wait. order add: #pOut]] fork.
            Processor yield.
            [Lock critical: [order add: #qIn. order add: #qOut]] fork.
            Processor yield.
            System abort.
            gate signal. Processor yield. Processor yield.
            { (Lock instVarAt: 1) instVarNamed: #excessSignals. order asArray }
            """), "#(1 #(#pIn #pOut #qIn #qOut))")
        XCTAssertEqual(try image.print("""
            | woken sleeper |
            woken := OrderedCollection new.
            sleeper := [(Delay forMilliseconds: 50) wait. woken add: #awake] fork.
            Processor yield.
            System abort.
            (Delay forMilliseconds: 300) wait.
            { woken asArray. sleeper isTerminated }
            """), "#(#(#awake) true)")
    }

    /// An abort in a view of the past puts back the commit the view shows (it moved to the newest).
    func testAnAbortInAViewOfThePastStaysInThePast() throws {
        let image = try opened()
        _ = try image.print("TheAccount balance: 1. System commit")
        let first = try XCTUnwrap(image.rt.imageStore).headCommit()
        _ = try image.print("TheAccount balance: 2. System commit")
        let past = try Runtime(image: self.image, asOf: first)
        XCTAssertEqual(try past.evaluateAndPrint("{ TheAccount balance. TheAccount balance: 7; balance. System abort. TheAccount balance }"),
                       "#(1 7 true 1)")
        XCTAssertEqual(past.imageSession?.snapshot, first)
    }

    func testReshapingAClassRecordsNoNewVersionsOfItsMethods() throws {
        let image = try opened()
        _ = try image.print("Account compile: 'rate ^ 1'. System commit")
        _ = try image.print("""
            Object subclass: #Account instanceVariableNames: 'owner balance' classVariableNames: '' package: 'Tx-Test'.
            Account addInstVarNamed: 'limit'. System commit
            """)
        XCTAssertEqual(try image.print("{ TheAccount balance. Account new rate }"), "#(0 1)", "the methods were compiled again")
        XCTAssertEqual(try image.print("(Account >> #rate) versions collect: [:v | v source]"), "#('rate ^ 1')")
        XCTAssertEqual(try image.print("(Account >> #balance) versions"), "#()")
        XCTAssertEqual(try image.print("Account compile: 'rate ^ 1'. (Account >> #rate) versions size"), "2",
                       "compiling the same source again is a version")
    }

    func testTransactionsWithoutAnImageSignalAnError() throws {
        let fresh = try Shared.runtime()
        XCTAssertEqual(try fresh.print("[System commit] on: Error do: [:e | e messageText]"), "'no image is open'")
        XCTAssertEqual(try fresh.print("System hasImage"), "false")
        XCTAssertThrowsError(try fresh.rt.abortImage())
    }
}

/// A test case with a fresh copy of the account image (`image`) for each test.
class AccountImageTestCase: MasterImageTestCase {
    override class var master: MasterImage? { AccountImage.master }

    func opened() throws -> CapturingImage { try CapturingImage(path: image) }
}

/// One committed image made from the kernel, with an Account class and a few globals; tests copy it.
enum AccountImage {
    static let master = MasterImage("account image") { c in
        _ = try c.rt.evaluate("Object subclass: #Account instanceVariableNames: 'balance' classVariableNames: '' package: 'Tx-Test'")
        try c.rt.compile("balance ^ balance ifNil: [0]", inClass: "Account")
        try c.rt.compile("balance: n balance := n", inClass: "Account")
        try c.rt.compile("deposit: n balance := self balance + n", inClass: "Account")
        try c.rt.compile("depositReturning: n System transaction: [self deposit: n. ^ #returned]. ^ #notReached", inClass: "Account")
        _ = try c.rt.evaluate("Smalltalk at: #TheAccount put: Account new; at: #Counter put: 1; at: #Saved put: #(1 $a 'text') copy")
    }
}
