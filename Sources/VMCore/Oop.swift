// Tagged 64-bit values: SmallInteger, Character and SmallFloat64 immediates, and heap pointers.

public typealias Oop = UInt64

public enum Tag {
    public static let mask: UInt64 = 7
    public static let pointer: UInt64 = 0
    public static let smallInteger: UInt64 = 1
    public static let character: UInt64 = 2
    public static let smallFloat: UInt64 = 4
}

/// SmallIntegers are 61-bit two's complement.
public enum SmallInt {
    public static let max = Int((1 as Int64) << 60) - 1
    public static let min = -Int((1 as Int64) << 60)
}

@inline(__always) public func isImmediate(_ o: Oop) -> Bool { o & Tag.mask != 0 }
@inline(__always) public func isPointer(_ o: Oop) -> Bool { o & Tag.mask == 0 }
@inline(__always) public func isSmallInt(_ o: Oop) -> Bool { o & Tag.mask == Tag.smallInteger }
@inline(__always) public func isCharacter(_ o: Oop) -> Bool { o & Tag.mask == Tag.character }
@inline(__always) public func isSmallFloat(_ o: Oop) -> Bool { o & Tag.mask == Tag.smallFloat }
/// Both are SmallFloat64s: `o - 4` has its tag bits clear exactly when `o`'s tag is 4.
@inline(__always) public func areSmallFloats(_ a: Oop, _ b: Oop) -> Bool {
    ((a &- Tag.smallFloat) | (b &- Tag.smallFloat)) & Tag.mask == 0
}

@inline(__always) public func intValue(_ o: Oop) -> Int { Int(Int64(bitPattern: o) >> 3) }
@inline(__always) public func intOop(_ v: Int) -> Oop { UInt64(bitPattern: Int64(v) << 3) | Tag.smallInteger }
@inline(__always) public func fitsSmallInt(_ v: Int) -> Bool { v >= SmallInt.min && v <= SmallInt.max }

@inline(__always) public func charValue(_ o: Oop) -> UInt32 { UInt32(truncatingIfNeeded: o >> 3) }
@inline(__always) public func charOop(_ codePoint: UInt32) -> Oop { (UInt64(codePoint) << 3) | Tag.character }

/// Raw addresses (frame links, result slots) stored in a stack slot look like SmallIntegers to the GC.
@inline(__always) func addressOop(_ p: UnsafeMutablePointer<UInt64>) -> Oop { UInt64(UInt(bitPattern: p)) | Tag.smallInteger }
@inline(__always) func oopAddress(_ o: Oop) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer(bitPattern: UInt(o & ~Tag.mask)).unsafelyUnwrapped
}

// SmallFloat64 (Spur): doubles whose 11-bit exponent lies in (896, 1152), and ±0, are immediates.
// The sign is rotated to bit 0 and the exponent re-biased so the value fits in 61 bits.
private let floatExponentOffset: UInt64 = 896 << 53

@inline(__always) public func smallFloatOop(_ d: Double) -> Oop? {
    let bits = d.bitPattern
    let rotated = (bits << 1) | (bits >> 63)
    // The exponent is the top 11 bits of `rotated`: 897...1151 rebias to 1...255, anything else
    // wraps below 1 << 53 or lands at 256 << 53 or above — one subtraction and one comparison.
    let rebiased = rotated &- floatExponentOffset
    if rebiased &- (1 << 53) < 255 << 53 { return (rebiased << 3) | Tag.smallFloat }
    if rotated <= 1 { return (rotated << 3) | Tag.smallFloat }
    return nil
}

/// (Decoding as `Double(bitPattern: sign-rotated o >> 3) * 0x1p896`, exact and without the zero test, took
/// fewer instructions, but LLVM's SLP vectorizer then read both operands of a stack operation with one
/// 16-byte load over the two 8-byte stores that pushed them: a store-forwarding stall that made NBody 30%
/// slower in time. bench/RESULTS.md, twelfth session.)
@inline(__always) public func smallFloatValue(_ o: Oop) -> Double {
    var rotated = o >> 3
    if rotated > 1 { rotated += floatExponentOffset }
    return Double(bitPattern: (rotated >> 1) | (rotated << 63))
}
