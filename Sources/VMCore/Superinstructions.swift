// Superinstructions: one dispatch for a common instruction sequence.
//
// The sequences were chosen from `lo bench --stats` over the AWFY suite (Docs/VM.md). When a method
// is installed, the first opcode of each such sequence is overwritten with a fused opcode; the other
// instructions of the sequence stay where they are. So instruction boundaries, jump targets, pcs
// and the line table are unchanged, a jump into the middle of a sequence still finds the original
// instructions, and a fused opcode whose fast path does not apply (not a SmallInteger, overflow, not
// an Array) simply behaves like the instruction it replaced. Sequences may overlap.

enum Superinstructions {
    /// The code with every recognised sequence's first opcode replaced. `bytecodes` must have been
    /// verified (decodable, operands in range), and must not contain superinstructions yet.
    static func fuse(_ bytecodes: [UInt8]) -> [UInt8] {
        guard let code = Instruction.decode(bytecodes) else { return bytecodes }
        var out = bytecodes
        for i in code.indices {
            if let fused = fusedOpcode(code, at: i) { out[code[i].offset] = fused.rawValue }
        }
        return out
    }

    /// The opcode a superinstruction was written over (the first of its sequence); any other opcode itself.
    static func replaced(by op: Opcode) -> Opcode {
        switch op {
        case .pushSelfTemp, .addSelfInt8, .subSelfInt8, .branchSelfInt8: .pushSelf
        case .pushInstVarTemp, .instVarAtTemp, .incrementInstVar, .branchInstVarInt8, .pushInstVarInstVar: .pushInstVar
        case .pushTempTemp, .addTempInt8, .subTempInt8, .incrementTemp, .branchTempTemp, .branchTempInt8, .pushTempSend,
             .pushTempIsNil, .pushTempNotNil, .addTemp, .subTemp, .mulTemp, .tempOpTemp, .pushTempAtPutPop,
             .branchTempNil, .tempOpTempStore: .pushTemp
        case .atPutPop: .sendAtPut
        case .popStoreTempJump: .popStoreTemp
        case .addInt8, .subInt8: .pushInt8
        case .pushFalseAtPutPop: .pushFalse
        default: op
        }
    }

    private static func fusedOpcode(_ code: [Instruction], at i: Int) -> Opcode? {
        func op(_ k: Int) -> Opcode? { i + k < code.count ? code[i + k].opcode : nil }
        func isForwardConditionalJump(_ k: Int) -> Bool {
            guard let o = op(k), o == .jumpIfTrue || o == .jumpIfFalse else { return false }
            return code[i + k].a >= 0
        }
        /// A temporary that is the receiver of a unary send is better pushed by `pushTempSend` (the
        /// `k`-th instruction from here), which answers a getter from the inline cache itself.
        func unarySendToTemp(_ k: Int) -> Bool { op(k) == .pushTemp && op(k + 1) == .send && code[i + k + 1].b == 0 }
        switch code[i].opcode {
        case .pushSelf:
            if op(1) == .pushTemp && !unarySendToTemp(1) { return .pushSelfTemp }
            guard op(1) == .pushInt8, let o = op(2) else { return nil }
            if o.isComparison && isForwardConditionalJump(3) { return .branchSelfInt8 }
            return o == .sendAdd ? .addSelfInt8 : o == .sendSub ? .subSelfInt8 : nil
        case .pushInstVar:
            if op(1) == .pushInt8 && op(2) == .sendAdd && op(3) == .popStoreInstVar && code[i + 3].a == code[i].a {
                return .incrementInstVar
            }
            if op(1) == .pushInt8, let c = op(2), c.isComparison, isForwardConditionalJump(3) { return .branchInstVarInt8 }
            if op(1) == .pushInstVar { return .pushInstVarInstVar }
            guard op(1) == .pushTemp, !unarySendToTemp(1) else { return nil }
            return op(2) == .sendAt ? .instVarAtTemp : .pushInstVarTemp
        case .pushTemp:
            switch op(1) {
            case .pushTemp?:
                if let c = op(2), c.isComparison, isForwardConditionalJump(3) { return .branchTempTemp }
                if op(2) == .sendAdd || op(2) == .sendSub || op(2) == .sendMul {
                    return op(3) == .popStoreTemp ? .tempOpTempStore : .tempOpTemp
                }
                return unarySendToTemp(1) ? nil : .pushTempTemp
            case .pushInt8?:
                if let c = op(2), c.isComparison, isForwardConditionalJump(3) { return .branchTempInt8 }
                if op(2) == .sendAdd { return op(3) == .popStoreTemp ? .incrementTemp : .addTempInt8 }
                if op(2) == .sendSub { return .subTempInt8 }
                return nil
            case .send?: return .pushTempSend
            case .sendAtPut? where op(2) == .pop: return .pushTempAtPutPop
            case .sendIsNil?: return isForwardConditionalJump(2) ? .branchTempNil : .pushTempIsNil
            case .sendNotNil?: return isForwardConditionalJump(2) ? .branchTempNil : .pushTempNotNil
            case .sendAdd?: return .addTemp
            case .sendSub?: return .subTemp
            case .sendMul?: return .mulTemp
            default:
                return nil
            }
        case .pushInt8:
            return op(1) == .sendAdd ? .addInt8 : op(1) == .sendSub ? .subInt8 : nil
        case .sendAtPut:
            return op(1) == .pop ? .atPutPop : nil
        case .pushFalse:
            return op(1) == .sendAtPut && op(2) == .pop ? .pushFalseAtPutPop : nil
        case .popStoreTemp:
            return op(1) == .jump ? .popStoreTempJump : nil
        default:
            return nil
        }
    }
}

extension VM {
    /// `a + k` (or `a - k`) for a SmallInteger `a` and the signed byte `k` of an instruction; nil when
    /// `a` is not a SmallInteger or the result overflows.
    @_transparent func smallIntegerPlus(_ a: Oop, _ k: UInt8, negated: Bool) -> Oop? {
        guard a & 1 != 0 else { return nil }
        let delta = Int64(Int8(bitPattern: k)) << 3
        let (r, overflow) = negated ? Int64(bitPattern: a).subtractingReportingOverflow(delta)
                                    : Int64(bitPattern: a).addingReportingOverflow(delta)
        return overflow ? nil : UInt64(bitPattern: r)
    }

    /// A fused compare-and-branch on two SmallIntegers: the comparison opcode is `comparisonAt` bytes
    /// into the sequence and the forward conditional jump follows it; `ip` moves past the sequence,
    /// or to the jump's target.
    @_transparent func branch(_ a: Oop, _ b: Oop, comparisonAt c: Int, _ ip: inout UnsafeMutablePointer<UInt8>) {
        let taken = compareSmallIntegers(ip[c], a, b) == (ip[c + 1] == Opcode.jumpIfTrue.rawValue)
        ip += taken ? c + 4 + Int(Int16(bitPattern: UInt16(ip[c + 2]) | UInt16(ip[c + 3]) << 8)) : c + 4
    }

    /// The outcome of a SmallInteger comparison opcode (`sendLess` ... `sendNotEq`) on tagged values.
    @_transparent func compareSmallIntegers(_ comparison: UInt8, _ a: Oop, _ b: Oop) -> Bool {
        let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
        switch unsafeBitCast(comparison, to: Opcode.self) {
        case .sendLess: return x < y
        case .sendGreater: return x > y
        case .sendLessEq: return x <= y
        case .sendGreaterEq: return x >= y
        case .sendEq: return x == y
        default: return x != y
        }
    }
}
