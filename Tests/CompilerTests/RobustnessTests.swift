import XCTest
import Foundation
import VMCore
@testable import Compiler

/// No input may crash or hang the compiler; whatever compiles must verify.
final class RobustnessTests: XCTestCase {
    /// SplitMix64: deterministic, so failures reproduce.
    private struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static let corpus = [
        """
        printOn: aStream
            "Print the receiver."
            | first |
            first := true.
            aStream nextPutAll: self class name; nextPut: $(.
            self do: [:each |
                first ifFalse: [aStream space].
                first := false.
                each printOn: aStream].
            aStream nextPut: $)
        """,
        """
        detect: aBlock ifNone: exceptionBlock
            <category: 'enumerating'>
            self do: [:each | (aBlock value: each) ifTrue: [^ each]].
            ^ exceptionBlock value
        """,
        """
        at: index put: value
            <primitive: 61 error: ec>
            index isInteger ifFalse: [^ self errorNonIntegerIndex: index].
            ^ super at: index put: value
        """,
        """
        sum: n
            | total blocks |
            total := 0. blocks := OrderedCollection new.
            1 to: n by: 2 do: [:i | | sq | sq := i * i. total := total + sq. blocks add: [sq + total]].
            n timesRepeat: [total := total - 1].
            [total > 100] whileTrue: [total := total // 2].
            ^ {total. blocks collect: [:b | b value]. #(1 $a 'x' #(y) #[1 2]). 16r1F. 1.5e3. 2.5s2. -3}
        """,
        "x: ax y: ay x := ax ifNil: [0] ifNotNil: [:v | v abs]. y := ay ifNotNil: [:v | v] ifNil: [0]",
    ]

    /// Compiles as a method and as a do-it; answers how many of the two succeeded.
    @discardableResult
    private func compileAnything(_ source: String) -> Int {
        var successes = 0
        if let compiled = try? SmalltalkCompiler.compileMethod(source, in: pointClass) {
            XCTAssertEqual(verify(compiled), [], source)
            successes += 1
        }
        if let compiled = try? SmalltalkCompiler.compileDoIt(source, in: pointClass) {
            XCTAssertEqual(verify(compiled), [], source)
            successes += 1
        }
        _ = SmalltalkCompiler.selector(ofMethod: source)
        return successes
    }

    func testCorpusCompilesAndVerifies() {
        for source in RobustnessTests.corpus { _ = method(source) }
    }

    func testEveryPrefixOfRealMethods() {
        for source in RobustnessTests.corpus {
            let scalars = Array(source.unicodeScalars)
            for end in 0...scalars.count {
                compileAnything(String(String.UnicodeScalarView(scalars[0..<end])))
            }
        }
    }

    func testRandomMutationsOfRealMethods() {
        var random = Random(state: 42)
        let alphabet = Array("[](){}|^:=.;#$'\"-+*/\\<>=~@%&?,_ \n\tabcxyzXY019rsee".unicodeScalars) + ["\u{0}", "é", "¿", "€"]
        var successes = 0
        for _ in 0..<3000 {
            var scalars = Array(RobustnessTests.corpus.randomElement(using: &random)!.unicodeScalars)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0...scalars.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: scalars.insert(alphabet.randomElement(using: &random)!, at: position)
                case 1: if position < scalars.count { scalars.remove(at: position) }
                default: if position < scalars.count { scalars[position] = alphabet.randomElement(using: &random)! }
                }
            }
            successes += compileAnything(String(String.UnicodeScalarView(scalars)))
        }
        XCTAssertGreaterThan(successes, 200, "many mutations should still compile")
    }

    func testRandomTokenSoup() {
        var random = Random(state: 7)
        let pieces = ["foo", "x", "y", "t", "Foo", "self", "super", "nil", "thisContext", "at:", "put:", "ifTrue:",
                      "ifFalse:", "whileTrue:", "to:", "do:", "ifNil:", "ifNotNil:", "timesRepeat:", "and:", "value",
                      "[", "]", "(", ")", "{", "}", ":a", ":b", "|", "||", "^", ".", ";", ":=", "+", "-", "->", "3",
                      "-4", "16r1F", "1.5", "2e3", "1s2", "$a", "'s'", "#sym", "#(", "#[", "<primitive: 1>", "<foo>",
                      "\"c\"", " ", "\n"]
        var successes = 0
        for _ in 0..<5000 {
            let count = Int.random(in: 0...30, using: &random)
            let source = (0..<count).map { _ in pieces.randomElement(using: &random)! }.joined(separator: " ")
            successes += compileAnything(source)
        }
        XCTAssertGreaterThan(successes, 200, "some token soups should compile")
    }

    func testRandomBytes() {
        var random = Random(state: 2024)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            compileAnything(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// The deepest inputs the limits allow compile in well under 2 MB of stack (debug build).
    func testDeepestAcceptedInputsFitInTwoMegabytesOfStack() {
        let n = Parser.maxNesting - 2
        let sources = [
            "foo ^ " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n),
            "foo ^ " + String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n),
            "foo ^ " + String(repeating: "x ifTrue: [", count: n) + "1" + String(repeating: "]", count: n),
            "foo ^ " + String(repeating: "[x] whileTrue: [", count: n) + "1" + String(repeating: "]", count: n),
            "foo ^ 1" + String(repeating: " + 1", count: Parser.maxHeight - 2),
        ]
        for source in sources {
            let finished = DispatchSemaphore(value: 0)
            let thread = Thread {
                XCTAssertNotNil(try? SmalltalkCompiler.compileMethod(source, in: pointClass))
                finished.signal()
            }
            thread.stackSize = 2 << 20
            thread.start()
            finished.wait()
        }
    }

    func testVerifierNoticesBadCode() {
        var compiled = method("foo ^ 1 + 2")
        compiled.maxStack = 1
        XCTAssertEqual(verify(compiled), ["foo: maxStack 1 but the code reaches 2"])
        compiled.bytecodes.removeLast()
        compiled.lines.removeLast()
        XCTAssertEqual(verify(compiled), ["foo: code does not end with a return"])
    }
}
