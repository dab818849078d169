import VMCore

/// An arbitrary-precision natural number: just enough arithmetic to read integer literals of
/// any size and print them in decimal.
struct Natural: Equatable {
    private static let base: UInt64 = 1_000_000_000
    /// Base 10^9 digits, least significant first, without high zeros (zero is empty).
    private var limbs: [UInt32] = []

    init(_ value: UInt32 = 0) {
        if value > 0 { multiply(by: 1, adding: value) }
    }

    var isZero: Bool { limbs.isEmpty }

    /// self := self * factor + addend (factor and addend below 10^9).
    mutating func multiply(by factor: UInt32, adding addend: UInt32) {
        var carry = UInt64(addend)
        for i in limbs.indices {
            let t = UInt64(limbs[i]) * UInt64(factor) + carry
            limbs[i] = UInt32(t % Natural.base)
            carry = t / Natural.base
        }
        while carry > 0 {
            limbs.append(UInt32(carry % Natural.base))
            carry /= Natural.base
        }
        while limbs.last == 0 { limbs.removeLast() }
    }

    /// The value, if it fits in 64 bits.
    var uint64Value: UInt64? {
        var value: UInt64 = 0
        for limb in limbs.reversed() {
            let (scaled, o1) = value.multipliedReportingOverflow(by: Natural.base)
            let (sum, o2) = scaled.addingReportingOverflow(UInt64(limb))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }

    var decimalString: String {
        guard let top = limbs.last else { return "0" }
        var text = String(top)
        for limb in limbs.dropLast().reversed() {
            let digits = String(limb)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }

    /// The integer literal with this magnitude: `.integer` when it fits in Int, else `.largeInteger`.
    func integerLiteral(negative: Bool) -> Literal {
        if let magnitude = uint64Value {
            if !negative, magnitude <= UInt64(Int.max) { return .integer(Int(magnitude)) }
            if negative, magnitude <= UInt64(Int.max) + 1 { return .integer(Int(bitPattern: UInt(0 &- magnitude))) }
        }
        return .largeInteger((negative && !isZero ? "-" : "") + decimalString)
    }
}
