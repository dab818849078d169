import XCTest
import VMCore
@testable import Compiler

final class PragmaTests: XCTestCase {
    func testPrimitive() {
        let m = method("basicAt: i <primitive: 60> ^ self primitiveFailed")
        XCTAssertEqual(m.primitive, 60)
        XCTAssertEqual(m.pragmas, [])
        XCTAssertEqual(listing(m), ["pushSelf", "send #primitiveFailed 0", "returnTop"])
    }

    func testPrimitiveErrorCodeIsTheFirstTemp() {
        let m = method("at: i <primitive: 60 error: ec> | t | t := 1. ^ ec")
        XCTAssertEqual(m.primitive, 60)
        XCTAssertEqual(m.numTemps, 2)
        XCTAssertEqual(listing(m), ["pushInt8 1", "popStoreTemp 8", "pushTemp 7", "returnTop"])
        let after = method("at: i | t | <primitive: 60 error: code> ^ code")
        XCTAssertEqual(listing(after), ["pushTemp 7", "returnTop"])
    }

    func testOtherPragmas() {
        let m = method("foo <foo: 1 bar: #baz> <unary> ^ 1")
        XCTAssertEqual(m.pragmas, [
            PragmaDescription(selector: "foo:bar:", arguments: [.integer(1), .symbol("baz")]),
            PragmaDescription(selector: "unary", arguments: []),
        ])
        XCTAssertEqual(m.primitive, 0)
    }

    func testPragmaArgumentLiterals() {
        let m = method("foo <key: 'str' other: #(1 2) flag: true none: nil n: -3 c: $a bytes: #[7] f: 1.5>")
        XCTAssertEqual(m.pragmas, [PragmaDescription(selector: "key:other:flag:none:n:c:bytes:f:", arguments: [
            .string("str"), .array([.integer(1), .integer(2)]), .true, .nil, .integer(-3), .character(97),
            .byteArray([7]), .float(1.5),
        ])])
    }

    func testPragmasBeforeAndAfterTemps() {
        let m = method("foo <a> | t | <b: 2> ^ t")
        XCTAssertEqual(m.pragmas.map(\.selector), ["a", "b:"])
        XCTAssertEqual(listing(m), ["pushTemp 7", "returnTop"])
    }

    func testNamedPrimitiveIsAnOrdinaryPragma() {
        let m = method("foo <primitive: 'primFoo' module: 'Bar'> ^ nil")
        XCTAssertEqual(m.primitive, 0)
        XCTAssertEqual(m.pragmas, [PragmaDescription(selector: "primitive:module:", arguments: [.string("primFoo"), .string("Bar")])])
    }
}
