import XCTest
@testable import LivingObjects
import VMCore

/// Programs that tamper with what the VM reads without checking (method dictionaries, closures,
/// classes, bindings, the scheduler's lists) get an error or a defined answer, never a crash.
/// Each of these crashed the VM (or wrote outside an object) before its fix.
final class HostileProgramTests: XCTestCase {
    /// `program` fails with an Error whose text is answered.
    private func errorText(_ c: CapturingRuntime, _ program: String) throws -> String {
        try c.print("[\(program). #noError] on: Error do: [:e | e class name]")
    }

    func testOnlyInstalledMethodsRun() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try errorText(c, "Object methodDict at: #zork put: CompiledMethod new. Object flushCache. Object new zork"),
                       "#MessageNotUnderstood")
        XCTAssertEqual(try errorText(c, """
            | m | m := (Object >> #printString) shallowCopy. m instVarAt: 1 put: #[255 255 255].
            Object methodDict at: #zork put: m. Object flushCache. Object new zork
            """), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("Object new printString"), "'an Object'")
    }

    func testObjectsOfBytesAreNeitherLookedUpInNorInstantiatedAsClasses() throws {
        let c = try CapturingRuntime()
        XCTAssertEqual(try errorText(c, "3 perform: #foo withArguments: #() inSuperclass: 'abcdefgh@@@@@@@@'"), "#MessageNotUnderstood")
        XCTAssertEqual(try errorText(c, "3 perform: #x withArguments: #() inSuperclass: Point"), "#Error")
        XCTAssertEqual(try errorText(c, """
            Object methodDict at: #evilNew put: (Behavior >> #basicNew). Object flushCache.
            #[0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0] evilNew
            """), "#MessageNotUnderstood")
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }
}
