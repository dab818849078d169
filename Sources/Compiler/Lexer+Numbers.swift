/// Number literals: `123`, `16r1F`, `1e10`, `1.5e-3`, `2r1.1`, `1.25s2`, `3s`.
extension Lexer {
    /// Integer exponents are expanded exactly; beyond this the literal would be absurdly long.
    private static let maxIntegerExponent = 10_000

    mutating func scanNumber() throws(CompileError) -> NumberValue {
        let start = position
        var radix = 10
        var integerDigits = try scanDigits(radix: 10)
        if peek() == "r", let next = peek(1), Lexer.digitValue(next) != nil {
            let value = integerDigits.count <= 2 ? integerDigits.reduce(0) { $0 * 10 + Int($1) } : 0
            guard (2...36).contains(value) else { throw CompileError("radix must be between 2 and 36", at: start) }
            radix = value
            advance()
            integerDigits = try scanDigits(radix: radix)
            if integerDigits.isEmpty { throw CompileError("expected digits after the radix \(radix)r", at: position) }
        }
        var fractionDigits: [UInt32] = []
        var isFraction = false
        if peek() == ".", let next = peek(1), let digit = Lexer.digitValue(next), digit < radix {
            advance()
            isFraction = true
            fractionDigits = try scanDigits(radix: radix)
        }
        let exponent = try scanExponent()
        if let scale = try scanScale() {
            guard radix == 10 else { throw CompileError("a scaled decimal must be written in base 10", at: start) }
            return try scaledDecimal(integerDigits + fractionDigits, fractionCount: fractionDigits.count,
                                     exponent: exponent, scale: scale ?? fractionDigits.count, at: start)
        }
        if isFraction || exponent < 0 {
            return .float(Lexer.floatValue(integerDigits, fractionDigits, radix: radix, exponent: exponent))
        }
        guard exponent <= Lexer.maxIntegerExponent else { throw CompileError("exponent too large", at: start) }
        var value = Lexer.natural(integerDigits, radix: radix)
        for _ in 0..<exponent { value.multiply(by: UInt32(radix), adding: 0) }
        return .integer(value)
    }

    /// Digits valid in the radix. A decimal digit too large for the radix is an error; a letter
    /// that is not a digit of the radix ends the number.
    private mutating func scanDigits(radix: Int) throws(CompileError) -> [UInt32] {
        var digits: [UInt32] = []
        while let c = peek(), let digit = Lexer.digitValue(c) {
            if digit >= radix {
                if Lexer.isDigit(c) { throw CompileError("digit '\(c)' is not valid in radix \(radix)", at: position) }
                break
            }
            digits.append(UInt32(digit))
            advance()
        }
        return digits
    }

    /// `e12` or `e-3` after the mantissa; 0 when absent.
    private mutating func scanExponent() throws(CompileError) -> Int {
        guard peek() == "e" else { return 0 }
        let negative = peek(1) == "-"
        guard let first = peek(negative ? 2 : 1), Lexer.isDigit(first) else { return 0 }
        let start = position
        advance()
        if negative { advance() }
        var value = 0
        var count = 0
        while let c = peek(), Lexer.isDigit(c) {
            value = value * 10 + Int(c.value - 48)
            count += 1
            if count > 5 { throw CompileError("exponent too large", at: start) }
            advance()
        }
        return negative ? -value : value
    }

    /// After `s`: `.some(nil)` for a bare `s`, `.some(n)` for `sN`, nil when there is no scale.
    private mutating func scanScale() throws(CompileError) -> Int?? {
        guard peek() == "s" else { return nil }
        if let next = peek(1), Lexer.isLetter(next) || next == "_" { return nil }
        let start = position
        advance()
        guard let first = peek(), Lexer.isDigit(first) else { return .some(nil) }
        var scale = 0
        while let c = peek(), Lexer.isDigit(c) {
            scale = scale * 10 + Int(c.value - 48)
            if scale > 10_000 { throw CompileError("scale too large", at: start) }
            advance()
        }
        return .some(scale)
    }

    private func scaledDecimal(_ digits: [UInt32], fractionCount: Int, exponent: Int, scale: Int,
                               at start: SourcePosition) throws(CompileError) -> NumberValue {
        guard abs(exponent) <= Lexer.maxIntegerExponent else { throw CompileError("exponent too large", at: start) }
        var numerator = Lexer.natural(digits, radix: 10)
        var denominator = Natural(1)
        for _ in 0..<max(exponent - fractionCount, 0) { numerator.multiply(by: 10, adding: 0) }
        for _ in 0..<max(fractionCount - exponent, 0) { denominator.multiply(by: 10, adding: 0) }
        return .scaledDecimal(numerator: numerator, denominator: denominator, scale: scale)
    }

    private static func natural(_ digits: [UInt32], radix: Int) -> Natural {
        var value = Natural()
        for digit in digits { value.multiply(by: UInt32(radix), adding: digit) }
        return value
    }

    private static func floatValue(_ integerDigits: [UInt32], _ fractionDigits: [UInt32], radix: Int,
                                   exponent: Int) -> Double {
        if radix == 10 {
            // The appended 0 keeps the text well formed when there are no fraction digits.
            let text = integerDigits.map(String.init).joined() + "." + fractionDigits.map(String.init).joined()
                + "0e" + String(exponent)
            return Double(text) ?? .nan
        }
        let mantissa = (integerDigits + fractionDigits).reduce(0.0) { $0 * Double(radix) + Double($1) }
        let power = exponent - fractionDigits.count
        var factor = 1.0, base = Double(radix), n = abs(power)
        while n > 0 {
            if n & 1 == 1 { factor *= base }
            base *= base
            n >>= 1
        }
        return power >= 0 ? mantissa * factor : mantissa / factor
    }

    /// 0–9 and A–Z as digit values 0–35.
    static func digitValue(_ c: Unicode.Scalar) -> Int? {
        if c >= "0" && c <= "9" { return Int(c.value - 48) }
        if c >= "A" && c <= "Z" { return Int(c.value - 55) }
        return nil
    }
}
