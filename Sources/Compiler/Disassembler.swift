import VMCore

/// A readable listing of a method: a header, then one instruction per line with the literal it
/// refers to; the code of each block follows its pushClosure, indented.
public func disassemble(_ method: MethodDescription) -> String {
    var header = "\(method.selector) (args: \(method.numArgs), temps: \(method.numTemps), maxStack: \(method.maxStack)"
    if method.primitive != 0 { header += ", primitive: \(method.primitive)" }
    let lines = [header + ")"] + disassembleCode(method.bytecodes, literals: method.literals, indent: "    ")
    return lines.joined(separator: "\n") + "\n"
}

private func disassembleCode(_ bytecodes: [UInt8], literals: [Literal], indent: String) -> [String] {
    guard let instructions = Instruction.decode(bytecodes) else { return [indent + "<malformed bytecodes>"] }
    var lines: [String] = []
    for instruction in instructions {
        var text = indent + instruction.description
        let literal = literals.indices.contains(instruction.a) ? literals[instruction.a] : nil
        switch instruction.opcode {
        case .send, .superSend, .pushLiteral, .pushGlobal, .storeGlobal, .popStoreGlobal:
            if let literal { text += "  ; " + describe(literal) }
        case .jump, .jumpIfTrue, .jumpIfFalse:
            text += "  ; to \(instruction.offset + instruction.opcode.length + instruction.a)"
        default:
            break
        }
        lines.append(text)
        if instruction.opcode == .pushClosure, case .block(let block)? = literal {
            var blockHeader = indent + "  [block (args: \(block.numArgs), copied: \(block.numCopied)"
            blockHeader += ", temps: \(block.numTemps), maxStack: \(block.maxStack)"
            blockHeader += block.needsHomeContext ? ", needs home context)" : ")"
            lines.append(blockHeader)
            lines += disassembleCode(block.bytecodes, literals: block.literals, indent: indent + "    ")
            lines.append(indent + "  ]")
        }
    }
    return lines
}

/// A literal in Smalltalk syntax.
func describe(_ literal: Literal) -> String {
    switch literal {
    case .nil: return "nil"
    case .true: return "true"
    case .false: return "false"
    case .integer(let value): return String(value)
    case .largeInteger(let digits): return digits
    case .float(let value): return String(value)
    case .scaledDecimal(let numerator, let denominator, let scale):
        return "\(numerator)/\(denominator)s\(scale)"
    case .character(let codePoint):
        return Unicode.Scalar(codePoint).map { "$\($0)" } ?? "Character value: \(codePoint)"
    case .string(let text): return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    case .symbol(let name): return "#" + name
    case .array(let elements): return "#(" + elements.map(describe).joined(separator: " ") + ")"
    case .byteArray(let bytes): return "#[" + bytes.map(String.init).joined(separator: " ") + "]"
    case .binding(let name): return name + " (binding)"
    case .block: return "a block"
    case .cacheSlot: return "a cache slot"
    }
}
