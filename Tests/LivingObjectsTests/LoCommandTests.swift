// The `lo` command and the image: eval, run and repl commit what succeeded (unless --no-commit),
// in ./living.image by default; test never makes or commits to an image.

import Foundation
import Store
import XCTest

final class LoCommandTests: TemporaryDirectoryTestCase {
    override class func tearDown() {
        AccountImage.master.remove()
        super.tearDown()
    }

    /// Runs `lo` in the test's directory with the repository's kernel and no LO_IMAGE.
    @discardableResult
    private func lo(_ arguments: [String], input: String = "", exitCode: Int32 = 0,
                    file: StaticString = #filePath, line: UInt = #line) throws -> (out: String, err: String) {
        let result = try LoProcess.run(arguments, in: directory, input: input)
        XCTAssertEqual(result.status, exitCode, "lo \(arguments): \(result.err)", file: file, line: line)
        return (result.out, result.err)
    }

    private func script(_ name: String, _ source: String) throws -> String {
        try source.write(toFile: path(name), atomically: true, encoding: .utf8)
        return name
    }

    private func anImage() throws -> String {
        try AccountImage.master.copy(to: path("my.lo"))
        return path("my.lo")
    }

    /// Numbers at the edge of their type are refused with a message, not a trap.
    func testHugeNumericArgumentsGetAClearError() throws {
        let image = path("edge.image")
        try lo(["--image", image, "eval", "1"])
        let huge = String(Int64.max)
        for (arguments, status, message) in [
            (["eval", "--as-of", huge, "1"], Int32(1), "has no commit \(huge)"),
            (["rollback", huge], 1, "has no commit \(huge)"),
            (["checkpoint", "x", "--commit", huge], 1, "has no commit \(huge)"),
            (["gc", "--keep-days", huge], 64, "--keep-days is at most"),
            (["eval", "--heap-limit", "100000000", "1"], 64, "--heap-limit is at most"),
        ] {
            let result = try lo(["--image", image] + arguments, exitCode: status)
            XCTAssertTrue(result.err.contains(message), "\(arguments): \(result.err)")
        }
        XCTAssertEqual(try lo(["--image", image, "check"]).out.prefix(3), "ok:")
    }

    func testEvalRunAndReplUseLivingImageInTheCurrentDirectory() throws {
        let made = try lo(["eval", "Smalltalk at: #Made put: 1"])
        XCTAssertTrue(made.err.contains("creating image living.image from kernel"), made.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("living.image")))
        XCTAssertEqual(try lo(["run", script("a.st", "Smalltalk at: #Made put: Made + 1")]).err, "")
        XCTAssertEqual(try lo(["repl"], input: "Made := Made + 1\n").out, "3\n")
        XCTAssertEqual(try lo(["eval", "Made"]).out, "3\n")
    }

    /// The `lo` that makes the image waits, before it exits, for the apply of the kernel's big commit:
    /// the image's file then holds every commit, and a copy of that file alone opens.
    func testTheFirstCommandLeavesTheWholeImageInItsFile() throws {
        _ = try lo(["eval", "Smalltalk at: #Made put: 41"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("living.image-log")), "the commit log is applied and removed")
        let copy = path("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: path("living.image"), toPath: copy + "/living.image")
        XCTAssertEqual(try LoProcess.run(["eval", "Made + 1"], in: URL(fileURLWithPath: copy)).out, "42\n")
    }

    /// `LO_STACK_KB` sets each process's stack, and with it how deep a recursion goes before StackOverflow.
    func testStackSizeFromTheEnvironment() throws {
        let probe = "Smalltalk at: #D put: 0. Object compile: 'probeDepth D := D + 1. self probeDepth'. [nil probeDepth] on: StackOverflow do: [:e | e return: D]"
        func depth(_ environment: [String: String]) throws -> Int {
            let result = try LoProcess.run(["eval", "--no-commit", probe], in: directory, environment: environment)
            XCTAssertEqual(result.status, 0, result.err)
            return try XCTUnwrap(Int(result.out.trimmingCharacters(in: .whitespacesAndNewlines)), result.out)
        }
        let small = try depth(["LO_STACK_KB": "64"]), normal = try depth([:])
        XCTAssertGreaterThan(small, 100)
        XCTAssertLessThan(small * 50, normal, "64 KB against the default 8 MB")
    }

    func testTestRunsOnAFreshKernelAndMakesNoImage() throws {
        XCTAssertTrue(try lo(["test", "SystemTest"]).out.contains("0 failed"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testRunCommitsUnlessItFailsOrIsToldNotTo() throws {
        let image = try anImage()
        try lo(["--image", image, "run", script("ok.st", "Smalltalk at: #FromRun put: 7")])
        try lo(["--image", image, "run", "--no-commit", script("skip.st", "Smalltalk at: #Skipped put: 1")])
        try lo(["--image", image, "run", script("bad.st", "Smalltalk at: #Failed put: 1. nil foo")], exitCode: 1)
        try lo(["--image", image, "run", script("quit.st", "Smalltalk at: #Quit put: 1. Smalltalk quit: 3")], exitCode: 3)
        XCTAssertEqual(try lo(["--image", image, "eval", "{ FromRun } , (#(#Skipped #Failed #Quit) collect: [:k | Smalltalk includesKey: k])"]).out,
                       "#(7 false false false)\n")
    }

    func testRunReportsEveryMethodThatDoesNotCompileAndCommitsNothing() throws {
        let image = try anImage()
        let head = try SQLiteStore.open(path: image).headCommit()
        let library = try script("library.st", """
            Smalltalk at: #Loaded put: 1!
            Object subclass: #Gadget instanceVariableNames: 'size' classVariableNames: '' package: 'Demo'!
            !Gadget methodsFor: 'x'!
            size
                ^ size ifNil: [0]
            !
            grow
                size := size +
            !
            shrink
                ^ missing - 1
            ! !
            """)
        let main = try script("main.st", "Smalltalk at: #MainRan put: true")
        let run = try lo(["--image", image, "run", library, main], exitCode: 1)
        XCTAssertEqual(run.err.split(separator: "\n"), [
            "library.st:8:19: missing argument after binary selector '+'",
            "library.st:11:7: undeclared variable 'missing'",
            "error: 2 methods of library.st did not compile",
            "nothing was committed to \(image)",
        ])
        XCTAssertEqual(try SQLiteStore.open(path: image).headCommit(), head, "nothing was committed")
        XCTAssertEqual(try lo(["--image", image, "eval", "#(#Loaded #Gadget #MainRan) collect: [:k | Smalltalk includesKey: k]"]).out,
                       "#(false false false)\n")

        // A script that committed before the failure keeps that commit, and is not told otherwise.
        let committing = try script("committing.st", "Smalltalk at: #Early put: 1. System commit. Smalltalk at: #Late put: 2. 1 / 0")
        let partly = try lo(["--image", image, "run", committing], exitCode: 1)
        XCTAssertTrue(partly.err.hasSuffix("what changed after the last commit the files made was not committed to \(image)\n"), partly.err)
        XCTAssertEqual(try lo(["--image", image, "eval", "#(#Early #Late) collect: [:k | Smalltalk includesKey: k]"]).out,
                       "#(true false)\n")

        // A Tonel package fails the same way; `Smalltalk quit: 0` after the failure does not hide it.
        let package = path("Demo")
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        try "Package { #name : #Demo }\n".write(toFile: package + "/package.st", atomically: true, encoding: .utf8)
        try "Class { #name : #Widget, #superclass : #Object, #category : #Demo }\n\n{ #category : #x }\nWidget >> bad [\n\t^ nowhere\n]\n"
            .write(toFile: package + "/Widget.class.st", atomically: true, encoding: .utf8)
        let quit = try script("quit.st", "Smalltalk quit: 0")
        let tonel = try lo(["--image", image, "run", "--no-commit", "Demo", quit], exitCode: 1)
        XCTAssertEqual(tonel.err.split(separator: "\n"), [
            "Demo/Widget.class.st:5:4: undeclared variable 'nowhere'",
            "error: 1 method of Demo did not compile",
        ])
        try lo(["--image", image, "run", try script("fine.st", "Smalltalk at: #Fine put: 1"), quit])
        XCTAssertNotEqual(try SQLiteStore.open(path: image).headCommit(), head, "a run without errors commits")
    }

    func testBenchRefusesASuiteWithMethodsThatDoNotCompile() throws {
        let suite = path("Suite")
        try FileManager.default.createDirectory(atPath: suite, withIntermediateDirectories: true)
        try "Package { #name : #Suite }\n".write(toFile: suite + "/package.st", atomically: true, encoding: .utf8)
        let awfy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("bench/AWFY")
        try FileManager.default.copyItem(atPath: awfy.appendingPathComponent("Benchmark.class.st").path, toPath: suite + "/Benchmark.class.st")
        let tiny = """
            Class { #name : #Tiny, #superclass : #Benchmark, #category : #Suite }

            { #category : #running }
            Tiny >> benchmark [
            \t^ 3
            ]

            { #category : #running }
            Tiny >> verifyResult: result [
            \t^ result = 3
            ]

            { #category : #running }
            Tiny >> helper [
            \t^ 3 +
            ]
            """
        try tiny.write(toFile: suite + "/Tiny.class.st", atomically: true, encoding: .utf8)
        let bench = try lo(["bench", "--suite", suite, "--verify"], exitCode: 1)
        XCTAssertTrue(bench.err.contains("Tiny.class.st:15:7: missing argument after binary selector '+'"), bench.err)
        XCTAssertEqual(bench.out, "", "no benchmark ran")
        try tiny.replacingOccurrences(of: "3 +", with: "3 + 4").write(toFile: suite + "/Tiny.class.st", atomically: true, encoding: .utf8)
        XCTAssertTrue(try lo(["bench", "--suite", suite, "--verify"]).out.hasSuffix("1 passed, 0 failed\n"))
    }

    func testOpenAsOfACheckpointShowsThatStateReadOnly() throws {
        let image = try anImage()
        try lo(["--image", image, "eval", "Smalltalk at: #Version put: 1"])
        try lo(["--image", image, "checkpoint", "first"])
        try lo(["--image", image, "eval", "Version := 2"])
        XCTAssertEqual(try lo(["--image", image, "open", "--as-of", "first"], input: "Version\nVersion := 3\n").out, "1\n3\n")
        XCTAssertEqual(try lo(["--image", image, "open"], input: "Version\n").out, "2\n")
    }

    func testReplCommitsEachSuccessfulEvaluationUnlessToldNotTo() throws {
        let image = try anImage()
        let session = try lo(["--image", image, "repl"], input: "Counter := 10\n1/0\nTheAccount deposit: Counter; balance\n")
        XCTAssertEqual(session.out, "10\n10\n")
        try lo(["--image", image, "repl", "--no-commit"], input: "Counter := 20\n")
        try lo(["--image", image, "eval", "--no-commit", "Counter := 30"])
        XCTAssertEqual(try lo(["--image", image, "eval", "{ Counter. TheAccount balance }"]).out, "#(10 10)\n")
    }

    func testReplUndoesWhatAFailedInputChanged() throws {
        let image = try anImage()
        let session = try lo(["--image", image, "repl"],
                             input: "Counter := 10\nCounter := Counter - 3. 1/0. TheAccount deposit: 3\n1\n{ Counter. TheAccount balance }\n")
        XCTAssertEqual(session.out, "10\n1\n#(10 0)\n", "the failed input's first statement is undone at once")
        XCTAssertTrue(session.err.contains("was undone"), session.err)
        XCTAssertEqual(try lo(["--image", image, "eval", "{ Counter. TheAccount balance }"]).out, "#(10 0)\n")
    }

    func testTestDoesNotCommitToAnImage() throws {
        let image = try anImage()
        let head = try SQLiteStore.open(path: image).headCommit()
        XCTAssertTrue(try lo(["--image", image, "test", "SystemDictionaryTest", "SystemTest"]).out.contains("0 failed"))
        XCTAssertEqual(try SQLiteStore.open(path: image).headCommit(), head)
    }

    /// Output that cannot be flushed is a failure: eval, run and repl report it, exit non-zero (or, in
    /// the REPL, print nothing) and commit nothing.
    func testATranscriptThatCannotBeFlushedFailsTheCommandAndCommitsNothing() throws {
        let image = try anImage()
        let head = try SQLiteStore.open(path: image).headCommit()
        let breakIt = "Smalltalk at: #Broken put: true. Smalltalk at: #Transcript put: 3"
        let eval = try lo(["--image", image, "eval", breakIt + ". 4"], exitCode: 1)
        XCTAssertEqual(eval.out, "")
        XCTAssertTrue(eval.err.contains("MessageNotUnderstood: SmallInteger>>#flush"), eval.err)
        XCTAssertTrue(eval.err.contains("error: the Transcript could not be flushed; nothing was committed"), eval.err)
        try lo(["--image", image, "eval", "--no-commit", breakIt], exitCode: 1)
        let run = try lo(["--image", image, "run", script("break.st", breakIt)], exitCode: 1)
        XCTAssertTrue(run.err.contains("nothing was committed"), run.err)
        XCTAssertEqual(try lo(["--image", image, "repl"], input: breakIt + "\n").out, "")
        XCTAssertEqual(try SQLiteStore.open(path: image).headCommit(), head)
        XCTAssertEqual(try lo(["--image", image, "eval", "--no-commit", "{ Transcript class. Smalltalk includesKey: #Broken }"]).out,
                       "an Array(TranscriptStream false)\n")
    }
}
