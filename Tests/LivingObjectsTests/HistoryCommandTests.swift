// The image's history and upkeep (ImageFile): history, as-of views, rollback, checkpoints, backup, gc,
// check; and the `lo` commands on top of them, run as a child process.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class HistoryCommandTests: TemporaryDirectoryTestCase {
    /// One image bootstrapped from the kernel for the whole class; each test works on a backup of it.
    nonisolated(unsafe) private static var template: (path: String, runtime: Runtime)?

    override class func tearDown() {
        if let path = template?.path {
            template = nil  // closes its store first: SQLite leaves the WAL of a file removed under it
            for suffix in ["", "-wal", "-shm", "-log", "-sync"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        super.tearDown()
    }

    /// A fresh image at `name`: the kernel, committed once.
    private func image(_ name: String) throws -> String {
        if Self.template == nil {
            let c = try CapturingRuntime()
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("history-template-\(UUID().uuidString).lo").path
            try c.rt.commitImage(toPath: file, message: "created from the kernel")
            Self.template = (file, c.rt)
        }
        let file = path(name)
        try ImageFile(path: Self.template!.path).backup(to: file)
        return file
    }

    /// Evaluates and commits `source` in a runtime freshly opened on `file`; answers the new head.
    @discardableResult
    private func commit(_ source: String, to file: String) throws -> CommitID {
        let rt = try Runtime(image: file)
        _ = try rt.evaluateAndCommit(source)
        return try ImageFile(path: file).store.headCommit()
    }

    private func print(_ source: String, in file: String, asOf commit: CommitID? = nil) throws -> String {
        try Runtime(image: file, asOf: commit).evaluateAndPrint(source)
    }

    private func assertImageError(_ body: @autoclosure () throws -> some Any, mentions text: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case RuntimeError.image(let message) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(message.contains(text), message, file: file, line: line)
        }
    }

    // MARK: History

    func testHistoryListsCommitsNewestFirstWithCheckpointNames() throws {
        let file = try image("h.lo")
        let first = try commit("Smalltalk at: #Counter put: 1", to: file)
        let image = try ImageFile(path: file)
        try image.checkpoint("one")
        let second = try commit("Smalltalk at: #Counter put: 2", to: file)

        let entries = try image.history()
        XCTAssertEqual(entries.map(\.commit.id), [second, first, CommitID(2), CommitID(1)])
        XCTAssertEqual(entries.map(\.commit.message),
                       ["eval: Smalltalk at: #Counter put: 2", "eval: Smalltalk at: #Counter put: 1", "created from the kernel", "Store created"])
        XCTAssertEqual(entries.map(\.checkpoints), [[], ["one"], [], []])
        XCTAssertGreaterThan(entries[2].commit.objectCount, 20_000)
        XCTAssertTrue((1...100).contains(entries[0].commit.objectCount), "\(entries[0].commit.objectCount)")
        XCTAssertEqual(try image.history(limit: 1).map(\.commit.id), [second])
    }

    func testCommitsAreNamedByIdOrCheckpoint() throws {
        let file = try image("refs.lo")
        let image = try ImageFile(path: file)
        XCTAssertEqual(try image.commit(named: "2"), CommitID(2))
        XCTAssertEqual(try image.commit(named: "#2"), CommitID(2))
        XCTAssertEqual(try image.checkpoint("kernel"), CommitID(2))
        XCTAssertEqual(try image.commit(named: "kernel"), CommitID(2))
        assertImageError(try image.commit(named: "3"), mentions: "no commit 3")
        assertImageError(try image.commit(named: "later"), mentions: "no commit or checkpoint named later")
        assertImageError(try image.checkpoint("12"), mentions: "cannot name a checkpoint")
        assertImageError(try image.checkpoint(""), mentions: "cannot name a checkpoint")
        assertImageError(try image.checkpoint("a\u{0}b"), mentions: "cannot name a checkpoint")
        XCTAssertEqual(try image.checkpoint("store", at: CommitID(1)), CommitID(1))
        XCTAssertEqual(try image.removeCheckpoint("kernel"), CommitID(2))
        XCTAssertEqual(try image.store.checkpoints().map(\.name), ["store"])
        assertImageError(try image.removeCheckpoint("kernel"), mentions: "no checkpoint named kernel")
    }

    func testMethodVersionsAreReadByClassAndSelector() throws {
        let file = try image("methods.lo")
        let store = try ImageFile(path: file).store
        for (className, source) in [("Foo", "bar ^ 1"), ("Foo", "bar ^ 2"), ("Foo class", "bar ^ 3")] {
            _ = try store.commit(base: try store.headCommit(), writes: [],
                                 methodVersions: [MethodChange(className: className, selector: "bar", category: "demo", source: source)],
                                 author: "ann", message: "compile")
        }
        let image = try ImageFile(path: file)
        XCTAssertEqual(try image.methodVersions("Foo>>bar").map(\.method.source), ["bar ^ 2", "bar ^ 1"])
        XCTAssertEqual(try image.methodVersions("Foo >> #bar").map(\.method.source), ["bar ^ 2", "bar ^ 1"])
        XCTAssertEqual(try image.methodVersions("Foo class>>bar").map(\.method.source), ["bar ^ 3"])
        XCTAssertEqual(try image.methodVersions("Foo class>>bar").first?.author, "ann")
        XCTAssertEqual(try image.methodVersions("Foo>>baz"), [])
        for bad in ["Foo bar", "Foo>>", "Foo metaclass>>bar", ">>bar", "Foo>>bar baz"] {
            assertImageError(try image.methodVersions(bad), mentions: "does not name a method")
        }
    }

    // MARK: As-of views

    func testAnAsOfViewSeesThePastAndCommitsNothing() throws {
        let file = try image("asof.lo")
        let past = try commit("Smalltalk at: #Counter put: 41", to: file)
        let head = try commit("Smalltalk at: #Counter put: 42", to: file)

        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file, asOf: past), "41")
        XCTAssertEqual(try print("Smalltalk includesKey: #Counter", in: file, asOf: CommitID(2)), "false")
        let view = try Runtime(image: file, asOf: past)
        XCTAssertTrue(view.isImageReadOnly)
        XCTAssertEqual(try view.evaluateAndPrint("Smalltalk at: #Counter put: 99. 3 + 4"), "7", "evaluations work")
        assertImageError(try view.evaluateAndCommit("Smalltalk at: #Counter put: 100"), mentions: "read-only view")
        assertImageError(try view.commitImage(message: "sneak"), mentions: "read-only view")
        assertImageError(try view.commitImage(toPath: file, message: "sneak"), mentions: "read-only view")
        XCTAssertEqual(try ImageFile(path: file).store.headCommit(), head)
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file), "42")
        XCTAssertFalse(try Runtime(image: file).isImageReadOnly)

        // A view may be saved as a new image, which is not read-only.
        let copy = path("copy.lo")
        try view.commitImage(toPath: copy, message: "the past, saved")
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: copy), "99")
    }

    // MARK: Rollback

    func testRollbackRestoresAnImageBrokenByACommit() throws {
        let file = try image("broken.lo")
        let before = try commit("Smalltalk at: #Counter put: 7", to: file)
        let broken = try commit("Smalltalk removeKey: #Object", to: file)
        XCTAssertThrowsError(try print("Object new", in: file), "the image is broken")

        let rollback = try ImageFile(path: file).rollback(to: before)
        XCTAssertEqual(rollback.id, CommitID(broken.rawValue + 1))
        XCTAssertEqual(rollback.message, "Rollback to #\(before.rawValue)")
        XCTAssertGreaterThan(rollback.objectCount, 0)
        let restored = try Runtime(image: file)
        XCTAssertEqual(try restored.evaluateAndPrint("3 + 4"), "7")
        XCTAssertEqual(try restored.evaluateAndPrint("Object new printString"), "'an Object'")
        XCTAssertEqual(try restored.evaluateAndPrint("Smalltalk at: #Counter"), "7")
        // History is kept: the broken state is still there, and the rollback can itself be undone.
        XCTAssertEqual(try print("Smalltalk includesKey: #Object", in: file, asOf: broken), "false")
        try ImageFile(path: file).rollback(to: broken)
        XCTAssertEqual(try print("Smalltalk includesKey: #Object", in: file), "false")
    }

    func testRollbackToAStateWithoutAnObjectSpaceIsRefused() throws {
        let file = try image("refused.lo")
        let image = try ImageFile(path: file)
        let head = try image.store.headCommit()
        assertImageError(try image.rollback(to: CommitID(1)), mentions: "holds no object space")
        XCTAssertEqual(try image.store.headCommit(), head, "nothing was committed")
    }

    // MARK: Backup

    func testBackupCopiesOneCommitAndReplacesOnlyWhenAsked() throws {
        let file = try image("b.lo")
        let head = try commit("Smalltalk at: #Counter put: 5", to: file)
        let image = try ImageFile(path: file)
        let copy = path("copy.lo")
        XCTAssertEqual(try image.backup(to: copy), head)
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: copy), "5")

        try commit("Smalltalk at: #Counter put: 6", to: file)
        let before = try Data(contentsOf: URL(fileURLWithPath: copy))
        assertImageError(try image.backup(to: copy), mentions: "already exists")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), before, "the existing file is untouched")
        XCTAssertEqual(try image.backup(to: copy, replacing: true), CommitID(head.rawValue + 1))
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: copy), "6")

        assertImageError(try image.backup(to: file, replacing: true), mentions: "the image or one of the files kept beside it")
        // Its commit log, WAL and shared page too, by any name: replacing one breaks the image.
        let link = path("link.lo")
        XCTAssertEqual(symlink(file, link), 0)
        for name in [file + "-log", file + "-wal", file + "-sync", link, directory.path + "/./b.lo-wal"] {
            assertImageError(try image.backup(to: name, replacing: true), mentions: "kept beside it")
        }
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file), "6", "the image still opens")
        assertImageError(try image.backup(to: path("no/such/dir.lo")), mentions: "no such directory")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("partial") }, [],
                       "no partial files are left")
    }

    /// Restoring a backup over an image someone has open would let them go on committing into the
    /// copy: refused until they close it. Then the copy replaces the image and its companions (a
    /// commit log left beside it would be replayed into the copy); a device is never replaced.
    func testBackupReplacesOnlyAnImageNobodyHasOpen() throws {
        let file = try image("source.lo")
        try commit("Smalltalk at: #Counter put: 5", to: file)
        let live = try image("live.lo")
        try commit("Smalltalk at: #Counter put: 99", to: live)
        var session: SQLiteStore? = try SQLiteStore.open(path: live)
        let source = try ImageFile(path: file)
        assertImageError(try source.backup(to: live, replacing: true), mentions: "is open")
        XCTAssertNotNil(session)
        session = nil
        func isOpen(_ path: String) -> Bool {
            guard let descriptor = try? StoreFiles.lockUnused(path) else { return true }
            close(descriptor)
            return false
        }
        let deadline = Date() + 10      // the store closes once its background apply ends
        while isOpen(live) && Date() < deadline { usleep(1000) }
        try Data("not a log".utf8).write(to: URL(fileURLWithPath: live + "-log"))
        XCTAssertNoThrow(try source.backup(to: live, replacing: true))
        XCTAssertFalse(FileManager.default.fileExists(atPath: live + "-log"), "the replaced image's log went with it")
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: live), "5")
        assertImageError(try source.backup(to: "/dev/null", replacing: true), mentions: "not a regular file")

        // What a backup killed halfway left is removed by the next one.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let leftOver = live + ".partial-\(dead.processIdentifier)"
        for name in [leftOver, leftOver + "-wal", leftOver + "-log"] { try Data([1]).write(to: URL(fileURLWithPath: name)) }
        XCTAssertNoThrow(try source.backup(to: live, replacing: true))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("partial") }, [])
    }

    func testBackupIsConsistentWhileAnotherSessionCommits() throws {
        let file = try image("busy.lo")
        let writer = try SQLiteStore.open(path: file)
        let oid = try writer.allocateOIDs(count: 1).lowerBound
        let stop = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let commits = Unchecked(0)      // read after `done`
        Thread {
            var count = 0
            while stop.wait(timeout: .now()) == .timedOut {
                _ = try? writer.commit(base: try writer.headCommit(), writes: [
                    StoredObject(oid: oid, classOID: oid, format: 1, slots: [intOop(count)]),
                ], roots: ["busy": oid], author: "t", message: "busy")
                count += 1
            }
            commits.value = count
            done.signal()
        }.start()
        var copies: [CommitID] = []
        for i in 0..<3 { copies.append(try ImageFile(path: file).backup(to: path("copy\(i).lo"))) }
        stop.signal()
        done.wait()
        XCTAssertGreaterThan(commits.value, 0)
        for (i, commit) in copies.enumerated() {
            let copy = try ImageFile(path: path("copy\(i).lo"))
            XCTAssertEqual(try copy.store.headCommit(), commit)
            XCTAssertEqual(try copy.check().problems, [])
        }
    }

    // MARK: gc and check

    func testGCReclaimsOldVersionsButKeepsCheckpointsAndTheHead() throws {
        let file = try image("gc.lo")
        let kept = try commit("Smalltalk at: #Counter put: 1", to: file)
        try ImageFile(path: file).checkpoint("kept")
        let thinned = try commit("Smalltalk at: #Counter put: 2", to: file)
        try commit("Smalltalk at: #Counter put: 3", to: file)

        let window = try ImageFile(path: file).collectGarbage(keepingDays: 30)
        XCTAssertEqual(window.vacuum.versionsRemoved, 0, "every state is inside the window")
        let reclaimed = try ImageFile(path: file).collectGarbage(keepingDays: 0)
        XCTAssertGreaterThan(reclaimed.vacuum.versionsRemoved, 0)
        XCTAssertLessThanOrEqual(reclaimed.bytesAfter, reclaimed.bytesBefore)

        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file), "3")
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file, asOf: kept), "1")
        assertImageError(try Runtime(image: file, asOf: thinned), mentions: "reclaimed by gc")
        let image = try ImageFile(path: file)
        assertImageError(try image.rollback(to: thinned), mentions: "reclaimed by gc")
        XCTAssertThrowsError(try image.checkpoint("late", at: thinned))
        try image.rollback(to: kept)
        XCTAssertEqual(try print("Smalltalk at: #Counter", in: file), "1")
        XCTAssertEqual(try image.check().problems, [])
    }

    func testCheckIsCleanOnAnImageAndReportsABrokenObjectSpace() throws {
        let file = try image("check.lo")
        let report = try ImageFile(path: file).check()
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.head, CommitID(2))
        XCTAssertGreaterThan(report.objectCount, 20_000)

        // The specials root now names an object that is not an image header, and one refers nowhere.
        let store = try ImageFile(path: file).store
        let oid = try store.allocateOIDs(count: 1).lowerBound
        _ = try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oid, classOID: oid, format: 2,
                         slots: [StoredObject.reference(999_999_999)])], roots: ["specialObjects": oid], author: "t", message: "m")
        let problems = try ImageFile(path: file).check().problems
        XCTAssertTrue(problems.contains { $0.hasPrefix("danglingReference:") && $0.contains("999999999") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix("image:") && $0.contains("not an image version") }, "\(problems)")
    }

    func testFilesThatAreNotImagesAreRefusedAndLeftAlone() throws {
        let missing = path("missing.lo")
        assertImageError(try ImageFile(path: missing), mentions: "no such image")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "nothing was created")

        let random = path("random.lo"), text = path("text.lo"), other = path("other.db")
        _ = FileManager.default.createFile(atPath: random, contents: Data((0..<8192).map { _ in UInt8.random(in: 0...255) }))
        _ = FileManager.default.createFile(atPath: text, contents: Data("Object subclass: #Foo\n".utf8))
        // An SQLite database of another application: a store whose application id is changed.
        _ = try SQLiteStore.open(path: other, create: true)
        var database = try Data(contentsOf: URL(fileURLWithPath: other))
        database.replaceSubrange(68..<72, with: [0x12, 0x34, 0x56, 0x78])
        try database.write(to: URL(fileURLWithPath: other))
        for (file, problem) in [(random, "not an SQLite database"), (text, "not an SQLite database"), (other, "another application")] {
            let before = try Data(contentsOf: URL(fileURLWithPath: file))
            assertImageError(try ImageFile(path: file), mentions: problem)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before)
        }
    }

    // MARK: The lo commands

    private func loExecutable() throws -> URL { try LoProcess.executable() }

    private func lo(_ arguments: String...) throws -> (status: Int32, out: String, err: String) { try lo(arguments) }

    private func lo(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let result = try LoProcess.run(arguments, in: directory)
        return (result.status, result.out.trimmingCharacters(in: .newlines), result.err)
    }

    func testLoRollsBackAnImageBrokenByRemovingObject() throws {
        _ = try loExecutable()
        let file = try image("cli.lo")
        let before = try ImageFile(path: file).store.headCommit()
        XCTAssertEqual(try lo("eval", "--image", file, "Smalltalk removeKey: #Object").status, 0)
        XCTAssertEqual(try lo("eval", "--image", file, "Object new").status, 1, "the image is broken")

        let rollback = try lo("rollback", "--image", file, String(before.rawValue))
        XCTAssertEqual(rollback.status, 0, rollback.err)
        XCTAssertEqual(rollback.out, String(try ImageFile(path: file).store.headCommit().rawValue))
        XCTAssertEqual(try lo("--image", file, "eval", "3 + 4").out, "7")
        XCTAssertEqual(try lo("--image", file, "eval", "Object new").out, "an Object")

        // Evaluations that change nothing make no commit: the rollback is among the newest few.
        let history = try lo("history", "--image", file, "--limit", "3")
        XCTAssertEqual(history.status, 0)
        let lines = history.out.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix(rollback.out + "  ") && $0.hasSuffix("Rollback to #\(before.rawValue)") }, history.out)
        XCTAssertEqual(try lo("check", "--image", file).status, 0)
        let view = try lo("eval", "--image", file, "--as-of", String(before.rawValue), "Smalltalk at: #Gone put: 1")
        XCTAssertEqual(view.out, "1")
        XCTAssertTrue(view.err.contains("read-only: the changes were not committed"), view.err)
        XCTAssertEqual(try lo("eval", "--image", file, "--as-of", String(before.rawValue), "3 + 4").err, "", "no change, no note")
        XCTAssertEqual(try lo("eval", "--image", file, "Smalltalk includesKey: #Gone").out, "false")
    }

    /// An author is the user's name as the environment gives it: a line break in it must not make a
    /// line of `lo history` of its own (one that could pass for a commit).
    func testNoAuthorOrMessageMakesALineOfHistoryOfItsOwn() throws {
        _ = try loExecutable()
        let file = try image("authors.lo")
        let forged = "mallory\n99  2020-01-01T00:00:00Z  admin  1 objects  forged"
        let eval = try LoProcess.run(["eval", "--image", file, "Smalltalk at: #Forged put: 1. System commit: 'two', (String with: Character cr), 'lines'"],
                                     in: directory, environment: ["USER": forged])
        XCTAssertEqual(eval.status, 0, eval.err)
        let history = try lo("history", "--image", file, "--limit", "2")
        XCTAssertEqual(history.status, 0, history.err)
        let lines = history.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, history.out)
        XCTAssertFalse(lines.contains { $0.hasPrefix("99 ") }, history.out)
        XCTAssertTrue(lines[0].contains("mallory 99") && lines[0].hasSuffix("two lines"), history.out)
    }

    func testLoCommandsRefuseMissingAndForeignFilesWithoutTouchingThem() throws {
        _ = try loExecutable()
        let missing = path("missing.lo"), text = path("text.lo")
        _ = FileManager.default.createFile(atPath: text, contents: Data("not an image\n".utf8))
        for command in [["history"], ["rollback", "2"], ["checkpoint", "x"], ["backup", path("out.lo")], ["gc"], ["check"]] {
            for file in [missing, text] {
                let result = try lo(command + ["--image", file])
                XCTAssertEqual(result.status, 1, "\(command) \(file)")
                XCTAssertTrue(result.err.hasPrefix("error: "), result.err)
                XCTAssertTrue(result.err.contains(file == missing ? "no such image" : "not a Living Objects store"), result.err)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.lo")))
        XCTAssertEqual(try String(contentsOfFile: text, encoding: .utf8), "not an image\n")

        let file = try image("exists.lo")
        let copy = path("copy.lo")
        XCTAssertEqual(try lo("backup", "--image", file, copy).status, 0)
        let refused = try lo("backup", "--image", file, copy)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("--force"), refused.err)
        XCTAssertEqual(try lo("backup", "--image", file, copy, "--force").status, 0)
        // Opening the image makes the files kept beside it: a backup to one of those names is refused
        // as such, not as a file that exists (it did not, and --force was no way out).
        for companion in [file + "-log", file + "-wal"] {
            let wrong = try lo("backup", "--image", file, companion)
            XCTAssertEqual(wrong.status, 1)
            XCTAssertTrue(wrong.err.contains("is the image or one of the files kept beside it"), wrong.err)
        }
    }
}
