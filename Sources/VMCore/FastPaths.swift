// The interpreter's arithmetic fast paths: SmallInteger and SmallFloat64 operations answered without
// a send (nil when the operands or the result need the real method), and stores into Arrays.

extension VM {
    /// SmallInteger fast paths; nil when the result is not a SmallInteger (or the op needs the full send).
    @_transparent func smallIntegerArithmetic(_ op: Opcode, _ a: Oop, _ b: Oop) -> Oop? {
        let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
        switch op {
        case .sendAdd, .sendSub, .sendMul: return smallNumberArithmetic(a, b, op)
        case .sendLess: return bool(x < y)
        case .sendGreater: return bool(x > y)
        case .sendLessEq: return bool(x <= y)
        case .sendGreaterEq: return bool(x >= y)
        case .sendEq: return bool(x == y)
        case .sendNotEq: return bool(x != y)
        case .sendDivide:
            let (n, d) = (x >> 3, y >> 3)
            if d == 0 || n % d != 0 { return nil }
            return fitsSmallInt(Int(n / d)) ? intOop(Int(n / d)) : nil
        case .sendIntDiv:
            let (n, d) = (x >> 3, y >> 3)
            if d == 0 { return nil }
            var q = n / d
            if (n % d != 0) && ((n < 0) != (d < 0)) { q -= 1 }
            return fitsSmallInt(Int(q)) ? intOop(Int(q)) : nil
        case .sendMod:
            let (n, d) = (x >> 3, y >> 3)
            if d == 0 { return nil }
            var m = n % d
            if m != 0 && ((m < 0) != (d < 0)) { m += d }
            return intOop(Int(m))
        case .sendBitAnd: return a & b
        case .sendBitOr: return a | b
        case .sendBitXor: return (a ^ b) | 1
        case .sendBitShift:
            let n = x >> 3, s = y >> 3
            if s >= 0 {
                if s > 60 { return n == 0 ? intOop(0) : nil }
                let r = n << s
                return (r >> s) == n && fitsSmallInt(Int(r)) ? intOop(Int(r)) : nil
            }
            return intOop(Int(n >> min(-s, 63)))
        default: return nil
        }
    }

    /// Float fast paths when either operand is a SmallFloat64 and the other a float or SmallInteger.
    @inline(__always) func floatArithmetic(_ op: Opcode, _ a: Oop, _ b: Oop) -> Oop? {
        guard let x = floatOperand(a), let y = floatOperand(b) else { return nil }
        switch op {
        case .sendAdd: return newFloat(x + y)
        case .sendSub: return newFloat(x - y)
        case .sendMul: return newFloat(x * y)
        case .sendDivide: return y == 0 ? nil : newFloat(x / y)
        case .sendLess: return bool(x < y)
        case .sendGreater: return bool(x > y)
        case .sendLessEq: return bool(x <= y)
        case .sendGreaterEq: return bool(x >= y)
        case .sendEq: return isSmallInt(a) || isSmallInt(b) ? nil : bool(x == y)
        case .sendNotEq: return isSmallInt(a) || isSmallInt(b) ? nil : bool(x != y)
        default: return nil
        }
    }

    /// `r at: i put: v` when `r` is a mutable Array and `i` a SmallInteger in its bounds; false (nothing
    /// stored) otherwise.
    @_transparent func storeIntoArray(_ r: Oop, at i: Oop, _ v: Oop) -> Bool {
        guard isSmallInt(i) && isPointer(r) && classIndexOfHeader(headerOf(r)) == arrayIndex
                && headerOf(r) & Header.immutableBit == 0 else { return false }
        let index = intValue(i)
        guard index >= 1 && index <= numSlotsOf(r) else { return false }
        store(r, index - 1, v)
        return true
    }

    /// `a + b`, `a - b` or `a * b` (`op`) when both are SmallIntegers and the result is one, or both
    /// are SmallFloat64s and the result is one; else nil.
    @_transparent func smallNumberArithmetic(_ a: Oop, _ b: Oop, _ op: Opcode) -> Oop? {
        if a & b & 1 != 0 {
            let x = Int64(bitPattern: a), y = Int64(bitPattern: b) &- 1
            let (r, overflow) = op == .sendAdd ? x.addingReportingOverflow(y)
                : op == .sendSub ? x.subtractingReportingOverflow(y)
                : (x >> 3).multipliedReportingOverflow(by: y)
            if overflow { return nil }
            return op == .sendMul ? UInt64(bitPattern: r | 1) : UInt64(bitPattern: r)
        }
        return smallFloats(a, b, op)
    }

    /// `top op temp` for `addTemp`/`subTemp`/`mulTemp`; when the operands are not both SmallIntegers or
    /// both SmallFloat64s, pushes the temporary and leaves the `sendAdd|sendSub|sendMul` after it to run.
    @_transparent func operateWithTemp(_ op: Opcode, _ sp: inout UnsafeMutablePointer<Oop>,
                                       _ ip: inout UnsafeMutablePointer<UInt8>, _ fp: UnsafeMutablePointer<Oop>) {
        let a = sp.pointee, b = fp[Int(Int8(bitPattern: ip[1]))]
        if let r = smallNumberArithmetic(a, b, op) { sp.pointee = r; ip += 3; return }
        sp += 1; sp.pointee = b; ip += 2
    }

    /// `smallNumberArithmetic` for the operation in a fused instruction (`sendAdd`, `sendSub` or
    /// `sendMul`), each compiled with its operation known rather than selected at run time.
    @_transparent func smallNumberArithmetic(_ a: Oop, _ b: Oop, operation: UInt8) -> Oop? {
        switch operation {
        case Opcode.sendAdd.rawValue: return smallNumberArithmetic(a, b, .sendAdd)
        case Opcode.sendSub.rawValue: return smallNumberArithmetic(a, b, .sendSub)
        default: return smallNumberArithmetic(a, b, .sendMul)
        }
    }

    /// When both operands are SmallFloat64s: the result, if it is a SmallFloat64 too.
    /// (The operation is an opcode, not a closure: a closure argument was called out of line.)
    @_transparent func smallFloats(_ a: Oop, _ b: Oop, _ op: Opcode) -> Oop? {
        guard areSmallFloats(a, b) else { return nil }
        let x = smallFloatValue(a), y = smallFloatValue(b)
        return smallFloatOop(op == .sendAdd ? x + y : op == .sendSub ? x - y : x * y)
    }

    @inline(__always) func floatOperand(_ o: Oop) -> Double? {
        if isSmallFloat(o) { return smallFloatValue(o) }
        if isSmallInt(o) { return Double(intValue(o)) }
        return floatValue(o)
    }
}
