// Float blocks: a run of statements of float arithmetic on temporaries, run in doubles in one dispatch.
//
// The compiler emits `floatBlock k` before statements like `zr := zrzr - zizi + cr` (temporaries, float
// literals, `+ - * /`, unary sends to temporaries like `iBody x`) or `iBody vx: iBody vx - (dx * mag)` (a
// one-argument send to a temporary for effect), optionally ending with the comparison of an inlined
// `ifTrue:` and its forward conditional jump. The ordinary bytecodes follow it unchanged. On its first run
// the instruction reads those bytecodes and derives a small register program (`FloatProgram.derive`), kept
// in its literal slot `k` — an inline-cache slot: empty when installed and when loaded, never saved in an
// image. Each run checks that every temporary the statements read first holds a SmallFloat64, then runs
// the steps in order in doubles: a unary send whose inline cache holds a getter answers the variable (a
// SmallFloat64), one holding Float>>sqrt for a SmallFloat64 its root; a send whose cache holds a setter
// stores at once (keeping the old value). Then it checks that every value to be stored in a temporary is
// a SmallFloat64 again, stores them all and skips the ordinary bytecodes (taking the conditional jump
// itself). If any check fails (a SmallInteger, a boxed float, a cache miss or another method, a result
// out of SmallFloat64 range, NaN or infinity, a division by zero) it undoes the setters, stores nothing,
// and the ordinary bytecodes run exactly as they would without it. Doubles give the same values as the
// ordinary path: every step there is the same IEEE operation, boxed or not. A block whose code continues
// with a loop's counter, closing jump and test back to itself runs those too and loops (FloatBlockLoops.swift).

/// How a program reads: a header of 16 bytes, then its registers and what the run writes, then its code.
///
///     0–1  covered bytes (u16; 0: the block never runs)   2 constants C   3 loads T   4 operations K   5 stores S
///     6    the comparison's opcode (0: none)   7  1 if the comparison feeds `jumpIfTrue`
///     8–15 the byte offsets (u16, from byte 0) of `decodedFrom`, `saved`, the code and `undo`
///     16–23 how many runs in a row gave up (u64)
///     24–25 the byte offset of the loop tail (u16; 0: none)   26  1 if the tail follows the conditional jump
///           taken, 0 if it follows the run's end (FloatBlockLoops.swift)   27  1 if the loads stay decoded
///           when the tail comes back (`loadsStayDecoded`)
///     then R = C + T + K doubles (the registers; the constants filled in),
///     T + 1 oops `decodedFrom` (the temporary each load register was last decoded from; one spare),
///     S oops `saved` (the temporaries' values before the stores, for undoing them),
///     3 words per setter `undo` (receiver, variable index, old value: for undoing the setters that ran),
///     T temp frame offsets (i8), K × (`Step`, result, left, right registers), the end (`Step.end` or the
///     comparison's `Step`, 0, its two registers),
///     S × (temp frame offset, register, the `decodedFrom` slot the stored oop goes to),
///     the loop tail's steps (`LoopTailStep`, 8 bytes each)
///
/// Registers: the constants first, then the temporaries loaded, then one per operation, in order — except
/// that an operation whose result is the last value of a temporary it loads, read by nothing after it as
/// the temporary's old value, writes into that load's register (`sharedRegisters`). The program is the run's
/// scratch memory too (a run cannot be interrupted, and no send happens during one): a load whose
/// temporary holds the oop it was last decoded from keeps its register, and a store into a shared
/// register's temporary records the new oop for that load — so a loop's values go from one run to the
/// next without being decoded on the way. A run that gives up after writing registers forgets every
/// recorded oop.
public enum FloatProgram {
    /// At most this many registers (constants, loads and results) and stores.
    public static let maxRegisters = 64
    static let headerSize = 32
    /// After this many runs in a row gave up, the block gives up at once (its covered length set to 0).
    static let failuresBeforeGivingUp: UInt64 = 64

    /// An operation's first byte: what it computes and where its operands are — R: the register its byte
    /// names, P: the previous operation's result, Q: the one before that (the run keeps both in machine
    /// registers, so a chain like `2.0 * zr * zi + ci` or `zi * zi` just after `zi` is computed waits for no
    /// store to memory; every result is in its register too). Then the end of the operations: the
    /// comparison (its left operand R, P or Q, its right one R) or `end`. A program holds only these
    /// values, so the run reads the byte as a `Step` and its switch has no default (a jump table without
    /// a range check, the dispatch repeated at the end of each case).
    enum Step: UInt8 {
        case addRR, addRP, addRQ, addPR, addPP, addPQ, addQR, addQP, addQQ
        case subtractRR, subtractRP, subtractRQ, subtractPR, subtractPP, subtractPQ, subtractQR, subtractQP, subtractQQ
        case multiplyRR, multiplyRP, multiplyRQ, multiplyPR, multiplyPP, multiplyPQ, multiplyQR, multiplyQP, multiplyQQ
        case divideRR, divideRP, divideRQ, dividePR, dividePP, dividePQ, divideQR, divideQP, divideQQ
        case lessR, lessP, lessQ, greaterR, greaterP, greaterQ, lessOrEqualR, lessOrEqualP, lessOrEqualQ
        case greaterOrEqualR, greaterOrEqualP, greaterOrEqualQ, equalR, equalP, equalQ, notEqualR, notEqualP, notEqualQ
        case end
        /// A unary send: a getter's answer, or `sqrt` of a SmallFloat64 (Float>>sqrt, primitive 55).
        /// 8 bytes: `getter`, result register, receiver's temp frame offset, 0, then the send's literal
        /// index's low byte, the result register again (the run steps 4 bytes before it stores the result),
        /// the literal index's high byte, 0.
        case getter
        /// 8 bytes, as `getter` but with the value's register at byte 3.
        case setter

        static let arithmetic: [Opcode] = [.sendAdd, .sendSub, .sendMul, .sendDivide]
        static let comparisons: [Opcode] = [.sendLess, .sendGreater, .sendLessEq, .sendGreaterEq, .sendEq, .sendNotEq]
        /// The comparison with its operands swapped (`a < b` is `b > a`, NaN or not).
        static let mirrored: [Opcode: Opcode] = [.sendLess: .sendGreater, .sendGreater: .sendLess, .sendLessEq: .sendGreaterEq,
                                                 .sendGreaterEq: .sendLessEq, .sendEq: .sendEq, .sendNotEq: .sendNotEq]
        static let inRegister: UInt8 = 0, previous: UInt8 = 1, beforePrevious: UInt8 = 2

        static func arithmetic(_ opcode: Opcode, left: UInt8, right: UInt8) -> UInt8 {
            9 * UInt8(arithmetic.firstIndex(of: opcode)!) + 3 * left + right
        }

        static func comparison(_ opcode: Opcode, left: UInt8) -> UInt8 {
            lessR.rawValue + 3 * UInt8(comparisons.firstIndex(of: opcode)!) + left
        }
    }

    private enum Value: Equatable { case constant(Int), load(Int), result(Int) }

    private enum Operation {
        case arithmetic(Opcode, left: Value, right: Value)
        /// A unary send to a temporary, run when its inline cache holds a getter (the result is the
        /// variable's value).
        case getter(temp: Int, literal: Int)
        /// A one-argument send to a temporary for effect, run when its inline cache holds a setter (the
        /// result is the value stored).
        case setter(temp: Int, literal: Int, value: Value)

        var operands: [Value] {
            switch self {
            case .arithmetic(_, let left, let right): [left, right]
            case .getter: []
            case .setter(_, _, let value): [value]
            }
        }
    }

    /// A value on the derivation's stack: a temporary is pushed as itself, and becomes a float load
    /// only where it is used as a number (it may be the receiver of a getter instead).
    private enum Operand { case value(Value), temp(Int) }

    private struct Derivation {
        var constants: [Double] = [], constantOfLiteral: [Int: Int] = [:]
        var loads: [Int] = []
        var operations: [Operation] = []
        var valueOfTemp: [Int: Value] = [:]
        var storedTemps: [Int] = []
        var comparison: (opcode: Opcode, left: Value, right: Value, ifTrue: Bool)?
        var end = 0

        var registerCount: Int { constants.count + loads.count + operations.count }

        mutating func read(temp: Int) -> Value {
            if let v = valueOfTemp[temp] { return v }
            loads.append(temp)
            valueOfTemp[temp] = .load(loads.count - 1)
            return .load(loads.count - 1)
        }

        mutating func store(_ v: Value, temp: Int) {
            if !storedTemps.contains(temp) { storedTemps.append(temp) }
            valueOfTemp[temp] = v
        }

        func register(_ v: Value) -> UInt8 {
            switch v {
            case .constant(let i): UInt8(i)
            case .load(let i): UInt8(constants.count + i)
            case .result(let i): UInt8(constants.count + loads.count + i)
            }
        }
    }

    /// The program of the float block whose covered code starts at `start` in `code` (plain or fused
    /// bytecodes): as many whole statements as qualify, the last possibly a comparison with its forward
    /// conditional jump. `floatLiteral` answers the value of a literal that is a Float, nil otherwise.
    public static func derive(_ code: [UInt8], from start: Int, floatLiteral: (Int) -> Double?) -> [UInt8] {
        var done = Derivation()
        done.end = start
        while done.comparison == nil, let next = statement(code, done, floatLiteral) { done = next }
        var program = encode(done, covered: done.end - start)
        guard program.count > headerSize else { return program }
        // The loop tail: from the conditional jump's target first (an `ifTrue:` that is rarely taken), else
        // from the end.
        let block = start - Opcode.floatBlock.length
        var tail: [UInt8]? = nil, afterJump = false
        if done.comparison != nil, let jump = plainInstruction(code, at: done.end - Opcode.jumpIfTrue.length) {
            tail = FloatLoopTail.derive(code, block: block, from: done.end + jump.a)
            afterJump = tail != nil
        }
        if tail == nil { tail = FloatLoopTail.derive(code, block: block, from: done.end) }
        if let tail, program.count + tail.count <= 0xFFFF {
            program[24] = UInt8(program.count & 0xFF); program[25] = UInt8(program.count >> 8)
            program[26] = afterJump ? 1 : 0
            program[27] = loadsStayDecoded(done, tailWrites: FloatLoopTail.writtenTemps(tail)) ? 1 : 0
            program += tail
        }
        return program
    }

    /// Whether every temporary the run loads still holds, when the tail comes back, the oop its register was
    /// decoded from: the run stores it into the load's own register (`sharedRegisters`) or not at all, and the
    /// tail does not write it. Then the next iteration skips the loads' checks.
    private static func loadsStayDecoded(_ d: Derivation, tailWrites: [Int]) -> Bool {
        let shared = sharedRegisters(d)
        return d.loads.enumerated().allSatisfy { load, temp in
            if tailWrites.contains(temp) { return false }
            guard d.storedTemps.contains(temp) else { return true }
            if case .result(let j)? = d.valueOfTemp[temp] { return shared[j] == load }
            return false
        }
    }

    /// `d` extended by the statement at `d.end`, or nil if it does not qualify or does not fit.
    private static func statement(_ code: [UInt8], _ d: Derivation, _ floatLiteral: (Int) -> Double?) -> Derivation? {
        var d = d, stack: [Operand] = [], pc = d.end
        func value(_ o: Operand) -> Value {
            switch o {
            case .value(let v): v
            case .temp(let t): d.read(temp: t)
            }
        }
        /// A temporary's receiver for a send: one the run does not assign (its frame slot is its value).
        func receiver(_ o: Operand) -> Int? {
            if case .temp(let t) = o, !d.storedTemps.contains(t) { return t }
            return nil
        }
        while let ins = plainInstruction(code, at: pc) {
            pc += ins.opcode.length
            switch ins.opcode {
            case .pushTemp:
                stack.append(.temp(ins.a))
            case .pushLiteral:
                guard let value = floatLiteral(ins.a) else { return nil }
                if d.constantOfLiteral[ins.a] == nil {
                    d.constants.append(value)
                    d.constantOfLiteral[ins.a] = d.constants.count - 1
                }
                stack.append(.value(.constant(d.constantOfLiteral[ins.a]!)))
            case .sendAdd, .sendSub, .sendMul, .sendDivide:
                guard stack.count >= 2 else { return nil }
                let right = value(stack.removeLast()), left = value(stack.removeLast())
                d.operations.append(.arithmetic(ins.opcode, left: left, right: right))
                stack.append(.value(.result(d.operations.count - 1)))
            case .send where ins.b == 0:
                guard let top = stack.popLast(), let t = receiver(top) else { return nil }
                d.operations.append(.getter(temp: t, literal: ins.a))
                stack.append(.value(.result(d.operations.count - 1)))
            case .send where ins.b == 1:
                guard stack.count == 2, let t = receiver(stack[0]),
                      let pop = plainInstruction(code, at: pc), pop.opcode == .pop else { return nil }
                d.operations.append(.setter(temp: t, literal: ins.a, value: value(stack[1])))
                d.end = pc + pop.opcode.length
                return fits(d) ? d : nil
            case .storeTemp, .popStoreTemp:
                guard !stack.isEmpty else { return nil }
                // A push of the temporary before this store is its value before the store.
                for k in stack.indices { if case .temp(ins.a) = stack[k] { stack[k] = .value(d.read(temp: ins.a)) } }
                d.store(value(stack[stack.count - 1]), temp: ins.a)
                if ins.opcode == .popStoreTemp {
                    guard stack.count == 1 else { return nil }
                    d.end = pc
                    return fits(d) ? d : nil
                }
                stack[stack.count - 1] = .value(d.valueOfTemp[ins.a]!)
            case _ where ins.opcode.isComparison:
                guard stack.count == 2, let jump = plainInstruction(code, at: pc),
                      jump.opcode == .jumpIfTrue || jump.opcode == .jumpIfFalse, jump.a >= 0 else { return nil }
                d.comparison = (ins.opcode, value(stack[0]), value(stack[1]), jump.opcode == .jumpIfTrue)
                d.end = pc + jump.opcode.length
                return fits(d) ? d : nil
            default:
                return nil
            }
        }
        return nil
    }

    private static func fits(_ d: Derivation) -> Bool {
        d.registerCount <= maxRegisters && d.storedTemps.count <= maxRegisters && d.end <= 0xFFFF
    }

    /// The instruction at `pc` with a superinstruction read as the instruction it replaced; nil past the end.
    private static func plainInstruction(_ code: [UInt8], at pc: Int) -> Instruction? {
        guard pc < code.count, let fused = Opcode(rawValue: code[pc]) else { return nil }
        let op = Superinstructions.replaced(by: fused)
        guard pc + op.length <= code.count else { return nil }
        var bytes = code[pc..<pc + op.length].map { $0 }
        bytes[0] = op.rawValue
        return Instruction.decode(bytes)?.first
    }

    private static func encode(_ d: Derivation, covered: Int) -> [UInt8] {
        guard covered > 0 else { return [UInt8](repeating: 0, count: headerSize) }
        let registersSize = 8 * d.registerCount
        let decodedFromOffset = headerSize + registersSize
        let savedOffset = decodedFromOffset + 8 * (d.loads.count + 1)
        let undoOffset = savedOffset + 8 * d.storedTemps.count
        let setters = d.operations.filter { if case .setter = $0 { true } else { false } }.count
        let codeOffset = undoOffset + 24 * setters
        var out: [UInt8] = [UInt8(covered & 0xFF), UInt8(covered >> 8), UInt8(d.constants.count), UInt8(d.loads.count),
                            UInt8(d.operations.count), UInt8(d.storedTemps.count),
                            d.comparison?.opcode.rawValue ?? 0, d.comparison?.ifTrue == true ? 1 : 0]
        for offset in [decodedFromOffset, savedOffset, codeOffset, undoOffset] { out += [UInt8(offset & 0xFF), UInt8(offset >> 8)] }
        out += [UInt8](repeating: 0, count: 8)     // the runs that gave up in a row
        out += [UInt8](repeating: 0, count: 8)     // the loop tail, if any (`derive`)
        for c in d.constants { withUnsafeBytes(of: c.bitPattern.littleEndian) { out += $0 } }
        out += [UInt8](repeating: 0, count: codeOffset - out.count)
        for temp in d.loads { out.append(UInt8(bitPattern: Int8(temp))) }
        let shared = sharedRegisters(d)
        func register(_ v: Value) -> UInt8 {
            if case .result(let j) = v, let load = shared[j] { return d.register(.load(load)) }
            return d.register(v)
        }
        /// Where the operation (or comparison) at `i` finds operand `v`.
        func place(_ v: Value, before i: Int) -> UInt8 {
            v == .result(i - 1) ? Step.previous : v == .result(i - 2) ? Step.beforePrevious : Step.inRegister
        }
        for (i, op) in d.operations.enumerated() {
            switch op {
            case .arithmetic(let opcode, let left, let right):
                let step = Step.arithmetic(opcode, left: place(left, before: i), right: place(right, before: i))
                out += [step, register(.result(i)), register(left), register(right)]
            case .getter(let temp, let literal):
                out += [Step.getter.rawValue, register(.result(i)), UInt8(bitPattern: Int8(temp)), 0,
                        UInt8(literal & 0xFF), register(.result(i)), UInt8(literal >> 8), 0]
            case .setter(let temp, let literal, let value):
                out += [Step.setter.rawValue, register(.result(i)), UInt8(bitPattern: Int8(temp)), register(value),
                        UInt8(literal & 0xFF), register(.result(i)), UInt8(literal >> 8), 0]
            }
        }
        if var c = d.comparison {
            let k = d.operations.count
            if place(c.left, before: k) == Step.inRegister && place(c.right, before: k) != Step.inRegister {
                c = (Step.mirrored[c.opcode]!, c.right, c.left, c.ifTrue)
            }
            out += [Step.comparison(c.opcode, left: place(c.left, before: k)), 0, register(c.left), register(c.right)]
        } else {
            out += [Step.end.rawValue, 0, 0, 0]
        }
        for temp in d.storedTemps {
            let value = d.valueOfTemp[temp]!
            // The slot of `decodedFrom` the stored oop goes to: its load's when the value is already in that
            // load's register, else the spare slot (so the next run decodes the temporary again).
            var slot = UInt8(d.loads.count)
            if case .result(let j) = value, let load = shared[j], d.loads[load] == temp { slot = UInt8(load) }
            out += [UInt8(bitPattern: Int8(temp)), register(value), slot]
        }
        return out
    }

    /// The operations whose result gets the register of a load instead of its own (result index → load
    /// index): the result is the temporary's last value, and nothing after that operation reads the value
    /// the temporary had before — so the run leaves the next run's decoded value in the load's register.
    private static func sharedRegisters(_ d: Derivation) -> [Int: Int] {
        var shared: [Int: Int] = [:]
        for (load, temp) in d.loads.enumerated() {
            guard d.storedTemps.contains(temp), case .result(let j)? = d.valueOfTemp[temp], shared[j] == nil else { continue }
            let old = Value.load(load)
            let readLater = d.operations[(j + 1)...].contains { $0.operands.contains(old) }
                || d.comparison.map { $0.left == old || $0.right == old } == true
                || d.storedTemps.contains { d.valueOfTemp[$0] == old }
            if !readLater { shared[j] = load }
        }
        return shared
    }
}

extension VM {
    static let sqrtPrimitive = 55

    /// Runs the float block at `ip`; answers the address of the instruction to run next: after the statements
    /// it ran, or the first of them when they must run as bytecodes.
    @inline(never) func runFloatBlock(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>) -> UnsafeMutablePointer<UInt8> {
        let lits = words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1
        var program = lits[Int(ip[1]) | Int(ip[2]) << 8]
        if program == nilObj {
            guard let made = makeFloatProgram(ip, fp) else { return ip + Opcode.floatBlock.length }
            program = made
        }
        // Blocks with a loop tail run in a copy of their own, so that the loop leaves the others' code as it was.
        if words(program)[4] & 0xFFFF != 0 { return runLoopingFloatBlock(ip, fp, lits, program) }
        return floatStatements(ip, fp, lits, program, looping: false) ?? ip + Opcode.floatBlock.length
    }

    @inline(never) private func runLoopingFloatBlock(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>,
                                                     _ lits: UnsafeMutablePointer<Oop>, _ program: Oop) -> UnsafeMutablePointer<UInt8> {
        floatStatements(ip, fp, lits, program, looping: true) ?? ip + Opcode.floatBlock.length
    }

    /// The address after the statements of the float block at `ip` when it ran them, nil if they must run as
    /// bytecodes. `looping`: the program has a loop tail, which may bring the run back for another iteration.
    @inline(__always) private func floatStatements(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>,
                                                   _ lits: UnsafeMutablePointer<Oop>, _ program: Oop,
                                                   looping: Bool) -> UnsafeMutablePointer<UInt8>? {
        let header = words(program)[1]
        let covered = Int(header & 0xFFFF)
        if covered == 0 { return nil }
        let loads = Int(header >> 24 & 0xFF), stores = Int(header >> 40 & 0xFF)
        let base = UnsafeMutableRawPointer(words(program) + 1)
        let offsets = words(program)[2]
        let r = (base + FloatProgram.headerSize).assumingMemoryBound(to: Double.self)
        let decodedFrom = (base + Int(offsets & 0xFFFF)).assumingMemoryBound(to: Oop.self)
        let saved = (base + Int(offsets >> 16 & 0xFFFF)).assumingMemoryBound(to: Oop.self)
        let code = UnsafeRawPointer(base + Int(offsets >> 32 & 0xFFFF))
        let undo = (base + Int(offsets >> 48)).assumingMemoryBound(to: UInt64.self)
        let constants = Int(header >> 16 & 0xFF)

        let failures = words(program) + 3
        /// Counts a run that gives up; after `failuresBeforeGivingUp` in a row the block covers nothing.
        @inline(never) func failed() -> UnsafeMutablePointer<UInt8>? {
            failures.pointee += 1
            if failures.pointee >= FloatProgram.failuresBeforeGivingUp { words(program)[1] &= ~0xFFFF }
            return nil
        }
        /// Gives up after the first `setters` setters ran: undoes their stores, latest first, and — since
        /// registers may hold values no temporary holds yet — has the next run decode every temporary again.
        @inline(never) func giveUp(_ setters: Int) -> UnsafeMutablePointer<UInt8>? {
            for k in (0..<setters).reversed() { store(undo[3 * k], Int(undo[3 * k + 1]), undo[3 * k + 2]) }
            decodedFrom.update(repeating: 0, count: loads)
            return failed()
        }
        // A loop tail (FloatBlockLoops.swift) brings the run back here for the loop's next iteration.
        var checkLoads = true
        while true {
            if checkLoads {
                for i in 0..<loads {
                    let o = fp[Int(code.load(fromByteOffset: i, as: Int8.self))]
                    if o != decodedFrom[i] {
                        guard isSmallFloat(o) else { return failed() }
                        r[constants + i] = smallFloatValue(o)
                        decodedFrom[i] = o
                    }
                }
            }
            var setters = 0
            var op = code + loads
            var previous = 0.0, beforePrevious = 0.0
            // The covered code ends with the conditional jump; take it as it would be taken.
            var jumps = false
            let jumpsIfTrue = header >> 56 == 1
            @inline(__always) func decide(_ holds: Bool) { jumps = holds == jumpsIfTrue }
            @inline(__always) func register(_ k: Int) -> Double { r[Int(op.load(fromByteOffset: k, as: UInt8.self))] }
            operations: while true {
                let result: Double
                switch op.load(as: FloatProgram.Step.self) {
                case .addRR: result = register(2) + register(3)
                case .addRP: result = register(2) + previous
                case .addRQ: result = register(2) + beforePrevious
                case .addPR: result = previous + register(3)
                case .addPP: result = previous + previous
                case .addPQ: result = previous + beforePrevious
                case .addQR: result = beforePrevious + register(3)
                case .addQP: result = beforePrevious + previous
                case .addQQ: result = beforePrevious + beforePrevious
                case .subtractRR: result = register(2) - register(3)
                case .subtractRP: result = register(2) - previous
                case .subtractRQ: result = register(2) - beforePrevious
                case .subtractPR: result = previous - register(3)
                case .subtractPP: result = previous - previous
                case .subtractPQ: result = previous - beforePrevious
                case .subtractQR: result = beforePrevious - register(3)
                case .subtractQP: result = beforePrevious - previous
                case .subtractQQ: result = beforePrevious - beforePrevious
                case .multiplyRR: result = register(2) * register(3)
                case .multiplyRP: result = register(2) * previous
                case .multiplyRQ: result = register(2) * beforePrevious
                case .multiplyPR: result = previous * register(3)
                case .multiplyPP: result = previous * previous
                case .multiplyPQ: result = previous * beforePrevious
                case .multiplyQR: result = beforePrevious * register(3)
                case .multiplyQP: result = beforePrevious * previous
                case .multiplyQQ: result = beforePrevious * beforePrevious
                // The ordinary path signals ZeroDivide: leave it to the bytecodes.
                case .divideRR: guard register(3) != 0 else { return giveUp(setters) }; result = register(2) / register(3)
                case .divideRP: guard previous != 0 else { return giveUp(setters) }; result = register(2) / previous
                case .divideRQ: guard beforePrevious != 0 else { return giveUp(setters) }; result = register(2) / beforePrevious
                case .dividePR: guard register(3) != 0 else { return giveUp(setters) }; result = previous / register(3)
                case .dividePP: guard previous != 0 else { return giveUp(setters) }; result = previous / previous
                case .dividePQ: guard beforePrevious != 0 else { return giveUp(setters) }; result = previous / beforePrevious
                case .divideQR: guard register(3) != 0 else { return giveUp(setters) }; result = beforePrevious / register(3)
                case .divideQP: guard previous != 0 else { return giveUp(setters) }; result = beforePrevious / previous
                case .divideQQ: guard beforePrevious != 0 else { return giveUp(setters) }; result = beforePrevious / beforePrevious
                case .lessR: decide(register(2) < register(3)); break operations
                case .lessP: decide(previous < register(3)); break operations
                case .lessQ: decide(beforePrevious < register(3)); break operations
                case .greaterR: decide(register(2) > register(3)); break operations
                case .greaterP: decide(previous > register(3)); break operations
                case .greaterQ: decide(beforePrevious > register(3)); break operations
                case .lessOrEqualR: decide(register(2) <= register(3)); break operations
                case .lessOrEqualP: decide(previous <= register(3)); break operations
                case .lessOrEqualQ: decide(beforePrevious <= register(3)); break operations
                case .greaterOrEqualR: decide(register(2) >= register(3)); break operations
                case .greaterOrEqualP: decide(previous >= register(3)); break operations
                case .greaterOrEqualQ: decide(beforePrevious >= register(3)); break operations
                case .equalR: decide(register(2) == register(3)); break operations
                case .equalP: decide(previous == register(3)); break operations
                case .equalQ: decide(beforePrevious == register(3)); break operations
                case .notEqualR: decide(register(2) != register(3)); break operations
                case .notEqualP: decide(previous != register(3)); break operations
                case .notEqualQ: decide(beforePrevious != register(3)); break operations
                case .end: break operations
                case .getter:
                    let receiver = fp[Int(op.load(fromByteOffset: 2, as: Int8.self))]
                    let literal = Int(op.load(fromByteOffset: 4, as: UInt8.self)) | Int(op.load(fromByteOffset: 6, as: UInt8.self)) << 8
                    guard lits[literal + 1] == intOop(classIndexOf(receiver)) | cacheEpochBits else { return giveUp(setters) }
                    let entry = lits[literal + 2]
                    if let v = getterValue(entry, receiver) {
                        guard isSmallFloat(v) else { return giveUp(setters) }
                        result = smallFloatValue(v)
                    } else if isSmallFloat(receiver) && !isSmallInt(entry) && fetch(entry, CodeLayout.primitive) == intOop(Self.sqrtPrimitive) {
                        // The primitive answers the root of a SmallFloat64 (NaN for a negative one) as a Float.
                        result = smallFloatValue(receiver).squareRoot()
                    } else {
                        return giveUp(setters)
                    }
                    op += 4     // (the step is 8 bytes: its result register is read from the second half)
                case .setter:
                    let receiver = fp[Int(op.load(fromByteOffset: 2, as: Int8.self))]
                    let literal = Int(op.load(fromByteOffset: 4, as: UInt8.self)) | Int(op.load(fromByteOffset: 6, as: UInt8.self)) << 8
                    result = register(3)
                    guard lits[literal + 1] == intOop(classIndexOf(receiver)) | cacheEpochBits,
                          let index = setterIndex(lits[literal + 2], receiver), let o = smallFloatOop(result) else { return giveUp(setters) }
                    undo[3 * setters] = receiver; undo[3 * setters + 1] = UInt64(index); undo[3 * setters + 2] = fetch(receiver, index)
                    setters += 1
                    store(receiver, index, o)
                    op += 4
                }
                r[Int(op.load(fromByteOffset: 1, as: UInt8.self))] = result
                beforePrevious = previous
                previous = result
                op += 4
            }
            // Each store goes to its temporary at once, the temporary's old value kept, and is undone if a later
            // value cannot be encoded: all or nothing.
            let storeCode = op + 4
            for i in 0..<stores {
                let temp = Int(storeCode.load(fromByteOffset: 3 * i, as: Int8.self))
                guard let o = smallFloatOop(r[Int(storeCode.load(fromByteOffset: 3 * i + 1, as: UInt8.self))]) else {
                    for k in 0..<i { fp[Int(storeCode.load(fromByteOffset: 3 * k, as: Int8.self))] = saved[k] }
                    return giveUp(setters)
                }
                saved[i] = fp[temp]
                fp[temp] = o
                decodedFrom[Int(storeCode.load(fromByteOffset: 3 * i + 2, as: UInt8.self))] = o
            }
            if failures.pointee != 0 { failures.pointee = 0 }
            let end = ip + Opcode.floatBlock.length + covered
            let next = jumps ? end + Int(Int16(bitPattern: UInt16(end[-2]) | UInt16(end[-1]) << 8)) : end
            let tail = words(program)[4]
            guard looping, jumps == (tail >> 16 & 0xFF == 1) else { return next }
            if let exit = runLoopTail(base + Int(tail & 0xFFFF), ip, fp) { return exit }
            checkLoads = tail >> 24 & 0xFF == 0
        }
    }

    /// Derives the program of the float block at `ip` from the bytecodes after it and keeps it in its slot
    /// (like an inline cache: not a change of the literal frame); nil if the heap has no room for it.
    @inline(never) private func makeFloatProgram(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>) -> Oop? {
        let method = fp[FrameSlot.method]
        let bytecodes = fetch(method, CodeLayout.bytecodes), literals = fetch(method, CodeLayout.literals)
        let start = bytesOf(bytecodes).distance(to: ip) + Opcode.floatBlock.length
        let code = Array(UnsafeBufferPointer(start: bytesOf(bytecodes), count: indexableSize(bytecodes)))
        let count = numSlotsOf(literals)
        let bytes = FloatProgram.derive(code, from: start) { k in k < count ? floatValue(fetch(literals, k)) : nil }
        guard let program = newBytes(bytes, root: .classByteArray) else { return nil }
        let slot = Int(ip[1]) | Int(ip[2]) << 8
        words(literals)[1 + slot] = program
        if literals >= oldStart && literals < oldEnd && isYoung(program) { remember(literals, slot: words(literals) + 1 + slot) }
        return program
    }
}
