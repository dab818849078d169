// Float blocks: a run of statements of float arithmetic on temporaries, run in doubles in one dispatch.
//
// The compiler emits `floatBlock k` before statements like `zr := zrzr - zizi + cr` (temporaries, float
// literals, `+ - * /`), optionally ending with the comparison of an inlined `ifTrue:` and its forward
// conditional jump. The ordinary bytecodes follow it unchanged. On its first run the instruction reads
// those bytecodes and derives a small register program (`FloatProgram.derive`), kept in its literal slot
// `k` — an inline-cache slot: empty when installed and when loaded, never saved in an image. Each run
// checks that every temporary the statements read first holds a SmallFloat64, computes in doubles, and
// checks that every value to be stored is a SmallFloat64 again; only then does it store them all and skip
// the ordinary bytecodes (taking the conditional jump itself). If any check fails (a SmallInteger, a
// boxed float, a result out of SmallFloat64 range, NaN or infinity, a division by zero) it stores
// nothing and the ordinary bytecodes run exactly as they would without it. Doubles give the same values
// as the ordinary path: every step there is the same IEEE operation, boxed or not.

/// How a program reads: a header of 8 bytes, then its registers and what the run writes, then its code.
///
///     0–1  covered bytes (u16; 0: the block never runs)   2 constants C   3 loads T   4 operations K   5 stores S
///     6    the comparison's opcode (0: none)   7  1 if the comparison feeds `jumpIfTrue`
///     then R = C + T + K + 1 doubles (the registers; the constants filled in, one spare),
///     T oops (the temporary each load register was last decoded from), S oops (the encoded stores),
///     T temp frame offsets (i8), K × (`Operation`, result, left, right registers),
///     S × (temp frame offset, register, the load register to update or 255), the comparison's two registers
///
/// Registers: the constants first, then the temporaries loaded, then one per operation, in order. An
/// operand that is the previous operation's result is marked in its `Operation` byte (in the comparison it
/// names register R − 1, the spare): the run keeps that value in a machine register, so a chain like
/// `2.0 * zr * zi + ci` waits for no store to memory. The program is the run's scratch memory too (a run cannot be interrupted, and no send happens
/// during one): a load whose temporary holds the oop it was last decoded from keeps its register, and
/// a store of a temporary that the next run loads updates that load's register and oop — so a loop's
/// values go from one run to the next without being encoded and decoded on the way.
public enum FloatProgram {
    /// At most this many registers (constants, loads and results) and stores.
    public static let maxRegisters = 64
    static let headerSize = 8

    /// An operation's first byte: what it computes, and which operands are the previous result (so that
    /// each runs as one case of one switch, with no test of its operands).
    enum Operation {
        static let add: UInt8 = 0, subtract: UInt8 = 1, multiply: UInt8 = 2, divide: UInt8 = 3
        static let leftIsPrevious: UInt8 = 4, rightIsPrevious: UInt8 = 8
    }

    private enum Value: Equatable { case constant(Int), load(Int), result(Int) }

    private struct Derivation {
        var constants: [Double] = [], constantOfLiteral: [Int: Int] = [:]
        var loads: [Int] = []
        var operations: [(opcode: Opcode, left: Value, right: Value)] = []
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
        return encode(done, covered: done.end - start)
    }

    /// `d` extended by the statement at `d.end`, or nil if it does not qualify or does not fit.
    private static func statement(_ code: [UInt8], _ d: Derivation, _ floatLiteral: (Int) -> Double?) -> Derivation? {
        var d = d, stack: [Value] = [], pc = d.end
        while let ins = plainInstruction(code, at: pc) {
            pc += ins.opcode.length
            switch ins.opcode {
            case .pushTemp:
                stack.append(d.read(temp: ins.a))
            case .pushLiteral:
                guard let value = floatLiteral(ins.a) else { return nil }
                if d.constantOfLiteral[ins.a] == nil {
                    d.constants.append(value)
                    d.constantOfLiteral[ins.a] = d.constants.count - 1
                }
                stack.append(.constant(d.constantOfLiteral[ins.a]!))
            case .sendAdd, .sendSub, .sendMul, .sendDivide:
                guard stack.count >= 2 else { return nil }
                let right = stack.removeLast(), left = stack.removeLast()
                d.operations.append((ins.opcode, left, right))
                stack.append(.result(d.operations.count - 1))
            case .storeTemp, .popStoreTemp:
                guard let top = stack.last else { return nil }
                d.store(top, temp: ins.a)
                if ins.opcode == .popStoreTemp {
                    guard stack.count == 1 else { return nil }
                    d.end = pc
                    return fits(d) ? d : nil
                }
            case _ where ins.opcode.isComparison:
                guard stack.count == 2, let jump = plainInstruction(code, at: pc),
                      jump.opcode == .jumpIfTrue || jump.opcode == .jumpIfFalse, jump.a >= 0 else { return nil }
                d.comparison = (ins.opcode, stack[0], stack[1], jump.opcode == .jumpIfTrue)
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
        var out: [UInt8] = [UInt8(covered & 0xFF), UInt8(covered >> 8), UInt8(d.constants.count), UInt8(d.loads.count),
                            UInt8(d.operations.count), UInt8(d.storedTemps.count),
                            d.comparison?.opcode.rawValue ?? 0, d.comparison?.ifTrue == true ? 1 : 0]
        for c in d.constants { withUnsafeBytes(of: c.bitPattern.littleEndian) { out += $0 } }
        out += [UInt8](repeating: 0, count: 8 * (d.loads.count + d.operations.count + 1 + d.loads.count + d.storedTemps.count))
        for temp in d.loads { out.append(UInt8(bitPattern: Int8(temp))) }
        let previousResult = UInt8(d.registerCount)
        /// An operand of operation `i` (or of the comparison after the last one).
        func operand(_ v: Value, at i: Int) -> UInt8 { v == .result(i - 1) ? previousResult : d.register(v) }
        for (i, op) in d.operations.enumerated() {
            let kind: UInt8 = op.opcode == .sendAdd ? Operation.add : op.opcode == .sendSub ? Operation.subtract
                : op.opcode == .sendMul ? Operation.multiply : Operation.divide
            let shape = (op.left == .result(i - 1) ? Operation.leftIsPrevious : 0) | (op.right == .result(i - 1) ? Operation.rightIsPrevious : 0)
            out += [kind | shape, d.register(.result(i)), d.register(op.left), d.register(op.right)]
        }
        for temp in d.storedTemps {
            let value = d.valueOfTemp[temp]!
            // A load register is refreshed from a result or a constant (never from another load register,
            // which the same commit may be refreshing: `t := a. a := b. b := t`).
            let refreshed: UInt8
            if case .load = value { refreshed = 255 } else { refreshed = d.loads.firstIndex(of: temp).map { d.register(.load($0)) } ?? 255 }
            out += [UInt8(bitPattern: Int8(temp)), d.register(value), refreshed]
        }
        if let c = d.comparison { out += [operand(c.left, at: d.operations.count), operand(c.right, at: d.operations.count)] }
        return out
    }
}

extension VM {
    /// Runs the float block at `ip`; answers the address of the instruction to run next: after the statements
    /// it ran, or the first of them when they must run as bytecodes.
    @inline(never) func runFloatBlock(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>) -> UnsafeMutablePointer<UInt8> {
        floatStatements(ip, fp, words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1) ?? ip + Opcode.floatBlock.length
    }

    /// The address after the statements of the float block at `ip` when it ran them, nil if they must run as
    /// bytecodes.
    @inline(__always) private func floatStatements(_ ip: UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>,
                                                   _ lits: UnsafeMutablePointer<Oop>) -> UnsafeMutablePointer<UInt8>? {
        var program = lits[Int(ip[1]) | Int(ip[2]) << 8]
        if program == nilObj {
            guard let made = makeFloatProgram(ip, fp) else { return nil }
            program = made
        }
        let header = words(program)[1]
        let covered = Int(header & 0xFFFF)
        if covered == 0 { return nil }
        let constants = Int(header >> 16 & 0xFF), loads = Int(header >> 24 & 0xFF)
        let operations = Int(header >> 32 & 0xFF), stores = Int(header >> 40 & 0xFF)
        let registerCount = constants + loads + operations
        let r = UnsafeMutableRawPointer(words(program) + 2).assumingMemoryBound(to: Double.self)
        let decodedFrom = UnsafeMutableRawPointer(r + registerCount + 1).assumingMemoryBound(to: Oop.self)
        let encoded = decodedFrom + loads
        let code = UnsafeRawPointer(encoded + stores)
        let end = ip + Opcode.floatBlock.length + covered

        for i in 0..<loads {
            let o = fp[Int(code.load(fromByteOffset: i, as: Int8.self))]
            if o != decodedFrom[i] {
                guard isSmallFloat(o) else { return nil }
                r[constants + i] = smallFloatValue(o)
                decodedFrom[i] = o
            }
        }
        var op = code + loads
        var previous = 0.0
        @inline(__always) func register(_ at: UnsafeRawPointer, _ k: Int) -> Double { r[Int(at.load(fromByteOffset: k, as: UInt8.self))] }
        typealias O = FloatProgram.Operation
        let isPrevious = O.leftIsPrevious | O.rightIsPrevious
        for _ in 0..<operations {
            let result: Double
            switch op.load(as: UInt8.self) {
            case O.add: result = register(op, 2) + register(op, 3)
            case O.add | O.leftIsPrevious: result = previous + register(op, 3)
            case O.add | O.rightIsPrevious: result = register(op, 2) + previous
            case O.add | isPrevious: result = previous + previous
            case O.subtract: result = register(op, 2) - register(op, 3)
            case O.subtract | O.leftIsPrevious: result = previous - register(op, 3)
            case O.subtract | O.rightIsPrevious: result = register(op, 2) - previous
            case O.subtract | isPrevious: result = previous - previous
            case O.multiply: result = register(op, 2) * register(op, 3)
            case O.multiply | O.leftIsPrevious: result = previous * register(op, 3)
            case O.multiply | O.rightIsPrevious: result = register(op, 2) * previous
            case O.multiply | isPrevious: result = previous * previous
            default:
                // The ordinary path signals ZeroDivide: leave it to the bytecodes.
                let shape = op.load(as: UInt8.self) & isPrevious
                let a = shape & O.leftIsPrevious != 0 ? previous : register(op, 2)
                let b = shape & O.rightIsPrevious != 0 ? previous : register(op, 3)
                if b == 0 { return nil }
                result = a / b
            }
            r[Int(op.load(fromByteOffset: 1, as: UInt8.self))] = result
            previous = result
            op += 4
        }
        let storeCode = op
        for i in 0..<stores {
            guard let o = smallFloatOop(r[Int(storeCode.load(fromByteOffset: 3 * i + 1, as: UInt8.self))]) else { return nil }
            encoded[i] = o
        }
        for i in 0..<stores {
            fp[Int(storeCode.load(fromByteOffset: 3 * i, as: Int8.self))] = encoded[i]
            let refreshed = Int(storeCode.load(fromByteOffset: 3 * i + 2, as: UInt8.self))
            if refreshed != 255 {
                r[refreshed] = r[Int(storeCode.load(fromByteOffset: 3 * i + 1, as: UInt8.self))]
                decodedFrom[refreshed - constants] = encoded[i]
            }
        }
        let comparison = UInt8(truncatingIfNeeded: header >> 48)
        if comparison == 0 { return end }
        let comparisonCode = storeCode + 3 * stores
        @inline(__always) func operand(_ register: UInt8) -> Double {
            Int(register) == registerCount ? previous : r[Int(register)]
        }
        let a = operand(comparisonCode.load(as: UInt8.self)), b = operand(comparisonCode.load(fromByteOffset: 1, as: UInt8.self))
        let holds: Bool
        switch comparison {
        case Opcode.sendLess.rawValue: holds = a < b
        case Opcode.sendGreater.rawValue: holds = a > b
        case Opcode.sendLessEq.rawValue: holds = a <= b
        case Opcode.sendGreaterEq.rawValue: holds = a >= b
        case Opcode.sendEq.rawValue: holds = a == b
        default: holds = a != b
        }
        // The covered code ends with the conditional jump; take it as it would be taken.
        guard holds == (header >> 56 == 1) else { return end }
        return end + Int(Int16(bitPattern: UInt16(end[-2]) | UInt16(end[-1]) << 8))
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
