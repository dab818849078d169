// Primitives 1-59, 161-162: SmallInteger, LargeInteger and Float arithmetic.

import BigInt
import Foundation

extension VM {
    func arithmeticPrimitive(_ n: Int, _ rcvr: Oop, _ arg: Oop) -> Oop? {
        switch n {
        case 1...12 where isSmallInt(rcvr) && isSmallInt(arg):
            return smallIntegerArithmetic(VM.arithmeticOpcodes[n - 1], rcvr, arg)
        case 13 where isSmallInt(rcvr) && isSmallInt(arg):
            let d = intValue(arg)
            return d == 0 ? nil : newInteger(intValue(rcvr) / d)
        case 14...17 where isSmallInt(rcvr) && isSmallInt(arg):
            return smallIntegerArithmetic(VM.arithmeticOpcodes[n - 2], rcvr, arg)
        case 18 where isSmallInt(rcvr) && isSmallInt(arg):
            let d = intValue(arg)
            return d == 0 ? nil : intOop(intValue(rcvr) % d)
        case 21...38: return largeIntegerPrimitive(n, rcvr, arg)
        case 41...50: return floatPrimitive(n, rcvr, arg)
        default: return nil
        }
    }

    static let arithmeticOpcodes: [Opcode] = [.sendAdd, .sendSub, .sendLess, .sendGreater, .sendLessEq, .sendGreaterEq,
                                              .sendEq, .sendNotEq, .sendMul, .sendDivide, .sendMod, .sendIntDiv,
                                              .sendBitAnd, .sendBitOr, .sendBitXor, .sendBitShift]

    private func largeIntegerPrimitive(_ n: Int, _ rcvr: Oop, _ arg: Oop) -> Oop? {
        guard let a = bigIntValue(rcvr), let b = bigIntValue(arg) else { return nil }
        switch n {
        case 21: return newInteger(a + b)
        case 22: return newInteger(a - b)
        case 23: return bool(a < b)
        case 24: return bool(a > b)
        case 25: return bool(a <= b)
        case 26: return bool(a >= b)
        case 27: return bool(a == b)
        case 28: return bool(a != b)
        case 29: return newInteger(a * b)
        case 30:
            guard !b.isZero else { return nil }
            let (q, r) = a.quotientAndRemainder(dividingBy: b)
            return r.isZero ? newInteger(q) : nil
        case 31, 32:
            guard !b.isZero else { return nil }
            var (q, r) = a.quotientAndRemainder(dividingBy: b)
            if !r.isZero && (r.sign != b.sign) { q -= 1; r += b }
            return newInteger(n == 31 ? r : q)
        case 33:
            guard !b.isZero else { return nil }
            return newInteger(a / b)
        case 34: return newInteger(a & b)
        case 35: return newInteger(a | b)
        case 36: return newInteger(a ^ b)
        case 37:
            // A right shift past the last bit answers 0 (or -1) however far it goes; a left shift by
            // 2^24 bits or more fails (the fallback signals OutOfMemory: the answer would not fit).
            let negative = a.sign == .minus && !a.isZero
            guard let s = Int(exactly: b) else {
                if b.sign == .minus { return intOop(negative ? -1 : 0) }
                return a.isZero ? intOop(0) : nil
            }
            if s < 0 && s.magnitude >= UInt(a.magnitude.bitWidth) { return intOop(negative ? -1 : 0) }
            guard s < 1 << 24 || a.isZero else { return nil }
            if s >= 0 { return newInteger(a << s) }
            // Shifting right floors, also for negative numbers (BigInt's >> truncates toward zero).
            return newInteger(a.sign == .minus ? -(((-a) - 1) >> (-s)) - 1 : a >> (-s))
        case 38:
            guard !b.isZero else { return nil }
            return newInteger(a % b)
        default: return nil
        }
    }

    private func floatPrimitive(_ n: Int, _ rcvr: Oop, _ arg: Oop) -> Oop? {
        guard let x = floatValue(rcvr) else { return nil }
        let y: Double
        if let f = floatValue(arg) { y = f } else if isSmallInt(arg) { y = Double(intValue(arg)) } else { return nil }
        switch n {
        case 41: return newFloat(x + y)
        case 42: return newFloat(x - y)
        case 43: return bool(x < y)
        case 44: return bool(x > y)
        case 45: return bool(x <= y)
        case 46: return bool(x >= y)
        case 47: return bool(x == y)
        case 48: return bool(x != y)
        case 49: return newFloat(x * y)
        case 50: return y == 0 ? nil : newFloat(x / y)
        default: return nil
        }
    }

    /// Unary numeric primitives: 39-40, 51-59, 161.
    func numericUnaryPrimitive(_ n: Int, _ rcvr: Oop) -> Oop? {
        if n == 40 {
            guard let v = bigIntValue(rcvr) else { return nil }
            if let small = Int(exactly: v) { return newFloat(Double(small)) }
            return newFloat(Double(v.description) ?? .infinity)
        }
        guard let x = floatValue(rcvr) else { return nil }
        switch n {
        case 51:
            guard x.isFinite else { return nil }
            let t = x.rounded(.towardZero)
            if let i = Int(exactly: t), fitsSmallInt(i) { return intOop(i) }
            return newInteger(BigInt(exactly: t) ?? 0)
        case 52: return x.isFinite ? newFloat(x - x.rounded(.towardZero)) : newFloat(x.isNaN ? x : 0)
        case 53: return x == 0 || !x.isFinite ? intOop(0) : intOop(Int(x.exponent))
        case 55: return newFloat(x.squareRoot())
        case 56: return newFloat(sin(x))
        case 57: return newFloat(atan(x))
        case 58: return newFloat(log(x))
        case 59: return newFloat(exp(x))
        case 161: return newString(VM.pharoFloatString(x))
        default: return nil
        }
    }

    /// Shortest round-trip digits, printed the way Pharo does (`0.1`, `1.0e20`, `Float infinity`).
    static func pharoFloatString(_ x: Double) -> String {
        if x.isNaN { return "Float nan" }
        if x.isInfinite { return x > 0 ? "Float infinity" : "Float negativeInfinity" }
        if x == 0 { return x.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is the shortest round-trip form; extract digits and exponent.
        var s = "\(abs(x))"
        var exp10 = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp10 = Int(s[s.index(after: e)...]) ?? 0
            s = String(s[..<e])
        }
        var intPart = s, fracPart = ""
        if let dot = s.firstIndex(of: ".") { intPart = String(s[..<dot]); fracPart = String(s[s.index(after: dot)...]) }
        var digits = intPart + fracPart
        var pointPos = intPart.count + exp10           // digits[0..<pointPos] are the integer part
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPos -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sci = pointPos - 1                          // scientific exponent
        let sign = x < 0 ? "-" : ""
        if sci >= 16 || sci < -4 {
            let mantissa = digits.count == 1 ? digits + ".0" : String(digits.prefix(1)) + "." + String(digits.dropFirst())
            return sign + mantissa + "e" + String(sci)
        }
        if pointPos <= 0 { return sign + "0." + String(repeating: "0", count: -pointPos) + digits }
        if pointPos >= digits.count { return sign + digits + String(repeating: "0", count: pointPos - digits.count) + ".0" }
        let i = digits.index(digits.startIndex, offsetBy: pointPos)
        return sign + String(digits[..<i]) + "." + String(digits[i...])
    }

    func integerPrintString(_ rcvr: Oop, base: Oop) -> Oop? {
        // Huge numbers print in Smalltalk instead, where Ctrl-C can interrupt them.
        if isPointer(rcvr) && indexableSize(rcvr) > 20_000 { return nil }
        guard isSmallInt(base), let v = bigIntValue(rcvr) else { return nil }
        let b = intValue(base)
        guard b >= 2 && b <= 36 else { return nil }
        return newString(String(v, radix: b, uppercase: true))
    }

    func floatTimesTwoPower(_ rcvr: Oop, _ arg: Oop) -> Oop? {
        guard let x = floatValue(rcvr) else { return nil }
        if isSmallInt(arg) { return newFloat(scalbn(x, Int32(clamping: intValue(arg)))) }
        // A LargeInteger power: the answer is infinite or zero (or the receiver, if that is).
        guard let n = bigIntValue(arg) else { return nil }
        return newFloat(scalbn(x, Int32(clamping: n)))
    }

    func readFloat(_ arg: Oop) -> Oop? {
        guard let s = stringValue(arg)?.trimmingCharacters(in: .whitespaces), let d = Double(s) else { return nil }
        return newFloat(d)
    }
}
