// Blobs in an image: files of several MB imported from Smalltalk, committed, read back by range, by
// stream and into files after the image is reopened; aborts, gc, errors, and a Blob larger than the
// heap. Each test works on its own copy of one image (DurabilityImage).

import Foundation
import Store
import VMCore
import XCTest
@testable import LivingObjects

final class BlobTests: MasterImageTestCase {
    override class var master: MasterImage? { DurabilityImage.master }

    /// Bytes no two places of which look alike for long (a read from the wrong offset shows).
    private func pattern(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    private func file(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path(name)
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
        return file
    }

    private func contents(_ file: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: file) ?? Data()) }

    /// A ByteArray as Smalltalk prints it.
    private func printed(_ bytes: some Collection<UInt8>) -> String { "#[" + bytes.map(String.init).joined(separator: " ") + "]" }

    private func opened(configuration: VMConfiguration = VMConfiguration()) throws -> Runtime {
        try Runtime(image: image, configuration: configuration)
    }

    // MARK: Import, commit, reopen, read

    func testAFileImportedAndCommittedReadsBackByRangeStreamAndFileAfterReopening() throws {
        let bytes = pattern(5 * 1024 * 1024 + 12_345)
        let source = file("data.bin", bytes)
        let first = try opened()
        XCTAssertEqual(try first.evaluateAndPrint("Smalltalk at: #Data put: (Blob fromFile: '\(source)'). System commit. Data"),
                       "a Blob (\(bytes.count) bytes)")
        try FileManager.default.removeItem(atPath: source)    // the image holds the bytes now

        let rt = try opened()
        XCTAssertEqual(try rt.evaluateAndPrint("Data size"), "\(bytes.count)")
        let chunk = 262_144
        for (start, stop) in [(1, 10), (chunk - 5, chunk + 5), (3 * chunk + 1, 3 * chunk + 1), (bytes.count - 7, bytes.count)] {
            XCTAssertEqual(try rt.evaluateAndPrint("Data copyFrom: \(start) to: \(stop)"), printed(bytes[start - 1..<stop]),
                           "bytes \(start) to \(stop)")
        }
        XCTAssertEqual(try rt.evaluateAndPrint("{ Data at: \(chunk + 1). Data copyFrom: 8 to: 7 }"), "#(\(bytes[chunk]) #[])")

        // A stream read in pieces that straddle the chunks, written to a file piece by piece.
        let streamed = path("streamed.bin")
        XCTAssertEqual(try rt.evaluateAndPrint("""
            | stream out reads |
            out := '\(streamed)' asFileReference.
            out contents: #[].
            stream := Data readStream.
            reads := 0.
            [stream atEnd] whileFalse: [out appendContents: (stream next: 100003). reads := reads + 1].
            { reads. stream position. stream next }
            """), "#(\((bytes.count + 100_002) / 100_003) \(bytes.count) nil)")
        XCTAssertTrue(contents(streamed) == bytes, "the stream read every byte in order")

        let exported = path("exported.bin")
        XCTAssertEqual(try rt.evaluateAndPrint("Data writeToFile: '\(exported)'. 0"), "0")
        XCTAssertTrue(contents(exported) == bytes, "writeToFile: wrote every byte")
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
    }

    func testStreamPositioningAndByteEnumeration() throws {
        let bytes = pattern(262_144 + 1000, seed: 2)
        let rt = try opened()
        _ = try rt.evaluateAndCommit("Smalltalk at: #Data put: (Blob fromFile: '\(file("d.bin", bytes))')")
        let sum = bytes.reduce(0) { $0 + Int($1) }
        XCTAssertEqual(try rt.evaluateAndPrint("| sum | sum := 0. Data do: [:byte | sum := sum + byte]. sum"), "\(sum)")
        XCTAssertEqual(try rt.evaluateAndPrint("| sizes | sizes := OrderedCollection new. Data chunksDo: [:b | sizes add: b size]. sizes asArray"),
                       "#(262144 1000)")
        XCTAssertEqual(try rt.evaluateAndPrint("""
            | s | s := Data readStream.
            s position: 262140.
            { s next. s peek. s next: 6. s position. (s skip: -2; next). (s skip: 100000000; atEnd). s next: 5 }
            """), "#(\(bytes[262_140]) \(bytes[262_141]) \(printed(bytes[262_141..<262_147])) 262147 \(bytes[262_145]) true #[])")
        XCTAssertEqual(try rt.evaluateAndPrint("[Data readStream position: \(bytes.count + 1)] on: SubscriptOutOfBounds do: [:e | #refused]"),
                       "#refused")
        XCTAssertEqual(try rt.evaluateAndPrint("""
            | s buffer | s := Data readStream. buffer := ByteArray new: 100000.
            s position: 200000.
            { s readInto: buffer startingAt: 1 count: 100000. buffer first. buffer at: 63144. s atEnd.
              s readInto: buffer startingAt: 1 count: 10.
              s reset; readInto: buffer startingAt: 5 count: 3. buffer copyFrom: 4 to: 8. s next }
            """), "#(63144 \(bytes[200_000]) \(bytes[263_143]) true 0 3 \(printed([bytes[200_003]] + bytes[0..<3] + [bytes[200_007]])) \(bytes[3]))")
    }

    func testBytesAndStringsBecomeBlobs() throws {
        let rt = try opened()
        XCTAssertEqual(try rt.evaluateAndCommit("""
            Smalltalk at: #Bytes put: (Blob fromBytes: #[1 2 3 250]); at: #Text put: (Blob fromBytes: 'smörgåsbord');
                at: #Empty put: (Blob fromBytes: #[])
            """), "a Blob (0 bytes)")
        let reopened = try opened()
        XCTAssertEqual(try reopened.evaluateAndPrint("{ Bytes asByteArray. Text asByteArray primUTF8Decode. Empty size. Empty isEmpty }"),
                       "#(#[1 2 3 250] 'smörgåsbord' 0 true)")
        let empty = path("empty.bin")
        _ = try reopened.evaluateAndPrint("Empty writeToFile: '\(empty)'")
        XCTAssertEqual(contents(empty), [])
    }

    // MARK: Transactions and gc

    func testAnAbortBeforeTheCommitLeavesNothingVisibleAndGCReclaimsTheBytes() throws {
        let rt = try opened()
        let source = file("a.bin", pattern(700_000, seed: 3))
        XCTAssertEqual(try rt.evaluateAndPrint("""
            Smalltalk at: #Data put: (Blob fromFile: '\(source)').
            System abort.
            Smalltalk includesKey: #Data
            """), "false")
        XCTAssertEqual(try rt.evaluateAndPrint("System commit. Smalltalk includesKey: #Data"), "false")
        XCTAssertEqual(try opened().evaluateAndPrint("Smalltalk includesKey: #Data"), "false")
        let image = try ImageFile(path: self.image)
        XCTAssertEqual(try image.check().problems, [])
        XCTAssertEqual(try image.collectGarbage(keepingDays: 0).vacuum.largeBytesRemoved, 1, "the staged bytes nobody refers to")
    }

    func testACommittedBlobLivesAsLongAsSomethingRefersToIt() throws {
        let rt = try opened()
        let kept = pattern(300_000, seed: 4), dropped = pattern(400_000, seed: 5)
        _ = try rt.evaluateAndCommit("""
            Smalltalk at: #Kept put: (Array with: (Blob fromFile: '\(file("k.bin", kept))'));
                at: #Dropped put: (Blob fromFile: '\(file("d.bin", dropped))')
            """)
        // Other changes aborted: the committed Blobs are still there and readable.
        XCTAssertEqual(try rt.evaluateAndPrint("Smalltalk at: #Kept put: nil. System abort. (Kept first copyFrom: 1 to: 3)"),
                       printed(kept[0..<3]))
        _ = try rt.evaluateAndCommit("Smalltalk removeKey: #Dropped")
        let image = try ImageFile(path: self.image)
        XCTAssertEqual(try image.collectGarbage(keepingDays: 0).vacuum.largeBytesRemoved, 1)
        XCTAssertEqual(try image.check().problems, [])
        XCTAssertEqual(try opened().evaluateAndPrint("Kept first copyFrom: 299998 to: 300000"), printed(kept[299_997..<300_000]))
    }

    /// A program may not import, overwrite or delete the image's own files (an import of the image
    /// read its own writes until the disk was full); the image stays whole.
    func testTheImagesOwnFilesCanBeNeitherImportedNorWrittenNorDeleted() throws {
        let rt = try opened()
        let link = path("link.lo")
        XCTAssertEqual(symlink(image, link), 0)
        for name in [image!, image + "-log", image + "-wal", link] {
            let imported = "[(Blob fromFile: '\(name)') size] on: Error do: [:e | e messageText]"
            XCTAssertTrue(try rt.evaluateAndPrint(imported).contains("one of the files kept beside it"), name)
            let exported = "[(Blob fromBytes: #[1 2 3]) writeToFile: '\(name)'. 'written'] on: Error do: [:e | e messageText]"
            XCTAssertTrue(try rt.evaluateAndPrint(exported).contains("one of the files kept beside it"), name)
            let written = "[(FileReference path: '\(name)') contents: 'x'. 'written'] on: FileException do: [:e | e messageText]"
            XCTAssertTrue(try rt.evaluateAndPrint(written).contains("Cannot write the open image"), name)
            let deleted = "[(FileReference path: '\(name)') delete. 'deleted'] on: FileException do: [:e | e messageText]"
            if FileManager.default.fileExists(atPath: name) {
                XCTAssertTrue(try rt.evaluateAndPrint(deleted).contains("Cannot delete the open image"), name)
            }
        }
        let other = path("other.txt")
        XCTAssertEqual(try rt.evaluateAndPrint("(FileReference path: '\(other)') contents: 'x'. (FileReference path: '\(other)') contents"), "'x'",
                       "other files are written as before")
        XCTAssertEqual(try rt.evaluateAndPrint("Smalltalk at: #Marker put: 7. System commit"), "true")
        XCTAssertEqual(try opened().evaluateAndPrint("Marker"), "7")
        XCTAssertEqual(try ImageFile(path: image).check().problems, [])
    }

    func testABlobBiggerThanTheHeapIsImportedReadAndWrittenBack() throws {
        var small = VMConfiguration()
        small.heapLimitBytes = 64 << 20
        // 80 MB: a block of a prime length repeated (so no chunk looks like another), fast to make.
        let block = Data(pattern(1_000_003, seed: 6))
        var bytes = Data(capacity: 80 << 20)
        while bytes.count < 80 << 20 { bytes.append(block.prefix((80 << 20) - bytes.count)) }
        let source = path("big.bin")
        XCTAssertTrue(FileManager.default.createFile(atPath: source, contents: bytes))
        let rt = try opened(configuration: small)
        _ = try rt.evaluateAndCommit("Smalltalk at: #Big put: (Blob fromFile: '\(source)')")
        let copy = path("copy.bin")
        let reopened = try opened(configuration: small)
        XCTAssertEqual(try reopened.evaluateAndPrint("""
            | stream count | stream := Big readStream. count := 0.
            [stream atEnd] whileFalse: [count := count + (stream next: 1048576) size].
            Big writeToFile: '\(copy)'.
            count
            """), "\(bytes.count)")
        XCTAssertTrue(FileManager.default.contents(atPath: copy) == bytes)
        XCTAssertEqual(try reopened.evaluateAndPrint("[Big asByteArray size] on: OutOfMemory do: [:e | #tooBig]"), "#tooBig")
    }

    func testSavingTheObjectSpaceIntoAnotherImageCopiesTheBytes() throws {
        let bytes = pattern(600_000, seed: 7)
        let first = try opened()
        _ = try first.evaluateAndCommit("Smalltalk at: #Data put: (Blob fromFile: '\(file("s.bin", bytes))')")
        let other = path("other.lo")
        let view = try Runtime(image: image, asOf: try ImageFile(path: image).store.headCommit())
        try view.commitImage(toPath: other, message: "saved elsewhere")
        XCTAssertEqual(try ImageFile(path: other).check().problems, [])
        XCTAssertEqual(try Runtime(image: other).evaluateAndPrint("Data copyFrom: 599999 to: 600000"), printed(bytes[599_998...]))
        XCTAssertEqual(try first.evaluateAndPrint("Data copyFrom: 1 to: 2"), printed(bytes[0..<2]), "the first image is unchanged")
    }

    // MARK: Errors

    func testMistakesSignalClearErrorsAndLoseNothing() throws {
        let rt = try opened()
        func errorText(_ source: String) throws -> String { try rt.evaluateAndPrint("[\(source). nil] on: Error do: [:e | e messageText]") }
        XCTAssertEqual(try errorText("Blob fromFile: '\(path("absent"))'"), "'File does not exist: \(path("absent"))'")
        XCTAssertEqual(try errorText("Blob fromFile: '\(directory.path)'"), "'cannot read \(directory.path): Is a directory'")
        _ = try rt.evaluateAndCommit("Smalltalk at: #Data put: (Blob fromBytes: #[1 2 3])")
        XCTAssertEqual(try errorText("Data writeToFile: '\(path("no/such/dir/x"))'"),
                       "'cannot write \(path("no/such/dir/x")): No such file or directory'")
        XCTAssertEqual(try errorText("Data copyFrom: 2 to: 4"), "'4 is not between 1 and 3'")

        // A Blob not made from bytes cannot be committed; the commit fails and nothing else is lost.
        XCTAssertEqual(try errorText("Smalltalk at: #Forged put: Blob basicNew; at: #Other put: 5. System commit"),
                       "'cannot commit: a Blob has no bytes in the store (a Blob is made by Blob fromFile: or Blob fromBytes:)'")
        XCTAssertEqual(try rt.evaluateAndPrint("Smalltalk removeKey: #Forged. System commit. Other"), "5")
        XCTAssertEqual(try opened().evaluateAndPrint("{ Other. Data asByteArray }"), "#(5 #[1 2 3])")

        // Blob cannot be subclassed (its record has no room for instance variables): refused, nothing made.
        let refusal = try errorText("Blob subclass: #Photo instanceVariableNames: 'title' classVariableNames: '' package: 'Photos'")
        XCTAssertTrue(refusal.hasPrefix("'Photo: Blob cannot be subclassed"), refusal)
        XCTAssertTrue(refusal.contains("Hold a Blob in an instance variable instead"), refusal)
        XCTAssertEqual(try rt.evaluateAndPrint("{ Smalltalk includesKey: #Photo. Blob subclasses size }"), "#(false 0)")

        // A read-only view of the past reads Blobs but imports nothing.
        let view = try Runtime(image: image, asOf: try ImageFile(path: image).store.headCommit())
        XCTAssertEqual(try view.evaluateAndPrint("Data asByteArray"), "#[1 2 3]")
        XCTAssertTrue(try view.evaluateAndPrint("[Blob fromBytes: #[4]] on: Error do: [:e | e messageText]").contains("read-only view"))
    }
}
