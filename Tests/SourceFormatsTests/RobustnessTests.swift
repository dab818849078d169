// Garbage and truncated input: the readers always return or throw, never crash or hang.

import XCTest
@testable import SourceFormats

final class RobustnessTests: XCTestCase {
    /// A small deterministic generator, so that failures reproduce.
    private struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private let tonelSample = """
    "
    A ""sample"" class.
    "
    Class {
    \t#name : #Foo,
    \t#superclass : #Object,
    \t#instVars : [ 'a', 'b' ],
    \t#category : #'Sample-Core'
    }

    { #category : #tricky }
    Foo >> tricky: x [
    \t"a ] comment"
    \t^ #( $] $' $" #[ 1 2 ] 'str]''s' ) , [ :y | [ y ] ] value: x
    ]

    { #category : #'instance creation' }
    Foo class >> new [ ^ super new ]
    """

    private let chunkSample = """
    Object subclass: #Foo instanceVariableNames: 'a' classVariableNames: '' package: 'P'!
    !Foo commentStamp: 'x' prior: 0!
    A comment!! here.!
    !Foo methodsFor: 'a'!
    a
    \t^ 'bang!!' , $! asString! !
    !Foo class methodsFor: 'b' stamp: 'jd'!
    b ^ 1! !
    """

    private func survives(_ text: String) {
        _ = try? TonelReader.parse(contents: text, file: "fuzz.st")
        _ = try? ChunkReader.parse(contents: text, file: "fuzz.st")
        _ = TonelReader.looksLikeTonel(text)
        _ = ChunkReader.looksLikeChunkFormat(text)
        _ = MethodPattern(text)
    }

    func testEveryPrefixOfValidFiles() {
        for sample in [tonelSample, chunkSample] {
            let characters = Array(sample)
            for length in 0 ... characters.count { survives(String(characters[..<length])) }
        }
    }

    func testTruncatedTonelFilesFailWithALocation() {
        let characters = Array(tonelSample)
        for length in stride(from: 0, to: characters.count - 1, by: 7) {
            let prefix = String(characters[..<length])
            do {
                _ = try TonelReader.parse(contents: prefix, file: "cut.st")
            } catch {
                XCTAssertEqual(error.location.file, "cut.st")
                XCTAssertGreaterThan(error.location.line, 0)
            }
        }
    }

    func testRandomSyntaxSoup() {
        var generator = SplitMix64(state: 42)
        let alphabet = Array("Class Extension Package{}[]()#:,'\"$!>> class x 1\n\t ")
        for _ in 0 ..< 2000 {
            let length = Int.random(in: 0 ..< 80, using: &generator)
            survives(String((0 ..< length).map { _ in alphabet.randomElement(using: &generator)! }))
        }
    }

    func testRandomMutationsOfValidFiles() {
        var generator = SplitMix64(state: 7)
        for sample in [tonelSample, chunkSample] {
            let characters = Array(sample)
            for _ in 0 ..< 500 {
                var mutated = characters
                for _ in 0 ..< Int.random(in: 1 ... 4, using: &generator) {
                    let index = Int.random(in: 0 ..< mutated.count, using: &generator)
                    mutated[index] = characters.randomElement(using: &generator)!
                }
                survives(String(mutated))
            }
        }
    }

    func testDeepNestingIsRejectedNotRecursedInto() {
        let deep = "Class { #name : " + String(repeating: "[ ", count: 100_000) + "}"
        XCTAssertThrowsError(try TonelReader.parse(contents: deep, file: "deep.st")) { error in
            XCTAssertTrue((error as? SourceFormatError)?.message.contains("nested too deeply") ?? false)
        }
    }

    func testInvalidUTF8AndControlBytes() {
        survives(String(decoding: [0xFF, 0xFE, 0x00, 0x21, 0x5B, 0xC3, 0x28, 0x22], as: UTF8.self))
        survives("Class { #name : #Foo, #superclass : #Object }\nFoo >> x [ ^ $\u{0}")
    }
}
