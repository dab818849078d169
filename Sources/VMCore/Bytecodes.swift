// The bytecode set: one table used by the compiler, the interpreter, the disassembler and the tests.
//
// Every instruction is one opcode byte followed by its operands (little-endian).
// Jump offsets are relative to the first byte after the jump instruction.
// Temp operands are signed frame offsets computed by the compiler (see Docs/VM.md, "Frames"):
// argument i (0-based) of an activation with n arguments is at offset i - n, local j at
// offset `Frame.headerSize + j`.

public enum OperandLayout: Sendable {
    case none
    case i8        // signed byte
    case u8        // unsigned byte
    case u16       // unsigned 16-bit
    case i16       // signed 16-bit (jumps)
    case u16u8     // literal index, argument count (sends)
    case u8i8      // index in temp vector, frame offset of the temp vector

    public var size: Int {
        switch self {
        case .none: return 0
        case .i8, .u8: return 1
        case .u16, .i16, .u8i8: return 2
        case .u16u8: return 3
        }
    }
}

public enum Opcode: UInt8, CaseIterable, Sendable {
    case pushSelf = 0, pushNil, pushTrue, pushFalse, pushThisContext
    case pushInt8            // i8: a SmallInteger -128...127
    case pushTemp            // i8 frame offset
    case storeTemp           // i8
    case popStoreTemp        // i8
    case pushInstVar         // u8 (0-based)
    case storeInstVar        // u8
    case popStoreInstVar     // u8
    case pushLiteral         // u16 literal index
    case pushGlobal          // u16: the literal is a binding (Association); push its value
    case storeGlobal         // u16
    case popStoreGlobal      // u16
    case pushRemoteTemp      // u8 i8: slot of the temp vector held in the frame slot
    case storeRemoteTemp     // u8 i8
    case popStoreRemoteTemp  // u8 i8
    case pushNewArray        // u8: a new Array of that many nils (temp vectors)
    case popIntoNewArray     // u16: pop that many values into a new Array (brace arrays)
    case pushClosure         // u16: literal index of a CompiledBlock; pops its numCopied values
    case dup, pop
    case returnTop           // return from the method activation (in a method)
    case returnSelf
    case blockReturnTop      // return the top value from a block activation to its caller
    case nonLocalReturnTop   // `^ expr` inside a block: return from the home method
    case jump                // i16
    case jumpIfTrue          // i16, pops; a non-Boolean sends #mustBeBoolean
    case jumpIfFalse         // i16
    case send                // u16 u8: literal index of the selector (followed by two inline-cache
                             // slots the compiler reserves), number of arguments
    case superSend           // u16 u8: as send, lookup starts in the method class's superclass
    // Special sends: no operands; fast paths for common receivers, else a normal send of
    // the selector in `specialSelectors`.
    case sendAdd, sendSub, sendLess, sendGreater, sendLessEq, sendGreaterEq, sendEq, sendNotEq
    case sendMul, sendDivide, sendMod, sendIntDiv, sendBitAnd, sendBitOr, sendBitXor, sendBitShift
    case sendIdentical, sendNotIdentical   // == and ~~ are never real sends
    case sendAt, sendAtPut, sendSize, sendValue, sendValue1, sendIsNil, sendNotNil
    case sendClass                          // `class` is never a real send

    // Superinstructions (Superinstructions.swift): only the installer writes these, over the first
    // opcode of a common sequence whose other instructions stay in place. Each has the operands of
    // the instruction it replaced and behaves like it when its fast path does not apply.
    case pushSelfTemp        // pushSelf; pushTemp
    case pushTempTemp        // pushTemp; pushTemp
    case pushInstVarTemp     // pushInstVar; pushTemp
    case instVarAtTemp       // pushInstVar; pushTemp; sendAt
    case addTempInt8         // pushTemp; pushInt8; sendAdd
    case subTempInt8         // pushTemp; pushInt8; sendSub
    case incrementTemp       // pushTemp; pushInt8; sendAdd; popStoreTemp
    case branchTempTemp      // pushTemp; pushTemp; compare; forward jumpIfTrue/jumpIfFalse
    case branchTempInt8      // pushTemp; pushInt8; compare; forward jumpIfTrue/jumpIfFalse
    case atPutPop            // sendAtPut; pop
    case popStoreTempJump    // popStoreTemp; jump
    case addSelfInt8         // pushSelf; pushInt8; sendAdd
    case subSelfInt8         // pushSelf; pushInt8; sendSub
    case branchSelfInt8      // pushSelf; pushInt8; compare; forward jumpIfTrue/jumpIfFalse
    case pushTempSend        // pushTemp; send
    case pushTempIsNil       // pushTemp; sendIsNil
    case pushTempNotNil      // pushTemp; sendNotNil
    case addInt8             // pushInt8; sendAdd
    case subInt8             // pushInt8; sendSub
    case addTemp             // pushTemp; sendAdd
    case subTemp             // pushTemp; sendSub
    case mulTemp             // pushTemp; sendMul
    case incrementInstVar    // pushInstVar; pushInt8; sendAdd; popStoreInstVar (the same variable)
    case branchInstVarInt8   // pushInstVar; pushInt8; compare; forward jumpIfTrue/jumpIfFalse
    case pushInstVarInstVar  // pushInstVar; pushInstVar
    case tempOpTemp          // pushTemp; pushTemp; sendAdd|sendSub|sendMul
    case pushTempAtPutPop    // pushTemp; sendAtPut; pop
    case pushFalseAtPutPop   // pushFalse; sendAtPut; pop
    case branchTempNil       // pushTemp; sendIsNil|sendNotNil; forward jumpIfTrue/jumpIfFalse
    case tempOpTempStore     // pushTemp; pushTemp; sendAdd|sendSub|sendMul; popStoreTemp

    // Emitted by the compiler (after the superinstructions, so that their numbers stay those images hold):
    case floatBlock          // u16: literal index of its program's slot; runs the float statements after it
                             // in doubles when it can (FloatBlocks.swift), else does nothing

    public var operands: OperandLayout {
        switch self {
        case .pushInt8, .pushTemp, .storeTemp, .popStoreTemp: return .i8
        case .pushTempTemp, .addTempInt8, .subTempInt8, .incrementTemp, .branchTempTemp, .branchTempInt8,
             .popStoreTempJump, .pushTempSend, .pushTempIsNil, .pushTempNotNil, .addInt8, .subInt8,
             .addTemp, .subTemp, .mulTemp, .tempOpTemp, .pushTempAtPutPop, .branchTempNil, .tempOpTempStore: return .i8
        case .pushInstVar, .storeInstVar, .popStoreInstVar, .pushNewArray: return .u8
        case .pushInstVarTemp, .instVarAtTemp, .incrementInstVar, .branchInstVarInt8, .pushInstVarInstVar: return .u8
        case .pushLiteral, .pushGlobal, .storeGlobal, .popStoreGlobal, .popIntoNewArray, .pushClosure, .floatBlock: return .u16
        case .pushRemoteTemp, .storeRemoteTemp, .popStoreRemoteTemp: return .u8i8
        case .jump, .jumpIfTrue, .jumpIfFalse: return .i16
        case .send, .superSend: return .u16u8
        default: return .none
        }
    }

    /// Instruction length in bytes, opcode included.
    public var length: Int { 1 + operands.size }

    /// For special sends: the selector and its argument count.
    public var specialSelector: (selector: String, numArgs: Int)? {
        switch self {
        case .sendAdd: return ("+", 1)
        case .sendSub: return ("-", 1)
        case .sendLess: return ("<", 1)
        case .sendGreater: return (">", 1)
        case .sendLessEq: return ("<=", 1)
        case .sendGreaterEq: return (">=", 1)
        case .sendEq: return ("=", 1)
        case .sendNotEq: return ("~=", 1)
        case .sendMul: return ("*", 1)
        case .sendDivide: return ("/", 1)
        case .sendMod: return ("\\\\", 1)
        case .sendIntDiv: return ("//", 1)
        case .sendBitAnd: return ("bitAnd:", 1)
        case .sendBitOr: return ("bitOr:", 1)
        case .sendBitXor: return ("bitXor:", 1)
        case .sendBitShift: return ("bitShift:", 1)
        case .sendIdentical: return ("==", 1)
        case .sendNotIdentical: return ("~~", 1)
        case .sendAt: return ("at:", 1)
        case .sendAtPut: return ("at:put:", 2)
        case .sendSize: return ("size", 0)
        case .sendValue: return ("value", 0)
        case .sendValue1: return ("value:", 1)
        case .sendIsNil: return ("isNil", 0)
        case .sendNotNil: return ("notNil", 0)
        case .sendClass: return ("class", 0)
        default: return nil
        }
    }

    /// The special-send opcode for a selector, if it has one.
    public static let forSpecialSelector: [String: Opcode] = {
        var table: [String: Opcode] = [:]
        for op in Opcode.allCases { if let s = op.specialSelector { table[s.selector] = op } }
        return table
    }()

    public var isJump: Bool { self == .jump || self == .jumpIfTrue || self == .jumpIfFalse }

    /// Superinstructions follow the ordinary opcodes (only `floatBlock` comes after them); compiler output
    /// never contains them.
    public var isSuperinstruction: Bool {
        rawValue >= Opcode.pushSelfTemp.rawValue && rawValue <= Opcode.tempOpTempStore.rawValue
    }

    /// SmallInteger comparisons, in opcode order (`sendLess` ... `sendNotEq`).
    public var isComparison: Bool { rawValue >= Opcode.sendLess.rawValue && rawValue <= Opcode.sendNotEq.rawValue }
}

/// One decoded instruction, for the disassembler, the verifier and tests.
public struct Instruction: Equatable, Sendable {
    public var offset: Int
    public var opcode: Opcode
    public var a: Int
    public var b: Int

    public init(offset: Int, opcode: Opcode, a: Int = 0, b: Int = 0) {
        self.offset = offset; self.opcode = opcode; self.a = a; self.b = b
    }

    /// Decodes all instructions; nil if the bytes are not a well-formed instruction stream.
    public static func decode(_ bytes: [UInt8]) -> [Instruction]? {
        var out: [Instruction] = []
        var pc = 0
        while pc < bytes.count {
            guard let op = Opcode(rawValue: bytes[pc]), pc + op.length <= bytes.count else { return nil }
            var ins = Instruction(offset: pc, opcode: op)
            let p = pc + 1
            switch op.operands {
            case .none: break
            case .i8: ins.a = Int(Int8(bitPattern: bytes[p]))
            case .u8: ins.a = Int(bytes[p])
            case .u16: ins.a = Int(bytes[p]) | Int(bytes[p + 1]) << 8
            case .i16: ins.a = Int(Int16(bitPattern: UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8))
            case .u16u8: ins.a = Int(bytes[p]) | Int(bytes[p + 1]) << 8; ins.b = Int(bytes[p + 2])
            case .u8i8: ins.a = Int(bytes[p]); ins.b = Int(Int8(bitPattern: bytes[p + 1]))
            }
            out.append(ins)
            pc += op.length
        }
        return out
    }

    /// Appends the encoding of this instruction (offset is ignored).
    public func encode(into bytes: inout [UInt8]) {
        bytes.append(opcode.rawValue)
        switch opcode.operands {
        case .none: break
        case .i8: bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: a)))
        case .u8: bytes.append(UInt8(truncatingIfNeeded: a))
        case .u16, .i16:
            let v = UInt16(truncatingIfNeeded: a)
            bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8))
        case .u16u8:
            let v = UInt16(truncatingIfNeeded: a)
            bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)); bytes.append(UInt8(truncatingIfNeeded: b))
        case .u8i8:
            bytes.append(UInt8(truncatingIfNeeded: a)); bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: b)))
        }
    }
}

extension Instruction: CustomStringConvertible {
    public var description: String {
        switch opcode.operands {
        case .none: return "\(offset): \(opcode)"
        case .i8, .u8, .u16, .i16: return "\(offset): \(opcode) \(a)"
        case .u16u8, .u8i8: return "\(offset): \(opcode) \(a) \(b)"
        }
    }
}
