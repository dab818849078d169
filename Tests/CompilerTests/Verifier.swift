import VMCore
@testable import Compiler

/// Checks that compiled code is well formed for the interpreter (VMCore's `CodeCheck`: it decodes, every
/// operand names something that exists, jumps land on instructions, the stack depth is consistent on
/// every path, no path runs off the end), that its maximum depth is exactly `maxStack` and that it has
/// a line for every byte; its blocks too. Answers the problems found.
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
    if lines.count != bytecodes.count { problem("\(lines.count) line entries for \(bytecodes.count) bytes") }
    if numLocals > Frame.maxLocals { problem("too many locals") }
    switch CodeCheck.deepestStack(in: bytecodes, literals: CodeCheck.kinds(of: literals), numArgs: numArgs,
                                  locals: numLocals, isBlock: isBlock) {
    case .failure(let failure): problem(failure.text)
    case .success(let deepest): if deepest != maxStack { problem("maxStack \(maxStack) but the code reaches \(deepest)") }
    }
    for case .block(let block) in literals {
        verifyCode(block.bytecodes, block.literals, lines: block.lines, numArgs: block.numArgs,
                   numLocals: block.numCopied + block.numTemps, maxStack: block.maxStack, isBlock: true,
                   name: name + "[]", problems: &problems)
    }
}
