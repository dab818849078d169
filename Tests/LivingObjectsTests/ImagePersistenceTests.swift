// Saving the object space to a store and opening it again instead of bootstrapping.

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class ImagePersistenceTests: TemporaryDirectoryTestCase {
    private func opened(_ path: String) throws -> CapturingImage { try CapturingImage(path: path) }

    /// A bootstrapped runtime with a class, an instance and an IdentityDictionary, committed to `path`.
    private func savedImage(at path: String) throws -> (hashes: String, runtime: Runtime) {
        let c = try CapturingRuntime()
        _ = try c.rt.evaluate("""
            Object subclass: #Vector3 instanceVariableNames: 'x y z' classVariableNames: 'Made' package: 'Image-Test'
            """)
        try c.rt.compile("x: ax y: ay z: az x := ax. y := ay. z := az", inClass: "Vector3")
        try c.rt.compile("sum ^ x + y + z", inClass: "Vector3")
        _ = try c.rt.evaluate("""
            | v d |
            v := Vector3 new x: 1 y: 2 z: 39.
            d := IdentityDictionary new.
            d at: v put: 'the vector'; at: #key put: 7; at: Vector3 put: 'the class'.
            Smalltalk at: #SavedVector put: v; at: #SavedDictionary put: d
            """)
        let hashes = try c.print("{ SavedVector identityHash. SavedDictionary identityHash. Vector3 identityHash. nil identityHash }")
        try c.rt.commitImage(toPath: path, message: "test image")
        return (hashes, c.rt)
    }

    func testAnOpenedImageWorksLikeTheSavedOne() throws {
        let file = path("a.lo")
        let (hashes, _) = try savedImage(at: file)
        let image = try opened(file)
        XCTAssertEqual(try image.print("3 + 4"), "7")
        XCTAssertEqual(try image.print("SavedVector sum"), "42")
        XCTAssertEqual(try image.print("(Vector3 new x: 1 y: 1 z: 1) sum"), "3")
        XCTAssertEqual(try image.print("{ SavedVector identityHash. SavedDictionary identityHash. Vector3 identityHash. nil identityHash }"),
                       hashes)
        XCTAssertEqual(try image.print("{ SavedDictionary at: SavedVector. SavedDictionary at: #key. SavedDictionary at: Vector3 }"),
                       "#('the vector' 7 'the class')")
        XCTAssertEqual(try image.print("#foo == 'foo' asSymbol"), "true")
        XCTAssertEqual(try image.print("#madeAfterOpening == ('madeAfter', 'Opening') asSymbol"), "true")
        // A method compiled after opening is found (caches from the saved image were invalidated).
        try image.rt.compile("sum ^ 0", inClass: "Vector3")
        XCTAssertEqual(try image.print("SavedVector sum"), "0")
        XCTAssertEqual(try image.print("Vector3 category"), "#'Image-Test'")
        XCTAssertTrue(image.rt.bootstrapDiagnostics.isEmpty)
    }

    func testTheKernelSuitePassesOnAnOpenedImage() throws {
        let file = path("suite.lo")
        _ = try savedImage(at: file)
        let image = try opened(file)
        XCTAssertEqual(try image.print("TestRunner runAll"), "0", image.out)
        XCTAssertTrue(image.out.contains("passed, 0 failed"), image.out)
    }

    func testACommittedEvaluationPersistsAcrossRuntimes() throws {
        let file = path("counter.lo")
        _ = try savedImage(at: file)
        let first = try opened(file)
        XCTAssertEqual(try first.rt.evaluateAndCommit("Smalltalk at: #Counter put: 41"), "41")
        let second = try opened(file)
        XCTAssertEqual(try second.rt.evaluateAndCommit("Smalltalk at: #Counter put: (Smalltalk at: #Counter) + 1"), "42")
        let third = try opened(file)
        XCTAssertEqual(try third.print("Smalltalk at: #Counter"), "42")
        XCTAssertEqual(try third.print("SavedVector sum"), "42")
    }

    func testACommitWritesOnlyChangedAndNewObjects() throws {
        let file = path("small.lo")
        _ = try savedImage(at: file)
        let store = try SQLiteStore.open(path: file)
        let total = try store.changedOIDs(commit: try store.headCommit()).count
        let image = try opened(file)
        _ = try image.rt.evaluateAndCommit("Smalltalk at: #Small put: 'a new string'")
        let changed = try store.changedOIDs(commit: try image.rt.imageStore!.headCommit()).count
        XCTAssertGreaterThan(total, 20_000)
        XCTAssertLessThan(changed, total / 20, "\(changed) of \(total) objects written again")
        let head = try store.headCommit()
        XCTAssertEqual(try image.rt.commitImage(message: "nothing changed"), head, "nothing changed: no commit")
        XCTAssertEqual(try store.headCommit(), head)
        XCTAssertEqual(try opened(file).print("Smalltalk at: #Small"), "'a new string'")
    }

    func testAFirstEvaluationOnANewImageChangesNothing() throws {
        let file = path("new.lo")
        let kernel = try CapturingRuntime()
        try kernel.rt.commitImage(toPath: file, message: "created")
        let store = try SQLiteStore.open(path: file)
        let created = try store.headCommit()
        XCTAssertEqual(try kernel.rt.evaluateAndCommit("3 + 4"), "7")
        XCTAssertEqual(try store.headCommit(), created, "the do-it's selector is in the new image already")
        XCTAssertEqual(try opened(file).rt.evaluateAndCommit("3 + 4"), "7")
        XCTAssertEqual(try store.headCommit(), created, "nor does the first session of the image write anything")
    }

    func testAFailedEvaluationCommitsNothing() throws {
        let file = path("failed.lo")
        _ = try savedImage(at: file)
        let image = try opened(file)
        XCTAssertEqual(try image.rt.evaluateAndCommit("Smalltalk at: #Flag put: 1"), "1")
        let head = try XCTUnwrap(image.rt.imageStore).headCommit()
        XCTAssertThrowsError(try image.rt.evaluateAndCommit("Smalltalk at: #Flag put: 2. 1 / 0"))
        XCTAssertEqual(try image.print("Smalltalk at: #Flag"), "2", "the failed evaluation did change the object space")
        XCTAssertEqual(try image.rt.imageStore!.headCommit(), head)
        XCTAssertEqual(try opened(file).print("Smalltalk at: #Flag"), "1")
    }

    func testFilesThatAreNotImagesGiveClearErrors() throws {
        func assertImageError(_ file: String, mentions text: String, line: UInt = #line) {
            XCTAssertThrowsError(try Runtime(image: file), line: line) { error in
                guard case RuntimeError.image(let message) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertTrue(message.contains(text), message, line: line)
            }
        }
        assertImageError(path("absent.lo"), mentions: "no such image")

        let random = path("random.lo")
        FileManager.default.createFile(atPath: random, contents: Data((0..<8192).map { _ in UInt8.random(in: 0...255) }))
        assertImageError(random, mentions: "cannot open image")

        let text = path("text.lo")
        FileManager.default.createFile(atPath: text, contents: Data("Object subclass: #Foo\n".utf8))
        assertImageError(text, mentions: "cannot open image")

        // A store with no object space in it.
        let empty = path("empty.lo")
        _ = try SQLiteStore.open(path: empty, create: true)
        assertImageError(empty, mentions: "no specialObjects root")

        // A store whose root record is not an image header, and one that refers to a missing object.
        let foreign = path("foreign.lo")
        let store = try SQLiteStore.open(path: foreign, create: true)
        let oids = try store.allocateOIDs(count: 2)
        try store.commit(base: try store.headCommit(), writes: [StoredObject(oid: oids.lowerBound, classOID: oids.lowerBound,
                         format: 2, slots: [intOop(99)])], roots: ["specialObjects": oids.lowerBound], author: "t", message: "m")
        assertImageError(foreign, mentions: "not an image version")
        let header: [UInt64] = [intOop(1), StoredObject.reference(oids.upperBound - 1), StoredObject.reference(oids.upperBound - 1),
                                intOop(0), intOop(0)]
        try store.commit(base: try store.headCommit(), writes: [
            StoredObject(oid: oids.lowerBound, classOID: oids.lowerBound, format: 2, slots: header),
            StoredObject(oid: oids.upperBound - 1, classOID: oids.lowerBound, format: 2, slots: [StoredObject.reference(123_456)]),
        ], author: "t", message: "m")
        assertImageError(foreign, mentions: "missing")
    }
}

/// An opened image whose standard output and error are captured.
final class CapturingImage {
    let rt: Runtime
    var out = ""
    var err = ""

    init(path: String, configuration: VMConfiguration = VMConfiguration()) throws {
        rt = try Runtime(image: path, configuration: configuration)
        rt.vm.writeOut = { [unowned self] in self.out += $0 }
        rt.vm.writeErr = { [unowned self] in self.err += $0 }
    }

    func print(_ source: String) throws -> String { try rt.evaluateAndPrint(source) }
}
