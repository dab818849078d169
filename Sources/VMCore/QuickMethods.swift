// Quick methods: accessors, setters and constant methods run at the send, without a frame.
//
// Installation recognises the bytecode shapes below and records them in the method's primitive
// field, numbered as in Squeak/Pharo (256 ^self, 257 ^true, 258 ^false, 259 ^nil, 260-263 ^-1...2,
// 264-519 ^instVar) plus setters (520-775: `x: v  x := v`, answering self). Explicit primitives
// are 1-255, so the ranges never meet. A quick method whose receiver lacks the instance variable
// (a method installed in the wrong class) falls back to running its bytecodes, which report it.

enum QuickMethod {
    static let returnSelf = 256, returnTrue = 257, returnFalse = 258, returnNil = 259
    static let returnMinusOne = 260, returnTwo = 263
    static let returnInstVar = 264, setInstVar = 520

    /// The quick primitive number for a method's code, or 0 when it is not one of the shapes.
    static func number(for bytecodes: [UInt8], numArgs: Int, numTemps: Int) -> Int {
        guard numTemps == 0, bytecodes.count <= 6, let code = Instruction.decode(bytecodes) else { return 0 }
        let ops = code.map(\.opcode)
        if numArgs == 0 {
            if ops == [.returnSelf] || ops == [.pushSelf, .returnTop] { return returnSelf }
            guard ops.count == 2, ops[1] == .returnTop else { return 0 }
            switch ops[0] {
            case .pushTrue: return returnTrue
            case .pushFalse: return returnFalse
            case .pushNil: return returnNil
            case .pushInt8 where (-1...2).contains(code[0].a): return returnMinusOne + 1 + code[0].a
            case .pushInstVar: return returnInstVar + code[0].a
            default: return 0
            }
        }
        if numArgs == 1, ops.count >= 3, ops[0] == .pushTemp, code[0].a == -1, ops[1] == .popStoreInstVar,
           Array(ops[2...]) == [.returnSelf] || Array(ops[2...]) == [.pushSelf, .returnTop] {
            return setInstVar + code[1].a
        }
        return 0
    }
}
