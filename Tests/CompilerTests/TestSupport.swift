import XCTest
import VMCore
@testable import Compiler

let objectClass = ClassScope(className: "Object", instanceVariables: [])
let pointClass = ClassScope(className: "Point", instanceVariables: ["x", "y"])

/// Compiles a method, failing the test (and answering an empty method) on a compile error.
func method(_ source: String, in scope: ClassScope = pointClass,
            file: StaticString = #filePath, line: UInt = #line) -> MethodDescription {
    do {
        let compiled = try SmalltalkCompiler.compileMethod(source, in: scope)
        XCTAssertEqual(verify(compiled), [], file: file, line: line)
        return compiled
    } catch {
        XCTFail("unexpected compile error: \(error)", file: file, line: line)
        return MethodDescription(selector: "", numArgs: 0, numTemps: 0, maxStack: 0, primitive: 0,
                                 bytecodes: [], literals: [], pragmas: [], source: source)
    }
}

func doIt(_ source: String, in scope: ClassScope = pointClass,
          file: StaticString = #filePath, line: UInt = #line) -> MethodDescription {
    do {
        let compiled = try SmalltalkCompiler.compileDoIt(source, in: scope)
        XCTAssertEqual(verify(compiled), [], file: file, line: line)
        return compiled
    } catch {
        XCTFail("unexpected compile error: \(error)", file: file, line: line)
        return MethodDescription(selector: "", numArgs: 0, numTemps: 0, maxStack: 0, primitive: 0,
                                 bytecodes: [], literals: [], pragmas: [], source: source)
    }
}

/// The error a method source fails with, or nil if it compiles.
func methodError(_ source: String, in scope: ClassScope = pointClass) -> CompileError? {
    do {
        _ = try SmalltalkCompiler.compileMethod(source, in: scope)
        return nil
    } catch {
        return error
    }
}

func doItError(_ source: String, in scope: ClassScope = pointClass) -> CompileError? {
    do {
        _ = try SmalltalkCompiler.compileDoIt(source, in: scope)
        return nil
    } catch {
        return error
    }
}

/// Decoded instructions, one string each: the opcode and its operands; sends show their
/// selector and pushLiteral/pushGlobal their literal instead of the literal index.
func listing(_ bytecodes: [UInt8], _ literals: [Literal]) -> [String] {
    guard let instructions = Instruction.decode(bytecodes) else { return ["<malformed>"] }
    return instructions.map { instruction in
        let name = "\(instruction.opcode)"
        switch instruction.opcode {
        case .send, .superSend:
            return "\(name) \(describe(literals[instruction.a])) \(instruction.b)"
        case .pushLiteral, .pushGlobal, .storeGlobal, .popStoreGlobal:
            return "\(name) \(describe(literals[instruction.a]))"
        default:
            switch instruction.opcode.operands {
            case .none: return name
            case .u16u8, .u8i8: return "\(name) \(instruction.a) \(instruction.b)"
            default: return "\(name) \(instruction.a)"
            }
        }
    }
}

func listing(_ method: MethodDescription) -> [String] { listing(method.bytecodes, method.literals) }

func listing(_ block: BlockDescription) -> [String] { listing(block.bytecodes, block.literals) }

/// The blocks in a literal frame, in order.
func blocks(_ literals: [Literal]) -> [BlockDescription] {
    literals.compactMap { if case .block(let block) = $0 { return block } else { return nil } }
}

/// Frame offset of local j.
func local(_ j: Int) -> Int { Frame.headerSize + j }
