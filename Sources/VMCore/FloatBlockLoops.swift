// Float blocks that loop: the SmallInteger and Boolean steps that lead from the end of a float block back to
// it (a loop's counter, its closing jump and its test), run by the block itself, so that a loop like
// Mandelbrot's inner one (`[notDone and: [z < 50]] whileTrue: [ …float statements… z := z + 1]`) runs
// iteration after iteration in one dispatch.
//
// The tail is one path through the bytecodes, from where the block's run continues (after its conditional
// jump, taken or not) back to the block's own instruction: `t := s + k` / `t := s - k` on SmallIntegers,
// `temp` tested by a conditional jump, `a < b` on SmallIntegers (a temporary against a temporary or a
// constant) feeding a conditional jump, and unconditional jumps. Each step does what its
// bytecodes do when its fast path applies; when it does not (not a SmallInteger or a Boolean, an
// overflow), or a test goes the other way than the path, or the loop's backward jump is where a safepoint
// is due, the block answers that instruction's address (or the test's other destination) and the
// interpreter goes on from there as if it had run every instruction before it. A backward jump counts
// down to the next safepoint as the interpreter's does, so interrupts and process switches happen at the
// same jumps.

/// A loop tail's steps, 8 bytes each: the step, three operands, the step's instruction (i16, from the float
/// block's instruction), and where a test that goes the other way continues (i16).
public enum LoopTailStep: UInt8, Sendable {
    /// `fp[b] := fp[a] + delta` (bytes 1 `a`, 3 `b`, 6–7 the delta as an i16): SmallIntegers, no overflow.
    case addConstant
    /// `fp[a]` is `true` or `false`; the path goes on when it is byte 3 (1: true).
    case testBoolean
    /// `fp[a] <comparison> fp[b]` (byte 3: bits 0–2 the comparison, `sendLess` + k; bit 3 set: the path
    /// goes on when the comparison holds; bit 4 set: `b` is a constant, an i8).
    case compare
    /// A backward jump: a safepoint check.
    case backwardJump
    /// Back at the float block: run it again.
    case loop

    public static let holds: UInt8 = 8, constantRight: UInt8 = 16
}

enum FloatLoopTail {
    /// At most this many instructions on the path (a loop's counter, closing jump and test take 4–6).
    static let maxInstructions = 24

    /// The steps from `pc` back to the float block at `block`, ending with `loop`; nil if the path leaves the
    /// instructions a tail can run or does not come back within `maxInstructions`.
    static func derive(_ code: [UInt8], block: Int, from pc: Int) -> [UInt8]? {
        path(code, block: block, from: pc, budget: maxInstructions)
    }

    private static func path(_ code: [UInt8], block: Int, from start: Int, budget: Int) -> [UInt8]? {
        var pc = start, budget = budget, steps: [UInt8] = []
        func step(_ s: LoopTailStep, _ a: Int, _ b: Int, _ c: UInt8, at p: Int, other: Int) -> [UInt8] {
            let at = Int16(truncatingIfNeeded: p - block), to = Int16(truncatingIfNeeded: other - block)
            return [s.rawValue, UInt8(truncatingIfNeeded: a), UInt8(truncatingIfNeeded: b), c,
                    UInt8(truncatingIfNeeded: at), UInt8(truncatingIfNeeded: at >> 8),
                    UInt8(truncatingIfNeeded: to), UInt8(truncatingIfNeeded: to >> 8)]
        }
        /// The rest of the path through the conditional jump at `jumpAt` after the test at `testAt`: the
        /// fall-through first, then the target; `test(goesOnWhenJumping)` is the step for the direction taken.
        /// A backward jump taken is a safepoint check too; when one is due, the interpreter runs the test
        /// again (it has no effect) and takes the jump itself.
        func branch(_ testAt: Int, _ jumpAt: Int, _ test: (Bool) -> [UInt8]) -> [UInt8]? {
            guard let jump = instruction(code, at: jumpAt), jump.opcode == .jumpIfTrue || jump.opcode == .jumpIfFalse else { return nil }
            let fallThrough = jumpAt + jump.opcode.length, target = fallThrough + jump.a
            if let rest = path(code, block: block, from: fallThrough, budget: budget - 1) { return steps + test(false) + rest }
            if let rest = path(code, block: block, from: target, budget: budget - 1) {
                let check = jump.a < 0 ? step(.backwardJump, 0, 0, 0, at: testAt, other: testAt) : []
                return steps + test(true) + check + rest
            }
            return nil
        }
        while budget > 0 {
            budget -= 1
            if pc == block { return steps + [LoopTailStep.loop.rawValue, 0, 0, 0, 0, 0, 0, 0] }
            guard let ins = instruction(code, at: pc) else { return nil }
            switch ins.opcode {
            case .jump:
                let target = pc + ins.opcode.length + ins.a
                if ins.a < 0 { steps += step(.backwardJump, 0, 0, 0, at: pc, other: target) }
                pc = target
                continue
            case .pushTemp:
                break
            default:
                return nil
            }
            guard let second = instruction(code, at: pc + 2) else { return nil }
            let p = pc
            switch second.opcode {
            case .jumpIfTrue, .jumpIfFalse:
                // `temp` tested: the path goes on when it is the Boolean that leads there.
                let jumpsIfTrue = second.opcode == .jumpIfTrue
                let target = p + 2 + second.opcode.length + second.a
                return branch(p, p + 2) { jumping in
                    let goesOnWhenTrue = jumping == jumpsIfTrue
                    return step(.testBoolean, ins.a, 0, goesOnWhenTrue ? 1 : 0, at: p,
                                other: jumping ? p + 2 + second.opcode.length : target)
                }
            case .pushInt8, .pushTemp:
                guard let third = instruction(code, at: pc + 4) else { return nil }
                if third.opcode.isComparison {
                    let index = third.opcode.rawValue - Opcode.sendLess.rawValue
                    guard let jump = instruction(code, at: pc + 5), jump.opcode == .jumpIfTrue || jump.opcode == .jumpIfFalse else {
                        return nil
                    }
                    let fallThrough = pc + 5 + jump.opcode.length, target = fallThrough + jump.a
                    let right: UInt8 = second.opcode == .pushInt8 ? LoopTailStep.constantRight : 0
                    return branch(p, pc + 5) { jumping in
                        let goesOnWhenHolding = jumping == (jump.opcode == .jumpIfTrue)
                        return step(.compare, ins.a, second.a, index | right | (goesOnWhenHolding ? LoopTailStep.holds : 0),
                                    at: p, other: jumping ? fallThrough : target)
                    }
                }
                guard second.opcode == .pushInt8, third.opcode == .sendAdd || third.opcode == .sendSub,
                      let store = instruction(code, at: pc + 5), store.opcode == .popStoreTemp else { return nil }
                let delta = third.opcode == .sendAdd ? second.a : -second.a
                steps += step(.addConstant, ins.a, 0, UInt8(truncatingIfNeeded: store.a), at: p, other: p)
                steps[steps.count - 2] = UInt8(truncatingIfNeeded: delta)
                steps[steps.count - 1] = UInt8(truncatingIfNeeded: delta >> 8)
                pc += 7
            default:
                return nil
            }
        }
        return nil
    }

    /// The temporaries the tail's steps store into.
    static func writtenTemps(_ tail: [UInt8]) -> [Int] {
        stride(from: 0, to: tail.count, by: 8).compactMap { k in
            tail[k] == LoopTailStep.addConstant.rawValue ? Int(Int8(bitPattern: tail[k + 3])) : nil
        }
    }

    /// The instruction at `pc`, a superinstruction read as the one it replaced; nil past the end.
    private static func instruction(_ code: [UInt8], at pc: Int) -> Instruction? {
        guard pc >= 0, pc < code.count, let fused = Opcode(rawValue: code[pc]) else { return nil }
        let op = Superinstructions.replaced(by: fused)
        guard pc + op.length <= code.count else { return nil }
        var bytes = Array(code[pc..<pc + op.length])
        bytes[0] = op.rawValue
        return Instruction.decode(bytes)?.first
    }
}

extension VM {
    /// Runs the loop tail at `steps` after a run of the float block at `block`: nil when it came back to the
    /// block, else the address of the instruction the interpreter goes on with.
    @inline(__always) func runLoopTail(_ steps: UnsafeRawPointer, _ block: UnsafeMutablePointer<UInt8>,
                                       _ fp: UnsafeMutablePointer<Oop>) -> UnsafeMutablePointer<UInt8>? {
        var s = steps
        @inline(__always) func temp(_ k: Int) -> Oop { fp[Int(s.load(fromByteOffset: k, as: Int8.self))] }
        @inline(__always) func address(_ k: Int) -> UnsafeMutablePointer<UInt8> {
            block + Int(Int16(littleEndian: s.loadUnaligned(fromByteOffset: k, as: Int16.self)))
        }
        while true {
            switch s.load(as: LoopTailStep.self) {
            case .addConstant:
                let a = temp(1)
                guard a & 1 != 0 else { return address(4) }
                let delta = Int64(Int16(littleEndian: s.loadUnaligned(fromByteOffset: 6, as: Int16.self))) << 3
                let (sum, overflow) = Int64(bitPattern: a).addingReportingOverflow(delta)
                guard !overflow else { return address(4) }
                fp[Int(s.load(fromByteOffset: 3, as: Int8.self))] = UInt64(bitPattern: sum)
            case .testBoolean:
                let v = temp(1), goesOnWhenTrue = s.load(fromByteOffset: 3, as: UInt8.self) != 0
                if v != (goesOnWhenTrue ? trueObj : falseObj) {
                    return v == (goesOnWhenTrue ? falseObj : trueObj) ? address(6) : address(4)
                }
            case .compare:
                let flags = s.load(fromByteOffset: 3, as: UInt8.self)
                let a = temp(1)
                let b = flags & LoopTailStep.constantRight != 0 ? intOop(Int(s.load(fromByteOffset: 2, as: Int8.self))) : temp(2)
                guard a & b & 1 != 0 else { return address(4) }
                if compareSmallIntegers(Opcode.sendLess.rawValue + (flags & 7), a, b) != (flags & LoopTailStep.holds != 0) { return address(6) }
            case .backwardJump:
                // The interpreter's jump stops at a safepoint when the countdown reaches 0: leave that to it.
                if safepointCountdown <= 1 { return address(4) }
                safepointCountdown &-= 1
            case .loop:
                return nil
            }
            s += 8
        }
    }
}
