import XCTest
@testable import LivingObjects
import VMCore

/// Programs that tamper with what the VM reads without checking (method dictionaries, closures,
/// classes, bindings, the scheduler's lists) get an error or a defined answer, never a crash.
/// Each of these crashed the VM (or wrote outside an object) before its fix.
final class HostileProgramTests: XCTestCase {
    /// `program` fails with an Error whose text is answered.
    private func errorText(_ c: CapturingRuntime, _ program: String) throws -> String {
        try c.print("[\(program). #noError] on: Error do: [:e | e class name]")
    }

    func testOnlyInstalledMethodsRun() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try errorText(c, "Object methodDict at: #zork put: CompiledMethod new. Object flushCache. Object new zork"),
                       "#MessageNotUnderstood")
        XCTAssertEqual(try errorText(c, """
            | m | m := (Object >> #printString) shallowCopy. m instVarAt: 1 put: #[255 255 255].
            Object methodDict at: #zork put: m. Object flushCache. Object new zork
            """), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("Object new printString"), "'an Object'")
    }

    func testObjectsOfBytesAreNeitherLookedUpInNorInstantiatedAsClasses() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try errorText(c, "3 perform: #foo withArguments: #() inSuperclass: 'abcdefgh@@@@@@@@'"), "#MessageNotUnderstood")
        XCTAssertEqual(try errorText(c, "3 perform: #x withArguments: #() inSuperclass: Point"), "#Error")
        // nil ends the receiver's superclass chain but is no class: the lookup found no handler and
        // ended the whole evaluation.
        XCTAssertEqual(try errorText(c, "3 perform: #+ withArguments: #(4) inSuperclass: nil"), "#MessageNotUnderstood")
        // Likewise a super send in Object, whose superclass is nil: doesNotUnderstand: is found from the
        // receiver's class.
        _ = try c.rt.evaluate("Object compile: 'hostileSuper ^ super hostileFoo'")
        XCTAssertEqual(try errorText(c, "3 hostileSuper"), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("[3 hostileSuper] on: MessageNotUnderstood do: [:e | e message selector]"), "#hostileFoo")
        XCTAssertEqual(try errorText(c, """
            Object methodDict at: #evilNew put: (Behavior >> #basicNew). Object flushCache.
            #[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] evilNew
            """), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testAClosureKeepsAnInstalledBlockThatFitsIt() throws {
        let c = try CapturingRuntime()
        for p in ["[:x | x] instVarAt: 2 put: 3; value: 4", "[3] instVarAt: 2 put: CompiledBlock new; value",
                  "[3] instVarAt: 2 put: [:x | x] compiledBlock; value", "[:a :b :c :d | a] instVarAt: 3 put: 0; value",
                  "[:x | x] instVarAt: 3 put: $ ; value", "(BlockClosure basicNew: 0) instVarAt: 3 put: 0; value"] {
            XCTAssertEqual(try errorText(c, p), "#Error", p)
        }
        // A closure built field by field with a block that fits it runs.
        XCTAssertEqual(try c.print("(BlockClosure basicNew: 0) instVarAt: 2 put: [4] compiledBlock; instVarAt: 3 put: 0; value"), "4")
        XCTAssertEqual(try c.print("[3] copy value"), "3")
    }

    func testTheVMsOwnFieldsCannotBeAssignedByCompiledMethodsEither() throws {
        let c = try CapturingRuntime()
        // The interpreter trusts a closure's numArgs and block, a process's stack and the active process:
        // methods of those classes (and their subclasses) may not assign them, in blocks neither.
        for (cls, source) in [("BlockClosure", "hostileNumArgs: n numArgs := n"),
                              ("BlockClosure", "hostileBlock: b [compiledBlock := b] value"),
                              ("Process", "hostileStack: n stackId := n"),
                              ("ProcessorScheduler", "hostileActive: p activeProcess := p")] {
            let answer = try c.print("[\(cls) compile: '\(source)'. #compiled] on: SyntaxError do: [:e | e messageText]")
            XCTAssertTrue(answer.contains("is assigned by the virtual machine only"), "\(source): \(answer)")
            XCTAssertEqual(try c.print("\(cls) includesSelector: #\(source.split(separator: " ")[0])"), "false")
        }
        // Reading them, and assigning the other variables, still compiles.
        _ = try c.rt.evaluate("BlockClosure compile: 'hostileArity ^ numArgs'")
        XCTAssertEqual(try c.print("[:a :b | a] hostileArity"), "2")
        // So a closure cannot claim more arguments than its block takes, and valueWithArguments: with
        // two million of them fails cleanly (primitive 206 also checks the stack before pushing them).
        XCTAssertEqual(try errorText(c, "[:a | a] valueWithArguments: (Array new: 2000000)"), "#ArgumentsCountMismatch")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testBecomeKeepsWhatTheVMReadsDirectly() throws {
        let c = try CapturingRuntime()
        _ = try c.rt.evaluate("Smalltalk at: #Zork put: 1")
        for p in ["(Smalltalk associationAt: #Zork) become: Object new", "Processor become: Object new",
                  "BlockClosure become: Object", "Point become: Object new", "[thisContext become: Object new] value",
                  "[3] become: Object new", "Processor activeProcess become: Object new", "Semaphore new becomeForward: 'abc'",
                  "#zork becomeForward: 'zork' copy", "'x' copy become: #x", "#printString become: #displayString"] {
            XCTAssertEqual(try errorText(c, p), "#Error", p)
        }
        XCTAssertEqual(try c.print("Zork"), "1")
        XCTAssertEqual(try c.print("{ #zork isSymbol. #zork == 'zork' asSymbol. 3 printString }"), "#(true true '3')")
        // A binding may become another object with a value slot, a class another class.
        XCTAssertEqual(try c.print("(Smalltalk associationAt: #Zork) become: 3 @ 4. Zork := 5. Zork"), "5")
        XCTAssertEqual(try c.print("| a b | a := Array with: 1. b := Array with: 2. a become: b. a first"), "2")
    }

    func testAChangedClassFormatNeverStretchesExistingInstances() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try c.print("""
            | c w | c := Object weakSubclass: #HostileWeak instanceVariableNames: '' classVariableNames: '' package: 'Hostile'.
            w := c basicNew: 2. c instVarAt: 3 put: (4 << 16) + 5000. Smalltalk garbageCollect. w basicSize
            """), "0")
    }

    func testTheClassesTheVMInstantiatesKeepTheirFormat() throws {
        let c = try CapturingRuntime()
        // The VM makes a Message for every doesNotUnderstand:, a Process for every fork, a CompiledMethod
        // for every compile, an Association for every new binding, and reads them by its own layout.
        for cls in ["Message", "Process", "Semaphore", "Association", "CompiledMethod", "CompiledBlock",
                    "BlockClosure", "Context", "ProcessorScheduler", "LinkedList", "Array", "Metaclass"] {
            XCTAssertEqual(try errorText(c, "\(cls) setFormat: 0"), "#Error", cls)
            XCTAssertEqual(try errorText(c, "\(cls) instVarAt: 3 put: 0"), "#Error", cls)
            XCTAssertEqual(try errorText(c, "\(cls) setFormat: \(cls) format"), "#noError", cls)
        }
        XCTAssertEqual(try errorText(c, "3 foo"), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("[3 + 4] fork. Smalltalk at: #HostileGlobal put: 5. HostileGlobal"), "5")
        // No method may assign a class's format directly either.
        let answer = try c.print("[Behavior compile: 'hostileFormat: n format := n'. #compiled] on: SyntaxError do: [:e | e messageText]")
        XCTAssertTrue(answer.contains("is assigned by the virtual machine only"), answer)
        // The classes a program makes change their format as before.
        XCTAssertEqual(try c.print("""
            | k | k := Object subclass: #HostileShape instanceVariableNames: 'a b' classVariableNames: '' package: 'Hostile'.
            k setFormat: 5 + (1 << 16). k basicNew class instSize
            """), "5")
    }

    func testRedefiningAClassTheVMReliesOnChangesNothing() throws {
        let c = try CapturingRuntime()
        // The new class could not replace Message (become: refuses), after the global and the methods
        // had moved to it.
        XCTAssertEqual(try c.print("""
            [Object subclass: #Message instanceVariableNames: '' classVariableNames: '' package: 'Kernel-Methods'. #changed]
                on: Error do: [:e | e messageText]
            """), "'Message cannot change its shape: the virtual machine relies on its layout. Nothing was changed'")
        XCTAssertEqual(try errorText(c, "Message class instanceVariableNames: 'hostile'"), "#Error")
        XCTAssertEqual(try c.print("[3 foo] on: MessageNotUnderstood do: [:e | e message class == Message and: [e message selector == #foo]]"), "true")
        XCTAssertEqual(try c.print("Message includesSelector: #selector"), "true")
        // Other classes change shape as before.
        XCTAssertEqual(try c.print("""
            Object subclass: #HostileShape instanceVariableNames: 'a' classVariableNames: '' package: 'Hostile'.
            Object subclass: #HostileShape instanceVariableNames: 'a b' classVariableNames: '' package: 'Hostile'.
            HostileShape instSize
            """), "2")
    }

    func testAClassHasAtMost65535InstanceVariables() throws {
        let c = try CapturingRuntime()
        // The instance size is 16 bits of the format: one variable more than 65535 made an indexable class.
        XCTAssertEqual(try c.print("""
            | k | k := Object subclass: #HostileWide instanceVariableNames: '' classVariableNames: '' package: 'Hostile'.
            k setFormat: 16rFFFF + (1 << 16).
            [k subclass: #HostileHuge instanceVariableNames: 'x' classVariableNames: '' package: 'Hostile'.
             HostileHuge isVariable] on: Error do: [:e | e messageText]
            """), "'HostileHuge would have more than 65535 instance variables'")
        XCTAssertEqual(try c.print("Smalltalk includesKey: #HostileHuge"), "false")
    }

    func testScaledDecimalLiteralsFitTheirClassesAsTheyAreNow() throws {
        // The compiler fills in a ScaledDecimal literal (and its Fraction) by the classes' variable names.
        for (cls, literal) in [("Fraction", "1.5s2"), ("ScaledDecimal", "3s2")] {
            let c = try CapturingRuntime()
            _ = try c.print("[\(cls) setFormat: 0. Object compile: 'hostileScaled ^ \(literal)'] on: Error do: [:e | e]")
            XCTAssertEqual(try c.print("Object includesSelector: #hostileScaled"), "false", cls)
            XCTAssertEqual(try c.print("3 + 4"), "7")
        }
    }

    func testInterruptsThatOverfillAProcesssStackFail() throws {
        let c = try CapturingRuntime()
        // Each interrupt puts a frame on the waiting process's stack; those that would not fit fail.
        XCTAssertEqual(try c.print("""
            | p s n r | s := Semaphore new. p := [s wait] fork. Processor yield. n := 0.
            r := [1 to: 1000000 do: [:i | p interruptWith: [n := n + 1]]. #noError] on: Error do: [:e | e messageText].
            s signal. Processor yield. Array with: r with: n > 1000 with: n < 1000000 with: p isTerminated
            """), "#('cannot interrupt a Process at priority 40: its stack is full' true true true)")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testADoItsFrameMustFitBelowTheStacksLimit() throws {
        let c = try CapturingRuntime()
        let temps = (1...100).map { "t\($0)" }.joined(separator: " ")
        // Primitive 181 replaces its send by the do-it's frame; at the deepest call that fits, a do-it
        // with 100 temporaries does not fit either.
        _ = try c.rt.evaluate("""
            Object compile: 'hostileEvaluate: source for: receiver <primitive: 181> ^ #failed'.
            Object subclass: #HostileDeep instanceVariableNames: '' classVariableNames: 'Deepest Target' package: 'Hostile'.
            HostileDeep compile: 'down: n
                Deepest := n.
                n = Target ifTrue: [^ self hostileEvaluate: ''| \(temps) | t100 := 3. t100'' for: nil].
                ^ self down: n + 1'.
            HostileDeep class compile: 'run ^ [self new down: 1] on: StackOverflow do: [:e | e return: #overflowed]'.
            HostileDeep class compile: 'target: n Target := n'.
            HostileDeep class compile: 'deepest ^ Deepest'
            """)
        XCTAssertEqual(try c.print("HostileDeep run"), "#overflowed")
        _ = try c.rt.evaluate("HostileDeep target: HostileDeep deepest")
        XCTAssertEqual(try c.print("HostileDeep run"), "#overflowed", "a StackOverflow, as for a send that does not fit")
        XCTAssertEqual(try c.print("HostileDeep target: 10; run"), "3")
    }

    func testTheVMsProcessFieldsAreNotWrittenByInstVarAtPut() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try errorText(c, "[3] newProcess instVarAt: 6 put: 0"), "#Error")
        XCTAssertEqual(try errorText(c, "Processor instVarAt: 2 put: 3"), "#Error")
        XCTAssertEqual(try c.print("[3] newProcess instVarAt: 6 put: nil; isTerminated"), "true")
    }

    func testDamagedProcessListsNeitherCrashNorHang() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try c.print("| s | s := Semaphore new. s instVarAt: 1 put: 3. s signal. 4"), "4")
        XCTAssertEqual(try c.print("| s | s := Semaphore new. s addLast: Object new. s signal. 4"), "4")
        // A waiting process that lost its stack is passed over: the signal goes to the next waiter.
        XCTAssertEqual(try c.print("""
            | p s r | s := Semaphore new. r := 0. p := [s wait. r := r + 1] fork. [s wait. r := r + 10] fork.
            Processor yield. p instVarAt: 6 put: nil. s signal. Processor yield. r
            """), "10")
        // Links that go round in a cycle.
        XCTAssertEqual(try c.print("""
            | s p q | s := Semaphore new. p := [s wait] fork. q := [s wait] fork. Processor yield.
            q instVarAt: 1 put: p. p instVarAt: 1 put: q. [s wait] fork. Processor yield. (q suspend; yourself) == q
            """), "true")
        for lists in ["#(1 2 3)", "'abcdefghijklmnopqrstuvwxyz'", "nil"] {
            let c = try CapturingRuntime()
            XCTAssertEqual(try c.print("Processor instVarAt: 1 put: \(lists). [3] fork. Processor yield. 4"), "4", lists)
        }
    }
}
