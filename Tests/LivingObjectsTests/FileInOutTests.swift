import Foundation
import XCTest
@testable import LivingObjects
import SourceFormats

final class FileInOutTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lo-fileio-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func write(_ name: String, _ text: String) -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    static let chunkSource = """
        Object subclass: #Counter instanceVariableNames: 'count' classVariableNames: 'Made' package: 'Demo-Core'!
        Counter comment: 'I count; it''s my job.'!
        !Counter methodsFor: 'counting'!
        increment
            count := (count ifNil: [0]) + 1.
            ^ count
        !
        count
            ^ count ifNil: [0]
        ! !
        !Counter class methodsFor: 'instance creation'!
        startingAt: n
            ^ self new setCount: n
        ! !
        !Counter methodsFor: 'private'!
        setCount: n
            count := n
        ! !
        !Integer methodsFor: '*Demo-Core'!
        asCounter
            ^ Counter startingAt: self
        ! !
        """

    func testChunkFileInThenTonelAndChunkFileOutRoundTrip() throws {
        let c = try CapturingRuntime()
        let report = c.rt.fileIn(path: write("counter.st", Self.chunkSource))
        XCTAssertTrue(report.diagnostics.isEmpty, "\(report.diagnostics)")
        XCTAssertFalse(report.failed)
        XCTAssertEqual(try c.print("| k | k := 41 asCounter. k increment"), "42")
        XCTAssertEqual(try c.print("Counter comment"), "'I count; it''s my job.'")

        _ = try c.rt.evaluate("Smalltalk fileOutPackage: 'Demo' format: #tonel to: '\(dir!)'")
        _ = try c.rt.evaluate("Smalltalk fileOutPackage: 'Demo' format: #chunk to: '\(dir!)/demo.st'")
        let package = try TonelReader.readPackage(directory: dir + "/Demo")
        XCTAssertEqual(package.classes.map(\.name), ["Counter"])
        XCTAssertEqual(package.classes.first?.classVariables, ["Made"])
        XCTAssertEqual(Set(package.methods.map { $0.selector ?? "" }), ["increment", "count", "startingAt:", "setCount:", "asCounter"])

        for path in [dir + "/Demo", dir + "/demo.st"] {
            let fresh = try CapturingRuntime()
            let r = fresh.rt.fileIn(path: path)
            XCTAssertTrue(r.diagnostics.isEmpty && !r.failed, "\(path): \(r.diagnostics)")
            XCTAssertEqual(try fresh.print("(5 asCounter) increment; increment; count"), "7", path)
            XCTAssertEqual(try fresh.print("(Counter >> #count) sourceCode lines first"), "'count'")
        }
    }

    func testAFileInReportsEveryBadMethodAndLoadsTheRest() throws {
        let c = try CapturingRuntime()
        let source = """
            Object subclass: #Broken instanceVariableNames: '' classVariableNames: '' package: 'Demo'!
            !Broken methodsFor: 'x'!
            good
                ^ 1
            !
            bad
                ^ 1 +
            !
            alsoGood
                ^ 2
            !
            worse
                ^ undefinedThing
            ! !
            """
        let report = c.rt.fileIn(path: write("broken.st", source))
        XCTAssertEqual(report.diagnostics.count, 2, "\(report.diagnostics)")
        XCTAssertTrue(report.diagnostics[0].location.hasSuffix("broken.st:7:10"), report.diagnostics[0].description)
        XCTAssertTrue(report.diagnostics[1].message.contains("undeclared variable 'undefinedThing'"), report.diagnostics[1].description)
        XCTAssertTrue(report.failed, "a method that did not compile fails the load")
        XCTAssertEqual(report.methodsNotCompiled.map { "\($0.method.className)>>\($0.method.selector ?? "?")" }, ["Broken>>bad", "Broken>>worse"])
        XCTAssertEqual(report.methodsNotCompiled.map(\.diagnostic.description), report.diagnostics.map(\.description))
        XCTAssertEqual(try c.print("Broken new good + Broken new alsoGood"), "3")
    }

    func testATonelPackageWithMethodsThatDoNotCompileFails() throws {
        let c = try CapturingRuntime()
        let package = dir + "/Demo"
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        _ = write("Demo/package.st", "Package { #name : #Demo }\n")
        _ = write("Demo/Gauge.class.st", """
            Class {
            \t#name : #Gauge,
            \t#superclass : #Object,
            \t#category : #Demo
            }

            { #category : #accessing }
            Gauge >> level [
            \t^ 3
            ]

            { #category : #accessing }
            Gauge class >> broken [
            \t^ self new level: 
            ]
            """)
        let report = c.rt.fileIn(path: package)
        XCTAssertTrue(report.failed)
        XCTAssertEqual(report.methodsNotCompiled.count, 1, "\(report.diagnostics)")
        XCTAssertEqual(report.methodsNotCompiled.first?.method.isClassSide, true)
        XCTAssertEqual(report.diagnostics.map(\.description), [package + "/Gauge.class.st:14:19: missing argument after keyword 'level:'"])
        XCTAssertEqual(try c.print("Gauge new level"), "3", "the rest of the package loaded")
        XCTAssertFalse(c.rt.fileIn(path: write("fine.st", "Gauge new level")).failed)
    }

    /// A one-line method's source is its pattern and body joined: errors on it still point into the file.
    func testErrorsInOneLineTonelMethodsHaveTheFilesColumns() throws {
        let c = try CapturingRuntime()
        let file = write("Meter.class.st", """
            Class { #name : #Meter, #superclass : #Object, #category : #Demo }

            { #category : #accessing }
            Meter >> reading [ ^ nowhere ]

            { #category : #accessing }
            Meter class >>   at: place [   ^ place + ]

            { #category : #accessing }
            Meter >> fine [ ^ 'é' , 'x' ]
            """)
        let report = c.rt.fileIn(path: file)
        XCTAssertEqual(report.diagnostics.map(\.description), [
            file + ":4:22: undeclared variable 'nowhere'",
            file + ":7:41: missing argument after binary selector '+'",
        ])
        XCTAssertEqual(try c.print("Meter new fine"), "'éx'")
    }

    func testScriptsSeeTheirArgumentsAndUnhandledErrorsFailTheRun() throws {
        let c = try CapturingRuntime()
        c.rt.vm.arguments = ["alpha", "beta"]
        let ok = c.rt.fileIn(path: write("args.st", "Transcript show: (Smalltalk arguments inject: '' into: [:a :b | a, b]); cr.\nTranscript flush"))
        XCTAssertFalse(ok.failed)
        XCTAssertTrue(c.out.contains("alphabeta"), c.out)
        let bad = c.rt.fileIn(path: write("bad.st", "| x |\nx := 3.\nx foo"))
        XCTAssertTrue(bad.failed)
        XCTAssertTrue(c.err.contains("SmallInteger(Object)>>doesNotUnderstand:"), c.err)
        XCTAssertTrue(c.rt.fileIn(path: dir + "/missing.st").failed)
    }

    func testTonelFileInDefinesAndRedefinesClassesKeepingInstances() throws {
        let c = try CapturingRuntime()
        let v1 = """
            Class {
            \t#name : #Shape,
            \t#superclass : #Object,
            \t#instVars : [ 'width' ],
            \t#category : #'Demo'
            }

            { #category : #accessing }
            Shape >> width: w [
            \twidth := w
            ]

            { #category : #accessing }
            Shape >> width [
            \t^ width
            ]
            """
        XCTAssertTrue(c.rt.fileIn(path: write("Shape.class.st", v1)).diagnostics.isEmpty)
        _ = try c.rt.evaluate("Smalltalk at: #TheShape put: (Shape new width: 3)")
        let v2 = v1.replacingOccurrences(of: "[ 'width' ]", with: "[ 'height', 'width' ]")
            + "\n\n{ #category : #accessing }\nShape >> area [\n\t^ width * (height ifNil: [2])\n]\n"
        let r = c.rt.fileIn(path: write("Shape.class.st", v2))
        XCTAssertTrue(r.diagnostics.isEmpty, "\(r.diagnostics)")
        XCTAssertEqual(try c.print("TheShape area"), "6", "the old instance was migrated and kept its width")
    }
}
