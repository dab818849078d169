import VMCore

/// A jump target inside one emitter.
struct Label {
    fileprivate let id: Int
}

/// Accumulates the bytecodes of one method or block with their source lines, tracks the operand
/// stack depth, and resolves jumps. Code after a return or an unconditional jump is unreachable
/// until a label that some jump targets is bound; unreachable instructions are dropped.
struct Emitter {
    private(set) var bytes: [UInt8] = []
    private(set) var lines: [Int] = []
    private(set) var maxDepth = 0
    private var isReachable = true
    /// The source line given to the instructions emitted from now on.
    var line = 0
    private var depth = 0
    private var labelOffsets: [Int?] = []
    private var labelDepths: [Int?] = []
    private var pendingJumps: [(offset: Int, label: Int)] = []

    mutating func emit(_ opcode: Opcode, _ a: Int = 0, _ b: Int = 0, stackEffect: Int? = nil) {
        guard isReachable else { return }
        append(opcode, a, b)
        depth += stackEffect ?? Emitter.stackEffect(of: opcode, a, b)
        maxDepth = max(maxDepth, depth)
        switch opcode {
        case .returnTop, .returnSelf, .blockReturnTop, .nonLocalReturnTop: isReachable = false
        default: break
        }
    }

    mutating func newLabel() -> Label {
        labelOffsets.append(nil)
        labelDepths.append(nil)
        return Label(id: labelOffsets.count - 1)
    }

    mutating func jump(_ opcode: Opcode, to label: Label, at position: SourcePosition) throws(CompileError) {
        guard isReachable else { return }
        if opcode != .jump { depth -= 1 }
        labelDepths[label.id] = depth
        let offset = bytes.count
        if let target = labelOffsets[label.id] {
            append(opcode, try Emitter.jumpDistance(from: offset, to: target, at: position))
        } else {
            pendingJumps.append((offset, label.id))
            append(opcode, 0)
        }
        if opcode == .jump { isReachable = false }
    }

    mutating func bind(_ label: Label, at position: SourcePosition) throws(CompileError) {
        labelOffsets[label.id] = bytes.count
        for (offset, id) in pendingJumps where id == label.id {
            let distance = UInt16(bitPattern: Int16(try Emitter.jumpDistance(from: offset, to: bytes.count, at: position)))
            bytes[offset + 1] = UInt8(distance & 0xFF)
            bytes[offset + 2] = UInt8(distance >> 8)
        }
        pendingJumps.removeAll { $0.label == label.id }
        if !isReachable, let jumpDepth = labelDepths[label.id] {
            depth = jumpDepth
            isReachable = true
        }
    }

    /// The bytecodes, with jump chains threaded: a jump whose target is an unconditional jump goes
    /// where that one goes (nested `and:`/`or:` and `ifTrue:ifFalse:` values end in such chains). The
    /// jumps in between stay, so sizes, offsets and lines do not change; each chain costs one dispatch.
    /// A forward jump is only threaded to a forward target (and a backward one to a backward target).
    var code: [UInt8] {
        guard let instructions = Instruction.decode(bytes) else { return bytes }
        var jumpTargets: [Int: Int] = [:]     // offset of an unconditional jump → its target
        for i in instructions where i.opcode == .jump { jumpTargets[i.offset] = i.offset + Opcode.jump.length + i.a }
        var out = bytes
        for i in instructions where i.opcode == .jump || i.opcode == .jumpIfTrue || i.opcode == .jumpIfFalse {
            let start = i.offset + Opcode.jump.length + i.a
            var target = start, hops = 0
            while let next = jumpTargets[target], next != i.offset, hops < 8 { target = next; hops += 1 }
            // A jump keeps its direction: backward jumps are where loops check for interrupts.
            guard target != start, (target > i.offset) == (start > i.offset),
                  let distance = Int16(exactly: target - (i.offset + Opcode.jump.length)) else { continue }
            out[i.offset + 1] = UInt8(UInt16(bitPattern: distance) & 0xFF)
            out[i.offset + 2] = UInt8(UInt16(bitPattern: distance) >> 8)
        }
        return out
    }

    private mutating func append(_ opcode: Opcode, _ a: Int, _ b: Int = 0) {
        Instruction(offset: bytes.count, opcode: opcode, a: a, b: b).encode(into: &bytes)
        lines += Array(repeating: line, count: opcode.length)
    }

    /// Jump offsets count from the byte after the three-byte jump instruction.
    private static func jumpDistance(from jump: Int, to target: Int, at position: SourcePosition) throws(CompileError) -> Int {
        let distance = target - (jump + Opcode.jump.length)
        guard Int16(exactly: distance) != nil else { throw CompileError("method too large", at: position) }
        return distance
    }

    private static func stackEffect(of opcode: Opcode, _ a: Int, _ b: Int) -> Int {
        switch opcode {
        case .pushSelf, .pushNil, .pushTrue, .pushFalse, .pushThisContext, .pushInt8, .pushTemp, .pushInstVar,
             .pushLiteral, .pushGlobal, .pushRemoteTemp, .pushNewArray, .dup:
            return 1
        case .storeTemp, .storeInstVar, .storeGlobal, .storeRemoteTemp, .jump, .returnSelf:
            return 0
        case .popStoreTemp, .popStoreInstVar, .popStoreGlobal, .popStoreRemoteTemp, .pop, .jumpIfTrue, .jumpIfFalse,
             .returnTop, .blockReturnTop, .nonLocalReturnTop:
            return -1
        case .popIntoNewArray: return 1 - a
        case .pushClosure: preconditionFailure("the caller gives the stack effect of pushClosure")
        case .send, .superSend: return -b
        default: return -(opcode.specialSelector?.numArgs ?? 0)
        }
    }
}
