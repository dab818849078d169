import XCTest
@testable import LivingObjects
import VMCore

final class EvaluationTests: XCTestCase {
    var c: CapturingRuntime!
    override func setUpWithError() throws { c = try Shared.runtime() }

    func testPrintStringsFollowPharo() throws {
        let cases: [(String, String)] = [
            ("3 + 4", "7"), ("#(1 $a 'str' #sym (1 2))", "#(1 $a 'str' #sym #(1 2))"),
            ("OrderedCollection new add: 1; add: 2; yourself", "an OrderedCollection(1 2)"),
            ("1/3", "(1/3)"), ("'it''s'", "'it''s'"), ("#foo:bar:", "#foo:bar:"), ("0.1 + 0.2", "0.30000000000000004"),
            ("1.25s2", "1.25s2"), ("16r1F + 2r1010", "41"), ("1e10", "10000000000"), ("$a", "$a"),
            ("#[1 2 255]", "#[1 2 255]"), ("{1. 2 + 3}", "#(1 5)"), ("nil", "nil"), ("true & false", "false"),
            ("Object new", "an Object"), ("Object", "Object"), ("Object class", "Object class"),
            ("(2 raisedTo: 100)", "1267650600228229401496703205376"), ("1000 factorial printString size", "2568"),
            ("-7 \\\\ 2", "1"), ("-7 rem: 2", "-1"), ("-7 // 2", "-4"), ("Float infinity", "Float infinity"),
            ("(1 to: 5) asArray", "#(1 2 3 4 5)"), ("'héllo' size", "5"), ("'abc' asSymbol == #abc", "true"),
        ]
        for (source, expected) in cases {
            XCTAssertEqual(try c.print(source), expected, source)
        }
    }

    /// As in Pharo, a do-it runs with an undefined global as nil; it is told so once it has run, unless
    /// the do-it itself defined it.
    func testAnUndefinedGlobalInADoItRunsAsNilWithAWarning() throws {
        let fresh = try CapturingRuntime()
        XCTAssertEqual(try fresh.print("Zork size"), "0")
        XCTAssertEqual(try fresh.print("[:x | Zork2 := x] value: 4. Zork2"), "4")
        XCTAssertEqual(fresh.err.split(separator: "\n"), [
            "warning: undeclared variable 'Zork': it is not a global of Smalltalk (Smalltalk at: #Zork put: … makes one)",
            "warning: undeclared variable 'Zork2': it is not a global of Smalltalk (Smalltalk at: #Zork2 put: … makes one)",
        ])
        fresh.err = ""
        XCTAssertEqual(try fresh.print("Smalltalk at: #Defined put: 3. Defined + 1"), "4")
        XCTAssertEqual(try fresh.print("Zork := 1. Smalltalk at: #Zork put: 2. Zork"), "2", "the binding moved into Smalltalk")
        XCTAssertEqual(fresh.err, "")
    }

    func testAResultPrintsAtMostThePrintLimitAndAStructureWithoutEndStops() throws {
        let limit = Runtime.printLimit
        let long = try c.print("(1 to: \(limit)) asArray")
        XCTAssertEqual(long.count, limit + 3)
        XCTAssertTrue(long.hasPrefix("#(1 2 3 ") && long.hasSuffix("..."), String(long.suffix(20)))
        XCTAssertEqual(try c.print("String new: \(limit - 2) withAll: $a").count, limit, "a printString of exactly the limit is whole")
        // Its printString would recurse until the stack runs out.
        let cycle = try c.print("| c | c := OrderedCollection new. c add: c. c")
        XCTAssertEqual(cycle.count, limit + 3)
        XCTAssertTrue(cycle.hasPrefix("an OrderedCollection(an OrderedCollection("))
    }

    func testClosuresShareCapturedVariablesAndReturnNonLocally() throws {
        XCTAssertEqual(try c.print("| n inc | n := 0. inc := [n := n + 1]. inc value. inc value. n"), "2")
        XCTAssertEqual(try c.print("| blocks | blocks := (1 to: 3) collect: [:i | [i * 10]]. (blocks collect: [:b | b value]) asArray"), "#(10 20 30)")
        XCTAssertEqual(try c.print("#(1 2 3 4) detect: [:x | x > 2] ifNone: [nil]"), "3")
        XCTAssertEqual(try c.print("[:x | x > 1 ifTrue: ['big'] ifFalse: ['small']] value: 5"), "'big'")
        XCTAssertEqual(try c.print("#(3 0 -2) collect: [:x | x > 0 ifTrue: ['+'] ifFalse: [x = 0 ifTrue: ['0']]]"), "#('+' '0' nil)")
        XCTAssertEqual(try c.print("#(1 2 3 4) select: [:x | x > 1 and: [x odd]]"), "#(3)")
        XCTAssertEqual(try c.print("[:x | x ifTrue: [^ 7] ifFalse: [8]] value: false"), "8")
    }

    func testNilTestsOfTemporariesBranchEitherWay() throws {
        // `t isNil ifTrue:` and its variants are one fused compare-and-branch (`branchTempNil`).
        for (value, isNil) in [("nil", true), ("3", false), ("Object new", false)] {
            for (test, holds) in [("isNil", isNil), ("notNil", !isNil)] {
                XCTAssertEqual(try c.print("| t | t := \(value). t \(test) ifTrue: [1] ifFalse: [2]"), holds ? "1" : "2")
                XCTAssertEqual(try c.print("| t | t := \(value). t \(test) ifFalse: [1] ifTrue: [2]"), holds ? "2" : "1")
                XCTAssertEqual(try c.print("| t n | t := \(value). n := 0. t \(test) ifTrue: [n := 5]. n"), holds ? "5" : "0")
            }
        }
    }

    func testComparisonsBranchEitherWayInEveryFusedForm() throws {
        // Each comparison and each jump sense of the four compare-and-branch superinstructions: a
        // temporary against a temporary or a constant, the receiver or an instance variable against a
        // constant. Floats take the sends the fused instructions replace.
        let relations: [(String, (Double, Double) -> Bool)] = [("<", (<)), (">", (>)), ("<=", (<=)), (">=", (>=)),
                                                              ("=", (==)), ("~=", (!=))]
        func table(_ x: String, _ y: String) -> String {
            "{ " + relations.map { r, _ in
                "\(x) \(r) \(y) ifTrue: [1] ifFalse: [0]. \(x) \(r) \(y) ifFalse: [0] ifTrue: [1]" }.joined(separator: ". ") + " }"
        }
        _ = try c.print("Number compile: 'jumpTable ^ \(table("self", "2"))'. Association compile: 'jumpTable ^ \(table("key", "2"))'")
        for value in ["1", "2", "3", "-5", "1.5", "2.0", "2.5"] {
            let expected = "#(" + relations.map { _, holds in holds(Double(value)!, 2) ? "1 1" : "0 0" }.joined(separator: " ") + ")"
            XCTAssertEqual(try c.print("| t u | t := \(value). u := 2. \(table("t", "u"))"), expected, "temp, temp: \(value)")
            XCTAssertEqual(try c.print("| t | t := \(value). \(table("t", "2"))"), expected, "temp, constant: \(value)")
            XCTAssertEqual(try c.print("\(value) jumpTable"), expected, "self, constant: \(value)")
            XCTAssertEqual(try c.print("(\(value) -> nil) jumpTable"), expected, "instance variable, constant: \(value)")
        }
    }

    func testAndOrAsConditionsFollowTheirTruthTables() throws {
        // Compiled as jumps on each operand (InliningTests); every combination, in loops and ifs.
        let values = ["true", "false"]
        for a in values { for b in values { for d in values {
            let and = (a == "true") && (b == "true"), or = (a == "true") || (b == "true")
            XCTAssertEqual(try c.print("(\(a) and: [\(b)]) ifTrue: [1] ifFalse: [2]"), and ? "1" : "2")
            XCTAssertEqual(try c.print("(\(a) or: [\(b)]) ifFalse: [1] ifTrue: [2]"), or ? "2" : "1")
            let nested = (a == "true") && ((b == "true") || (d == "true"))
            XCTAssertEqual(try c.print("| n | n := 0. [n < 3 and: [\(a) and: [\(b) or: [\(d)]]]] whileTrue: [n := n + 1]. n"),
                           nested ? "3" : "0")
            XCTAssertEqual(try c.print("| n | n := 0. [n >= 3 or: [(\(a) and: [\(b)]) not]] whileFalse: [n := n + 1]. n"),
                           and ? "3" : "0")
        } } }
        XCTAssertEqual(try c.print("| n | n := 0. [n := n + 1. n < 5] whileTrue. n"), "5")
        // The second operand runs only when the first does not decide.
        XCTAssertEqual(try c.print("| log | log := OrderedCollection new. (false and: [log add: 1. true]) ifTrue: [log add: 2]. (true or: [log add: 3. true]) ifTrue: [log add: 4]. log asArray"), "#(4)")
        // A non-Boolean operand is still asked #mustBeBoolean.
        XCTAssertEqual(try c.print("[(true and: [3]) ifTrue: [1]] on: Error do: [:e | e class name]"), "#NonBooleanReceiver")
    }

    func testTheKernelKnowsEveryInstructionLength() throws {
        // CompiledCode>>sendsDo: (senders, messages) walks bytecodes with its own length table.
        let lengths = (0...255).map { Opcode(rawValue: UInt8($0))?.length ?? 0 }
        XCTAssertEqual(try c.print("((0 to: 255) collect: [:op | CompiledCode instructionLengthOf: op]) asArray"),
                       "#(" + lengths.map(String.init).joined(separator: " ") + ")")
    }

    func testExceptionsResumeRetryAndEnsure() throws {
        XCTAssertEqual(try c.print("[1/0] on: ZeroDivide do: [:e | e return: -1]"), "-1")
        XCTAssertEqual(try c.print("[(Warning signal: 'w') + 1] on: Warning do: [:e | e resume: 41]"), "42")
        XCTAssertEqual(try c.print("| n | n := 0. [n := n + 1. n < 3 ifTrue: [Error signal]. n] on: Error do: [:e | e retry]"), "3")
        XCTAssertEqual(try c.print("| log | log := OrderedCollection new. [[Error signal: 'x'] ensure: [log add: #ensured]] on: Error do: [:e | log add: e messageText]. log asArray"), "#('x' #ensured)", "the handler runs before the stack unwinds")
        XCTAssertEqual(try c.print("[nil foo] on: MessageNotUnderstood do: [:e | e message selector]"), "#foo")
        XCTAssertEqual(try c.print("[#(1 2) at: 5] on: SubscriptOutOfBounds do: [:e | 'out of bounds']"), "'out of bounds'")
    }

    /// A do-it's context is at the bottom of the stack (the host called it): `^` in a block returns
    /// through the unwind blocks to the host, as it does from a method.
    func testANonLocalReturnFromADoItRunsTheUnwindBlocksOnItsWay() throws {
        let fresh = try CapturingRuntime()
        XCTAssertEqual(try fresh.rt.evaluateAndPrint("Smalltalk at: #Log put: OrderedCollection new. [^ 3] ensure: [Log add: #ensured]. 4"), "3")
        XCTAssertEqual(try fresh.rt.evaluateAndPrint("#(1 2) do: [:x | [x = 2 ifTrue: [^ x]] ifCurtailed: [Log add: x]]. 0"), "2")
        XCTAssertEqual(try fresh.rt.evaluateAndPrint("thisContext return: 5. 6"), "5")
        XCTAssertEqual(try fresh.rt.evaluateAndPrint("Log asArray"), "#(#ensured 2)")
    }

    func testDeepRecursionIsACatchableError() throws {
        XCTAssertEqual(try c.print("| b | b := nil. b := [:n | (b value: n + 1) + 1]. [b value: 0] on: StackOverflow do: [:e | 'caught']"), "'caught'")
        XCTAssertEqual(try c.print("3 + 4"), "7", "the runtime is usable afterwards")
    }

    func testUnhandledErrorsPrintTheStackAndFailTheEvaluation() throws {
        let fresh = try CapturingRuntime()
        XCTAssertThrowsError(try fresh.rt.evaluate("#(1 2 3) collect: [:x | x / 0]")) { error in
            guard case RuntimeError.unhandledError = error else { return XCTFail("\(error)") }
        }
        XCTAssertTrue(fresh.err.contains("ZeroDivide"), fresh.err)
        XCTAssertTrue(fresh.err.contains("UndefinedObject>>DoIt (line 1)"), fresh.err)
        XCTAssertTrue(fresh.err.contains("SmallInteger"), fresh.err)
        XCTAssertEqual(try fresh.print("6 * 7"), "42")
    }

    func testCompileErrorsCarryLineAndColumn() throws {
        XCTAssertThrowsError(try c.rt.evaluate("| a |\na := 3 +\n")) { error in
            XCTAssertTrue("\(error)".contains("line 3"), "\(error)")
        }
        XCTAssertThrowsError(try c.rt.evaluate("#(1 2")) { error in
            XCTAssertTrue("\(error)".contains("line 1"), "\(error)")
        }
    }

    func testWorkspaceVariablesPersistBetweenEvaluations() throws {
        let w = try CapturingRuntime()
        _ = try w.rt.evaluate("| x | x := 20", workspace: true)
        _ = try w.rt.evaluate("y := x + 1", workspace: true)
        XCTAssertEqual(try w.rt.evaluateAndPrint("x + y", workspace: true), "41")
        XCTAssertEqual(try w.rt.evaluateAndPrint("[:k | k + y] value: 1", workspace: true), "22")
    }

    func testProcessesSemaphoresAndDelays() throws {
        XCTAssertEqual(try c.print("""
            | s log | s := Semaphore new. log := OrderedCollection new.
            [log add: 1. s signal] fork.
            s wait. log add: 2. log asArray
            """), "#(1 2)")
        XCTAssertEqual(try c.print("| t | t := Time millisecondClockValue. (Delay forMilliseconds: 20) wait. Time millisecondClockValue - t >= 20"), "true")
    }

    func testGarbageCollectionDuringEvaluationKeepsEverythingIntact() throws {
        XCTAssertEqual(try c.print("""
            | d | d := Dictionary new.
            1 to: 200000 do: [:i | d at: i put: i printString].
            Smalltalk garbageCollect.
            (d at: 123456) , '/' , d size printString
            """), "'123456/200000'")
    }
}
