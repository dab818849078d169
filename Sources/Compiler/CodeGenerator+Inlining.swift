import VMCore

/// Inline control flow. Every construct leaves exactly one value on the stack, except when a
/// statement uses it for effect: then conditionals and loops leave nothing (no nil to pop).
extension CodeGenerator {
    /// Generates a statement's inlined conditional or loop leaving nothing on the stack; false
    /// (nothing generated) for the constructs that are left to the value form and a pop.
    mutating func generateInlinedForEffect(_ message: MessageNode, _ inlining: Inlining) throws(CompileError) -> Bool {
        let position = message.position
        let arguments = message.arguments
        switch inlining {
        case .ifTrue, .ifFalse:
            let end = emitter.newLabel()
            try generateCondition(message.receiver, jumpIf: !inlining.isIfTrue, to: end, at: position)
            try generateInlinedBody(arguments[0], forEffect: true)
            try emitter.bind(end, at: position)
        case .ifTrueIfFalse, .ifFalseIfTrue:
            try conditional(testing: message.receiver, skipIf: !inlining.isIfTrue, at: position,
                            then: { g throws(CompileError) in try g.generateInlinedBody(arguments[0], forEffect: true) },
                            else: { g throws(CompileError) in try g.generateInlinedBody(arguments[1], forEffect: true) })
        case .whileTrue(let hasBody), .whileFalse(let hasBody):
            try generateWhile(message, exitOn: inlining.isWhileTrue ? .jumpIfFalse : .jumpIfTrue, hasBody: hasBody,
                              forEffect: true)
        case .toDo(let step):
            try generateToDo(message, step: step, forEffect: true)
        case .timesRepeat:
            try generateTimesRepeat(message, forEffect: true)
        default:
            return false
        }
        return true
    }

    /// An inlined `ifTrue:`, `ifFalse:`, `ifTrue:ifFalse:`, `ifFalse:ifTrue:`, `and:` or `or:` leaving its
    /// value, or — `returned`, for a method's `^` or a block's last value — returning it from each branch. False (nothing
    /// generated) for the other constructs.
    mutating func generateValueConditional(_ message: MessageNode, _ inlining: Inlining, returned: Bool) throws(CompileError) -> Bool {
        let skipIf: Bool, otherwise: Node?, constant: Opcode
        switch inlining {
        case .ifTrue, .ifFalse: (skipIf, otherwise, constant) = (!inlining.isIfTrue, nil, .pushNil)
        case .ifTrueIfFalse, .ifFalseIfTrue: (skipIf, otherwise, constant) = (!inlining.isIfTrue, message.arguments[1], .pushNil)
        case .and, .or: (skipIf, otherwise, constant) = (!inlining.isAnd, nil, inlining.isAnd ? .pushFalse : .pushTrue)
        default: return false
        }
        // A branch is a block's statements, or the constant the construct answers when it has none.
        func branch(_ body: Node?) -> (inout CodeGenerator) throws(CompileError) -> Void {
            { g throws(CompileError) in
                if let body {
                    try g.generateInlinedBody(body, returned: returned)
                } else {
                    g.emitter.emit(constant)
                    if returned { g.emitter.emit(g.localReturn) }
                }
            }
        }
        try conditional(testing: message.receiver, skipIf: skipIf, at: message.position,
                        then: branch(message.arguments[0]), else: branch(otherwise))
        return true
    }

    mutating func generateInlined(_ message: MessageNode, _ inlining: Inlining) throws(CompileError) {
        let position = message.position
        switch inlining {
        case .ifTrue, .ifFalse, .ifTrueIfFalse, .ifFalseIfTrue, .and, .or:
            _ = try generateValueConditional(message, inlining, returned: false)
        case .whileTrue(let hasBody), .whileFalse(let hasBody):
            try generateWhile(message, exitOn: inlining.isWhileTrue ? .jumpIfFalse : .jumpIfTrue, hasBody: hasBody)
        case .repeatForever:
            let loop = emitter.newLabel()
            try emitter.bind(loop, at: position)
            try generateInlinedBody(message.receiver, forEffect: true)
            try emitter.jump(.jump, to: loop, at: position)
        case .toDo(let step):
            try generateToDo(message, step: step)
        case .timesRepeat:
            try generateTimesRepeat(message)
        case .ifNil, .ifNotNil, .ifNilIfNotNil, .ifNotNilIfNil:
            try generateIfNil(message, inlining)
        }
    }

    /// `then` runs when the value on the stack does not trigger `skipOn`, `else` when it does.
    private mutating func conditional(skipOn jump: Opcode, at position: SourcePosition,
                                      then: (inout CodeGenerator) throws(CompileError) -> Void,
                                      else otherwise: (inout CodeGenerator) throws(CompileError) -> Void) throws(CompileError) {
        try conditional(testing: nil, skipIf: jump == .jumpIfTrue, at: position, then: then, else: otherwise)
    }

    /// `then` runs when the condition (or, without one, the value on the stack) is not `skipIf`,
    /// `else` when it is.
    private mutating func conditional(testing condition: Node?, skipIf: Bool, at position: SourcePosition,
                                      then: (inout CodeGenerator) throws(CompileError) -> Void,
                                      else otherwise: (inout CodeGenerator) throws(CompileError) -> Void) throws(CompileError) {
        let elseLabel = emitter.newLabel()
        let end = emitter.newLabel()
        let line = emitter.line
        if let condition {
            try generateCondition(condition, jumpIf: skipIf, to: elseLabel, at: position)
        } else {
            try emitter.jump(skipIf ? .jumpIfTrue : .jumpIfFalse, to: elseLabel, at: position)
        }
        try then(&self)
        emitter.line = line
        try emitter.jump(.jump, to: end, at: position)
        try emitter.bind(elseLabel, at: position)
        try otherwise(&self)
        emitter.line = line
        try emitter.bind(end, at: position)
    }

    /// The statements of an inlined block, leaving the value of the last one (nil if none) unless the
    /// body of a loop is generated for effect, or returning it (`returned`, a method's `^`).
    private mutating func generateInlinedBody(_ node: Node, forEffect: Bool = false, returned: Bool = false) throws(CompileError) {
        let block = node as! BlockNode
        let line = emitter.line
        emitEntry(of: block.scope, at: block.position, assignedFirst: Self.assignedBeforeRead(block.statements))
        if returned {
            try generateStatementsReturned(block.statements, end: block.endPosition)
        } else {
            try generateStatements(block.statements, valueAt: forEffect ? nil : block.endPosition)
        }
        emitter.line = line
    }

    /// Code that jumps to `target` when the value of `node` is `jumpIf` and goes on otherwise, leaving
    /// nothing on the stack. An inlined `and:`/`or:` becomes a jump on each operand, so the Boolean
    /// of `[a and: [b]] whileTrue: […]` is never pushed and tested a second time. Any other value is
    /// pushed and tested by a conditional jump (which sends #mustBeBoolean to a non-Boolean).
    private mutating func generateCondition(_ node: Node, jumpIf: Bool, to target: Label,
                                            at position: SourcePosition) throws(CompileError) {
        if let message = node as? MessageNode, let inlining = message.inlining, inlining == .and || inlining == .or {
            // `a and: [b]` is decided (false) as soon as `a` is false; `a or: [b]` as soon as `a` is true.
            let decidedBy = inlining == .or
            let undecided = emitter.newLabel()
            try generateCondition(message.receiver, jumpIf: decidedBy, to: jumpIf == decidedBy ? target : undecided,
                                  at: message.position)
            try generateInlinedCondition(message.arguments[0] as! BlockNode, jumpIf: jumpIf, to: target, at: message.position)
            try emitter.bind(undecided, at: message.position)
            return
        }
        try generate(node)
        try emitter.jump(jumpIf ? .jumpIfTrue : .jumpIfFalse, to: target, at: position)
    }

    /// `generateCondition` for an inlined literal block (a loop's condition, the operand of `and:`):
    /// its statements, the last one as the condition.
    private mutating func generateInlinedCondition(_ block: BlockNode, jumpIf: Bool, to target: Label,
                                                   at position: SourcePosition) throws(CompileError) {
        guard let last = block.statements.last, !(last is ReturnNode) else {
            try generateInlinedBody(block)
            try emitter.jump(jumpIf ? .jumpIfTrue : .jumpIfFalse, to: target, at: position)
            return
        }
        let line = emitter.line
        emitEntry(of: block.scope, at: block.position, assignedFirst: Self.assignedBeforeRead(block.statements))
        try generateStatements(Array(block.statements.dropLast()), valueAt: nil)
        try generateCondition(last, jumpIf: jumpIf, to: target, at: position)
        emitter.line = line
    }

    /// `[cond] whileTrue: [body]` and friends; the value is nil.
    private mutating func generateWhile(_ message: MessageNode, exitOn exit: Opcode, hasBody: Bool,
                                        forEffect: Bool = false) throws(CompileError) {
        let position = message.position
        let loop = emitter.newLabel()
        try emitter.bind(loop, at: position)
        if hasBody {
            let done = emitter.newLabel()
            try generateInlinedCondition(message.receiver as! BlockNode, jumpIf: exit == .jumpIfTrue, to: done, at: position)
            try generateInlinedBody(message.arguments[0], forEffect: true)
            try emitter.jump(.jump, to: loop, at: position)
            try emitter.bind(done, at: position)
        } else {
            try generateInlinedCondition(message.receiver as! BlockNode, jumpIf: exit == .jumpIfFalse, to: loop, at: position)
        }
        if !forEffect { emitter.emit(.pushNil) }
    }

    /// `start to: stop by: step do: [:i | ...]`: the counter is the block argument, the limit is
    /// evaluated once into a hidden temp; the value is the receiver (start), left on the stack.
    private mutating func generateToDo(_ message: MessageNode, step: Literal, forEffect: Bool = false) throws(CompileError) {
        let position = message.position
        let block = message.arguments.last as! BlockNode
        let counter = block.scope.arguments[0]
        let limit = message.hiddenTemp!
        try generate(message.receiver)
        if !forEffect { emitter.emit(.dup) }
        emitStore(counter, popping: true)
        try generate(message.arguments[0])
        emitStore(limit, popping: true)
        let loop = emitter.newLabel()
        let done = emitter.newLabel()
        try emitter.bind(loop, at: position)
        emitPush(counter)
        emitPush(limit)
        emitter.emit(Inlining.isNegative(step) ? .sendGreaterEq : .sendLessEq)
        try emitter.jump(.jumpIfFalse, to: done, at: position)
        try generateInlinedBody(block, forEffect: true)
        emitPush(counter)
        try emitPushLiteral(step, at: position)
        emitter.emit(.sendAdd)
        emitStore(counter, popping: true)
        try emitter.jump(.jump, to: loop, at: position)
        try emitter.bind(done, at: position)
    }

    /// `n timesRepeat: [...]` counts a hidden temp down from n while it is >= 1; the value is
    /// the receiver.
    private mutating func generateTimesRepeat(_ message: MessageNode, forEffect: Bool = false) throws(CompileError) {
        let position = message.position
        let count = message.hiddenTemp!
        try generate(message.receiver)
        if !forEffect { emitter.emit(.dup) }
        emitStore(count, popping: true)
        let loop = emitter.newLabel()
        let done = emitter.newLabel()
        try emitter.bind(loop, at: position)
        emitPush(count)
        emitter.emit(.pushInt8, 1)
        emitter.emit(.sendGreaterEq)
        try emitter.jump(.jumpIfFalse, to: done, at: position)
        try generateInlinedBody(message.arguments[0], forEffect: true)
        emitPush(count)
        emitter.emit(.pushInt8, 1)
        emitter.emit(.sendSub)
        emitStore(count, popping: true)
        try emitter.jump(.jump, to: loop, at: position)
        try emitter.bind(done, at: position)
    }

    /// The receiver is tested with `== nil`. `ifNil:` alone answers the receiver when it is not
    /// nil; `ifNotNil:` alone answers nil (the receiver) when it is nil. The ifNotNil: block's
    /// optional argument receives the receiver.
    private mutating func generateIfNil(_ message: MessageNode, _ inlining: Inlining) throws(CompileError) {
        let position = message.position
        let arguments = message.arguments
        try generate(message.receiver)
        emitter.emit(.dup)
        emitter.emit(.pushNil)
        emitter.emit(.sendIdentical)
        let nilBranch: (inout CodeGenerator) throws(CompileError) -> Void = { g throws(CompileError) in
            g.emitter.emit(.pop)
            try g.generateInlinedBody(inlining == .ifNotNilIfNil ? arguments[1] : arguments[0])
        }
        let notNilBranch: (inout CodeGenerator) throws(CompileError) -> Void = { g throws(CompileError) in
            let block = (inlining == .ifNilIfNotNil ? arguments[1] : arguments[0]) as! BlockNode
            if let value = block.scope.arguments.first {
                g.emitStore(value, popping: true)
            } else {
                g.emitter.emit(.pop)
            }
            try g.generateInlinedBody(block)
        }
        switch inlining {
        case .ifNil:
            let done = emitter.newLabel()
            try emitter.jump(.jumpIfFalse, to: done, at: position)
            try nilBranch(&self)
            try emitter.bind(done, at: position)
        case .ifNotNil:
            let done = emitter.newLabel()
            try emitter.jump(.jumpIfTrue, to: done, at: position)
            try notNilBranch(&self)
            try emitter.bind(done, at: position)
        case .ifNilIfNotNil:
            try conditional(skipOn: .jumpIfFalse, at: position, then: nilBranch, else: notNilBranch)
        default:
            try conditional(skipOn: .jumpIfTrue, at: position, then: notNilBranch, else: nilBranch)
        }
    }
}

extension Inlining {
    /// The constructs `generateValueConditional` compiles: their value can be returned from each branch.
    var isValueConditional: Bool {
        switch self {
        case .ifTrue, .ifFalse, .ifTrueIfFalse, .ifFalseIfTrue, .and, .or: return true
        default: return false
        }
    }
}

private extension Inlining {
    var isIfTrue: Bool { self == .ifTrue || self == .ifTrueIfFalse }
    var isAnd: Bool { self == .and }
    var isWhileTrue: Bool {
        if case .whileTrue = self { return true }
        return false
    }
}

extension CodeGenerator {
    /// The names the leading assignment statements give a value before anything mentions them:
    /// in `[:x | | a b | a := x + 1. b := a * 2. …]` both `a` and `b`. An inlined loop body need
    /// not reset those to nil on each iteration (their old value cannot be seen).
    static func assignedBeforeRead(_ statements: [Node]) -> Set<String> {
        var assigned = Set<String>(), mentionedSoFar = Set<String>()
        for statement in statements {
            guard let assignment = statement as? AssignmentNode else { break }
            collectNames(in: assignment.value, into: &mentionedSoFar)
            let name = assignment.variable.name
            if !mentionedSoFar.contains(name) { assigned.insert(name) }
            mentionedSoFar.insert(name)
        }
        return assigned
    }

    /// Every variable name that occurs in `node` (nested blocks included; shadowing is ignored,
    /// which only makes the answer larger).
    private static func collectNames(in node: Node, into names: inout Set<String>) {
        switch node {
        case let v as VariableNode: names.insert(v.name)
        case let a as AssignmentNode:
            names.insert(a.variable.name)
            collectNames(in: a.value, into: &names)
        case let m as MessageNode:
            collectNames(in: m.receiver, into: &names)
            for arg in m.arguments { collectNames(in: arg, into: &names) }
        case let c as CascadeNode:
            collectNames(in: c.receiver, into: &names)
            for m in c.messages { for arg in m.arguments { collectNames(in: arg, into: &names) } }
        case let b as BlockNode: for s in b.statements { collectNames(in: s, into: &names) }
        case let b as BraceNode: for e in b.elements { collectNames(in: e, into: &names) }
        case let r as ReturnNode: collectNames(in: r.value, into: &names)
        default: break
        }
    }
}
