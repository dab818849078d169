// The check that makes compiled code safe for the interpreter, which trusts it: every instruction
// decodes, names temporaries and literals that exist and are of the kind it needs, jumps onto an
// instruction, and the operand stack has one depth on every path, never below empty nor above the
// frame's room, and no path runs off the end. Compiler output is checked when installed
// (Install.swift), code read from an image when loaded (LoadedCode.swift).

/// What a literal is, as far as running code goes.
public enum LiteralKind: Equatable, Sendable {
    case symbol
    /// An Association (globals read and write its value).
    case binding
    case block(numCopied: Int)
    /// One of the two inline-cache slots after a send's selector.
    case cacheSlot
    case other
}

/// What checking compiled code reads of it, from heap objects (loading) or from records (`lo check`).
public struct CompiledCodeParts {
    public var isBlock: Bool
    /// The value of each SmallInteger field (by `CodeLayout` index); nil where a field holds anything else.
    public var integers: [Int?]
    public var bytecodes: [UInt8]
    public var literals: [LiteralKind]
    /// Whether the method the code belongs to (itself, or through outer blocks) was found, and whether
    /// its method class has the shape of a class.
    public var hasHomeMethod: Bool, homeClassIsClassShaped: Bool

    public init(isBlock: Bool, integers: [Int?], bytecodes: [UInt8], literals: [LiteralKind], hasHomeMethod: Bool,
                homeClassIsClassShaped: Bool) {
        self.isBlock = isBlock; self.integers = integers; self.bytecodes = bytecodes; self.literals = literals
        self.hasHomeMethod = hasHomeMethod; self.homeClassIsClassShaped = homeClassIsClassShaped
    }

    /// Why the code cannot run safely, or nil; and its bytecodes without superinstructions.
    public func check() -> (problem: String?, plain: [UInt8]) {
        func count(_ field: Int, _ range: ClosedRange<Int>) -> Int? {
            field < integers.count ? integers[field].flatMap { range.contains($0) ? $0 : nil } : nil
        }
        var plain = bytecodes
        guard let numArgs = count(CodeLayout.numArgs, 0...Frame.maxLocals),
              let numTemps = count(CodeLayout.numTemps, 0...Frame.maxLocals),
              let copied = isBlock ? count(CodeLayout.numCopied, 0...Frame.maxLocals) : 0,
              let frameSize = count(CodeLayout.frameSize, copied + numTemps + 2...copied + numTemps + 2 + 0xFFFF)
        else { return ("frame sizes out of range", plain) }
        if !isBlock && count(CodeLayout.primitive, Int.min...Int.max) == nil { return ("primitive number is not an integer", plain) }
        guard let fused = Instruction.decode(bytecodes) else { return ("undecodable bytecodes", plain) }
        for ins in fused { plain[ins.offset] = Superinstructions.replaced(by: ins.opcode).rawValue }
        // The inline caches are emptied when code is loaded (an image keeps none).
        var kinds = literals
        for slot in Self.cacheSlots(of: plain) where slot < kinds.count { kinds[slot] = .cacheSlot }
        if let problem = CodeCheck.problem(in: plain, literals: kinds, numArgs: numArgs, locals: copied + numTemps,
                                           maxStack: frameSize - copied - numTemps - 2, isBlock: isBlock) {
            return (problem, plain)
        }
        if !hasHomeMethod { return (isBlock ? "a block outside any method" : "a method without itself", plain) }
        if !homeClassIsClassShaped && fused.contains(where: { $0.opcode == .superSend }) {
            return ("a super send in code without a class", plain)
        }
        return (nil, plain)
    }

    /// The literal indices of the inline-cache slots of the code's sends and of its float blocks' programs.
    public static func cacheSlots(of plain: [UInt8]) -> [Int] {
        (Instruction.decode(plain) ?? []).flatMap { ins in
            ins.opcode == .send || ins.opcode == .superSend ? [ins.a + 1, ins.a + 2] : ins.opcode == .floatBlock ? [ins.a] : []
        }
    }
}

public enum CodeCheck {
    /// Why the code is not fit to run in a frame with room for `maxStack` operands, or nil. `bytecodes`
    /// are compiler output (no superinstructions).
    static func problem(in bytecodes: [UInt8], literals: [LiteralKind], numArgs: Int, locals: Int,
                        maxStack: Int, isBlock: Bool) -> String? {
        switch deepestStack(in: bytecodes, literals: literals, numArgs: numArgs, locals: locals, isBlock: isBlock) {
        case .failure(let problem): problem.text
        case .success(let deepest): deepest > maxStack ? "the stack gets \(deepest) deep, the frame has room for \(maxStack)" : nil
        }
    }

    /// What compiler output's literals are.
    public static func kinds(of literals: [Literal]) -> [LiteralKind] {
        literals.map { literal in
            switch literal {
            case .symbol: .symbol
            case .binding: .binding
            case .block(let b): .block(numCopied: b.numCopied)
            case .cacheSlot: .cacheSlot
            default: .other
            }
        }
    }

    public struct Problem: Error, Equatable {
        public let text: String
    }

    /// How deep the operand stack gets on the deepest path, or why the code is not fit to run.
    public static func deepestStack(in bytecodes: [UInt8], literals: [LiteralKind], numArgs: Int, locals: Int,
                                    isBlock: Bool) -> Result<Int, Problem> {
        func fail(_ text: String) -> Result<Int, Problem> { .failure(Problem(text: text)) }
        guard let code = Instruction.decode(bytecodes), let last = code.last else { return fail("undecodable bytecodes") }
        guard [.returnTop, .returnSelf, .blockReturnTop, .jump, .nonLocalReturnTop].contains(last.opcode) else {
            return fail("code does not end with a return")
        }
        var index = [Int: Int](minimumCapacity: code.count)
        for (i, ins) in code.enumerated() { index[ins.offset] = i }
        // A float block keeps its program in its slot: no other instruction may use that slot as a cache.
        var floatSlots = Set<Int>()
        for ins in code where ins.opcode == .floatBlock {
            guard floatSlots.insert(ins.a).inserted else { return fail("two float blocks share a literal slot") }
        }
        for ins in code where (ins.opcode == .send || ins.opcode == .superSend)
            && (floatSlots.contains(ins.a + 1) || floatSlots.contains(ins.a + 2)) {
            return fail("a send's cache slot is a float block's")
        }
        func isTemp(_ offset: Int) -> Bool {
            (offset < 0 && offset >= -numArgs) || (offset >= Frame.headerSize && offset < Frame.headerSize + locals)
        }
        func kind(_ i: Int) -> LiteralKind? { literals.indices.contains(i) ? literals[i] : nil }

        var depths = [Int](repeating: -1, count: code.count)
        var deepest = 0
        var work = [(0, 0)]
        while let (i, depth) = work.popLast() {
            guard i < code.count else { return fail("a path runs off the end of the code") }
            if depths[i] >= 0 {
                if depths[i] != depth { return fail("stack depths \(depth) and \(depths[i]) meet at \(code[i].offset)") }
                continue
            }
            depths[i] = depth
            let ins = code[i]
            var pops = 0, pushes = 0
            var successors = [i + 1]
            switch ins.opcode {
            case .pushSelf, .pushNil, .pushTrue, .pushFalse, .pushThisContext, .pushInt8, .pushInstVar, .pushNewArray:
                pushes = 1
            case .pushTemp, .storeTemp, .popStoreTemp:
                guard isTemp(ins.a) else { return fail("temp offset \(ins.a) out of range") }
                pops = ins.opcode == .pushTemp ? 0 : 1
                pushes = ins.opcode == .popStoreTemp ? 0 : 1
            case .storeInstVar: pops = 1; pushes = 1
            case .popStoreInstVar: pops = 1
            case .pushLiteral:
                guard kind(ins.a) != nil else { return fail("literal index out of range") }
                pushes = 1
            case .pushGlobal, .storeGlobal, .popStoreGlobal:
                guard kind(ins.a) == .binding else { return fail("global is not a binding") }
                pops = ins.opcode == .pushGlobal ? 0 : 1
                pushes = ins.opcode == .popStoreGlobal ? 0 : 1
            case .pushRemoteTemp, .storeRemoteTemp, .popStoreRemoteTemp:
                guard isTemp(ins.b) else { return fail("temp vector offset out of range") }
                pops = ins.opcode == .pushRemoteTemp ? 0 : 1
                pushes = ins.opcode == .popStoreRemoteTemp ? 0 : 1
            case .popIntoNewArray: pops = ins.a; pushes = 1
            case .floatBlock:
                // What it runs is derived from the (checked) instructions after it, FloatBlocks.swift.
                guard kind(ins.a) == .cacheSlot else { return fail("a float block's literal is not a cache slot") }
            case .pushClosure:
                guard case .block(let copied)? = kind(ins.a) else { return fail("closure literal is not a block") }
                pops = copied; pushes = 1
            case .dup: pops = 1; pushes = 2
            case .pop: pops = 1
            case .returnTop, .nonLocalReturnTop, .blockReturnTop, .returnSelf:
                if ins.opcode == .nonLocalReturnTop && !isBlock { return fail("non-local return outside a block") }
                if ins.opcode == .blockReturnTop && !isBlock { return fail("block return outside a block") }
                if ins.opcode == .returnSelf && isBlock { return fail("returnSelf in a block") }
                pops = ins.opcode == .returnSelf ? 0 : 1
                successors = []
            case .jump, .jumpIfTrue, .jumpIfFalse:
                guard let target = index[ins.offset + ins.opcode.length + ins.a] else {
                    return fail("jump into the middle of an instruction")
                }
                pops = ins.opcode == .jump ? 0 : 1
                successors = ins.opcode == .jump ? [target] : [i + 1, target]
            case .send, .superSend:
                guard kind(ins.a) == .symbol, kind(ins.a + 1) == .cacheSlot, kind(ins.a + 2) == .cacheSlot else {
                    return fail("bad send site")
                }
                pops = ins.b + 1; pushes = 1
            default:
                guard let special = ins.opcode.specialSelector else { return fail("superinstruction \(ins.opcode) in unfused code") }
                pops = special.numArgs + 1; pushes = 1
            }
            guard depth >= pops else { return fail("stack underflow at \(ins.offset)") }
            let next = depth - pops + pushes
            deepest = max(deepest, next)
            for successor in successors { work.append((successor, next)) }
        }
        return .success(deepest)
    }
}
