import VMCore
@testable import Compiler

/// Checks that compiled code is well formed for the interpreter: it decodes, every operand names
/// something that exists, jumps land on instructions, the stack depth is consistent on every
/// path and its maximum is `maxStack`, and no path runs off the end. Answers the problems found.
func verify(_ method: MethodDescription) -> [String] {
    var problems: [String] = []
    verifyCode(method.bytecodes, method.literals, lines: method.lines, numArgs: method.numArgs,
               numLocals: method.numTemps, maxStack: method.maxStack, isBlock: false, name: method.selector,
               problems: &problems)
    return problems
}

private func verifyCode(_ bytecodes: [UInt8], _ literals: [Literal], lines: [Int], numArgs: Int, numLocals: Int,
                        maxStack: Int, isBlock: Bool, name: String, problems: inout [String]) {
    func problem(_ text: String) { problems.append("\(name): \(text)") }
    guard let instructions = Instruction.decode(bytecodes) else { return problem("does not decode") }
    if lines.count != bytecodes.count { problem("\(lines.count) line entries for \(bytecodes.count) bytes") }
    if numLocals > Frame.maxLocals { problem("too many locals") }
    let starts = Dictionary(uniqueKeysWithValues: instructions.enumerated().map { ($1.offset, $0) })

    func checkTemp(_ offset: Int) {
        let isArgument = (-numArgs..<0).contains(offset)
        let isLocal = (Frame.headerSize..<Frame.headerSize + numLocals).contains(offset)
        if !isArgument && !isLocal { problem("temp offset \(offset) out of range") }
    }
    func literal(_ index: Int) -> Literal? {
        guard literals.indices.contains(index) else { problem("literal index \(index) out of range"); return nil }
        return literals[index]
    }

    var depths = [Int?](repeating: nil, count: instructions.count)
    var work = [(0, 0)]
    var deepest = 0
    while let (index, depth) = work.popLast() {
        guard index < instructions.count else { problem("runs off the end"); continue }
        if let known = depths[index] {
            if known != depth { problem("depth \(depth) vs \(known) at \(instructions[index].offset)") }
            continue
        }
        depths[index] = depth
        let ins = instructions[index]
        var pops = 0, pushes = 0
        var successors = [index + 1]
        switch ins.opcode {
        case .pushSelf, .pushNil, .pushTrue, .pushFalse, .pushThisContext, .pushInt8, .pushInstVar, .pushNewArray:
            pushes = 1
        case .pushTemp: checkTemp(ins.a); pushes = 1
        case .storeTemp: checkTemp(ins.a); pops = 1; pushes = 1
        case .popStoreTemp: checkTemp(ins.a); pops = 1
        case .storeInstVar: pops = 1; pushes = 1
        case .popStoreInstVar: pops = 1
        case .pushLiteral: _ = literal(ins.a); pushes = 1
        case .pushGlobal, .storeGlobal, .popStoreGlobal:
            if let l = literal(ins.a), case .binding = l {} else { problem("global without a binding literal") }
            pops = ins.opcode == .pushGlobal ? 0 : 1
            pushes = ins.opcode == .popStoreGlobal ? 0 : 1
        case .pushRemoteTemp, .storeRemoteTemp, .popStoreRemoteTemp:
            checkTemp(ins.b)
            pops = ins.opcode == .pushRemoteTemp ? 0 : 1
            pushes = ins.opcode == .popStoreRemoteTemp ? 0 : 1
        case .popIntoNewArray: pops = ins.a; pushes = 1
        case .pushClosure:
            if let l = literal(ins.a), case .block(let block) = l {
                pops = block.numCopied; pushes = 1
                verifyCode(block.bytecodes, block.literals, lines: block.lines, numArgs: block.numArgs,
                           numLocals: block.numCopied + block.numTemps, maxStack: block.maxStack, isBlock: true,
                           name: name + "[]", problems: &problems)
            } else { problem("pushClosure without a block literal") }
        case .dup: pops = 1; pushes = 2
        case .pop: pops = 1
        case .returnTop, .nonLocalReturnTop: pops = 1; successors = []
        case .blockReturnTop:
            if !isBlock { problem("blockReturnTop in a method") }
            pops = 1; successors = []
        case .returnSelf:
            if isBlock { problem("returnSelf in a block") }
            successors = []
        case .jump, .jumpIfTrue, .jumpIfFalse:
            pops = ins.opcode == .jump ? 0 : 1
            guard let target = starts[ins.offset + 3 + ins.a] else { problem("jump into the middle of an instruction"); continue }
            successors = ins.opcode == .jump ? [target] : [index + 1, target]
        case .send, .superSend:
            if literals.indices.contains(ins.a + 2), case .symbol = literals[ins.a],
               literals[ins.a + 1] == .cacheSlot, literals[ins.a + 2] == .cacheSlot {} else {
                problem("send without selector and cache slots")
            }
            pops = ins.b + 1; pushes = 1
        default:
            pops = ins.opcode.specialSelector!.numArgs + 1; pushes = 1
        }
        if depth < pops { problem("stack underflow at \(ins.offset)") }
        let next = depth - pops + pushes
        deepest = max(deepest, next)
        for successor in successors { work.append((successor, next)) }
    }
    if deepest != maxStack { problem("maxStack \(maxStack) but the code reaches \(deepest)") }
}
