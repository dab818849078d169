import XCTest
@testable import VMCore

final class ValueTests: XCTestCase {
    func testSmallIntegersRoundTripAtTheLimits() {
        for v in [0, 1, -1, 42, SmallInt.max, SmallInt.min, 1 << 40, -(1 << 40)] {
            XCTAssertTrue(isSmallInt(intOop(v)))
            XCTAssertEqual(intValue(intOop(v)), v)
        }
        XCTAssertFalse(fitsSmallInt(SmallInt.max + 1))
        XCTAssertFalse(fitsSmallInt(SmallInt.min - 1))
    }

    func testCharactersHoldAnyCodePoint() {
        for c: UInt32 in [0, 65, 255, 0x3B1, 0x1F600, 0x10FFFF] {
            XCTAssertTrue(isCharacter(charOop(c)))
            XCTAssertEqual(charValue(charOop(c)), c)
        }
    }

    func testSmallFloatsRoundTripExactlyOrAreBoxed() {
        var rng = SystemRandomNumberGenerator()
        var immediate = 0
        for _ in 0..<100_000 {
            let d = Double(bitPattern: rng.next())
            if let o = smallFloatOop(d) {
                immediate += 1
                XCTAssertTrue(isSmallFloat(o))
                XCTAssertEqual(smallFloatValue(o).bitPattern, d.bitPattern)
            } else {
                let e = (d.bitPattern >> 52) & 0x7FF
                XCTAssertTrue(e <= 896 || e >= 1152, "only out-of-range exponents are boxed")
            }
        }
        XCTAssertGreaterThan(immediate, 0)
        for d in [0.0, -0.0, 1.0, 0.1, -2.5, 1e38, 1e-37, 3.141592653589793] {
            XCTAssertEqual(smallFloatValue(smallFloatOop(d)!).bitPattern, d.bitPattern)
        }
        XCTAssertNil(smallFloatOop(1e300))
        XCTAssertNil(smallFloatOop(1e-300))
        XCTAssertNil(smallFloatOop(.infinity))
        XCTAssertNil(smallFloatOop(.nan))
    }

    func testBothSmallFloatsTestsEveryTagPair() {
        let samples: [Oop] = [intOop(3), charOop(65), smallFloatOop(1.5)!, smallFloatOop(0.0)!, smallFloatOop(-0.0)!, 0x1000, 5, 6, 7, 3]
        for a in samples {
            for b in samples {
                XCTAssertEqual(areSmallFloats(a, b), isSmallFloat(a) && isSmallFloat(b), "\(a) \(b)")
            }
        }
    }

    func testSmallFloatRangeEdges() {
        for exponent: UInt64 in [0, 1, 895, 896, 897, 898, 1023, 1150, 1151, 1152, 1153, 2046, 2047] {
            for sign: UInt64 in [0, 1] {
                for mantissa: UInt64 in [0, 1, 0x8_0000_0000_0000, 0xF_FFFF_FFFF_FFFF] {
                    let d = Double(bitPattern: sign << 63 | exponent << 52 | mantissa)
                    let isZero = exponent == 0 && mantissa == 0
                    if (897...1151).contains(exponent) || isZero {
                        let o = smallFloatOop(d)
                        XCTAssertNotNil(o, "\(d) is an immediate")
                        if let o { XCTAssertEqual(smallFloatValue(o).bitPattern, d.bitPattern) }
                    } else {
                        XCTAssertNil(smallFloatOop(d), "\(d) is boxed")
                    }
                }
            }
        }
    }

    func testPharoFloatPrinting() {
        XCTAssertEqual(VM.pharoFloatString(0.1 + 0.2), "0.30000000000000004")
        XCTAssertEqual(VM.pharoFloatString(1.0), "1.0")
        XCTAssertEqual(VM.pharoFloatString(100.0), "100.0")
        XCTAssertEqual(VM.pharoFloatString(1e100), "1.0e100")
        XCTAssertEqual(VM.pharoFloatString(1.5e-7), "1.5e-7")
        XCTAssertEqual(VM.pharoFloatString(0.001), "0.001")
        XCTAssertEqual(VM.pharoFloatString(-2.5), "-2.5")
        XCTAssertEqual(VM.pharoFloatString(123456789012.5), "123456789012.5")
        XCTAssertEqual(VM.pharoFloatString(.infinity), "Float infinity")
        XCTAssertEqual(VM.pharoFloatString(.nan), "Float nan")
    }
}
