// Value primitives: those that only compute an answer from their receiver and arguments — no frame
// built, no stack rearranged, no process switched. The interpreter answers them at the send through
// one switch (`answerPrimitive`) and a plain Oop, without `primitive`'s PrimitiveOutcome; the other
// primitives are `otherPrimitive`'s (Primitives.swift).

/// What `answerPrimitive` answers besides a value. Neither is an Oop: no object lives at address 0 or 8.
enum PrimitiveAnswer {
    /// The primitive failed: the method's code runs (once ghosts among the operands are loaded).
    static let failed: Oop = 0
    /// Not a value primitive: `otherPrimitive` runs it.
    static let notHere: Oop = 8

    /// Whether an answer is a value (neither `failed` nor `notHere`): one test.
    @_transparent static func isValue(_ answer: Oop) -> Bool { answer & ~notHere != 0 }
}

extension VM {
    /// Runs primitive `n` if it is a value primitive; receiver and arguments are the top `nargs + 1`
    /// slots at `sp` (`self.sp` too: allocation may collect garbage). Answers the value, `failed` or
    /// `notHere`; the stack is left as it was.
    @inline(never)
    func answerPrimitive(_ n: Int, _ sp: UnsafeMutablePointer<Oop>, _ nargs: Int) -> Oop {
        let rcvr = sp[-nargs]
        // The commonest first, each with its argument count tested in its case.
        switch n {
        case 55:
            // Float>>sqrt (NBody): a SmallFloat64's root without `numericUnaryPrimitive`'s generality.
            guard nargs == 0 else { return PrimitiveAnswer.failed }
            if isSmallFloat(rcvr) { return newFloat(smallFloatValue(rcvr).squareRoot()) ?? PrimitiveAnswer.failed }
            return numericUnaryPrimitive(n, rcvr) ?? PrimitiveAnswer.failed
        case 70:
            guard nargs == 0 else { return PrimitiveAnswer.failed }
            return newInstanceWithNamedSlots(rcvr) ?? basicNew(rcvr, size: nil) ?? PrimitiveAnswer.failed
        case 71:
            guard nargs == 1 else { return PrimitiveAnswer.failed }
            return basicNew(rcvr, size: sp.pointee) ?? PrimitiveAnswer.failed
        case 120:
            guard nargs == 1 else { return PrimitiveAnswer.failed }
            let codePoint = sp.pointee
            guard isSmallInt(codePoint), UInt64(bitPattern: Int64(intValue(codePoint))) <= 0x10FFFF else {
                return PrimitiveAnswer.failed
            }
            return charOop(UInt32(intValue(codePoint)))
        case 121:
            return nargs == 0 && isCharacter(rcvr) ? intOop(Int(charValue(rcvr))) : PrimitiveAnswer.failed
        case 110:
            return nargs == 1 ? bool(identical(rcvr, sp.pointee)) : PrimitiveAnswer.failed
        case 111:
            return nargs == 0 ? classOf(rcvr) : PrimitiveAnswer.failed
        case 201...205:
            // value, value:, … (Richards: millions) build a frame: straight to `otherPrimitive`.
            return PrimitiveAnswer.notHere
        default:
            return otherValuePrimitive(n, nargs: nargs, rcvr: rcvr, sp)
        }
    }

    /// The rest of the value primitives; `notHere` for any other primitive.
    private func otherValuePrimitive(_ n: Int, nargs: Int, rcvr: Oop, _ sp: UnsafeMutablePointer<Oop>) -> Oop {
        let arg0 = nargs >= 1 ? sp[1 - nargs] : 0
        let arg1 = nargs >= 2 ? sp[2 - nargs] : 0
        let answer: Oop?
        switch n {
        case 1...38, 41...50: answer = nargs == 1 ? arithmeticPrimitive(n, rcvr, arg0) : nil
        case 39: answer = nargs == 1 ? integerPrintString(rcvr, base: arg0) : nil
        case 40, 51...53, 56...59, 161: answer = nargs == 0 ? numericUnaryPrimitive(n, rcvr) : nil
        case 54: answer = nargs == 1 ? floatTimesTwoPower(rcvr, arg0) : nil
        case 162: answer = nargs == 1 ? readFloat(arg0) : nil
        case 60: answer = nargs == 1 ? indexedAt(rcvr, arg0) : nil
        case 61: answer = nargs == 2 ? indexedAtPut(rcvr, arg0, arg1) : nil
        case 62: answer = nargs == 0 ? intOop(isPointer(rcvr) ? indexableSize(rcvr) : 0) : nil
        case 63: answer = nargs == 1 ? indexedAt(rcvr, arg0, asCharacter: true) : nil
        case 64: answer = nargs == 2 && !isSymbol(rcvr) ? indexedAtPut(rcvr, arg0, arg1, asCharacter: true) : nil
        case 73: answer = nargs == 1 ? instVarAt(rcvr, arg0) : nil
        case 74: answer = nargs == 2 ? instVarAtPut(rcvr, arg0, arg1) : nil
        case 75: answer = nargs == 0 ? intOop(identityHashValue(rcvr)) : nil
        case 105: answer = nargs == 4 ? replace(rcvr, arg0, arg1, sp[3 - nargs], sp[4 - nargs]) : nil
        case 139: answer = nargs == 0 ? objectAfter(rcvr) ?? intOop(0) : nil
        case 145: answer = nargs == 1 ? fillIndexedSlots(rcvr, with: arg0) : nil
        case 147: answer = nargs == 0 ? bool(isClassTheVMKnows(rcvr)) : nil
        case 148: answer = nargs == 0 ? shallowCopy(rcvr) : nil
        case 149: answer = nargs == 1 ? setClassFormat(rcvr, arg0) : nil
        case 163: answer = nargs == 0 ? utf8Encode(rcvr) : nil
        case 164: answer = nargs == 0 ? utf8Decode(rcvr) : nil
        case 170:
            guard nargs == 1, isString(rcvr), !isGhost(arg0), !isForwarder(arg0) else { return PrimitiveAnswer.failed }
            answer = isString(arg0) ? bool(stringCompare(rcvr, arg0) == 0) : falseObj
        case 171: answer = nargs == 0 ? codePoints(rcvr).map { intOop(VM.stringHash($0)) } : nil
        case 172: answer = nargs == 1 ? stringCompare(rcvr, arg0).map { intOop($0) } : nil
        case 173: answer = nargs == 0 ? codePoints(rcvr).flatMap { intern(codePoints: $0) } : nil
        case 174: answer = nargs == 0 ? codePoints(rcvr).map { findSymbol($0) ?? nilObj } : nil
        default: return PrimitiveAnswer.notHere
        }
        return answer ?? PrimitiveAnswer.failed
    }
}
