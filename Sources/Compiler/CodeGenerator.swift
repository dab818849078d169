import VMCore

/// Emits the code of one real scope (a method or a real block); nested real blocks get their
/// own generator and become `.block` literals.
struct CodeGenerator {
    let scope: Scope
    var emitter = Emitter()
    var literals = LiteralFrame()

    init(scope: Scope) { self.scope = scope }

    static func method(_ method: MethodNode, source: String) throws(CompileError) -> MethodDescription {
        var generator = CodeGenerator(scope: method.scope)
        generator.emitEntry(of: method.scope, at: SourcePosition(line: 1, column: 1))
        // A do-it answers its last statement's value; a method without `^` answers self.
        try generator.generateStatements(method.statements, valueAt: method.isDoIt ? method.endPosition : nil)
        generator.emitter.line = method.endPosition.line
        generator.emitter.emit(method.isDoIt ? .returnTop : .returnSelf)
        return MethodDescription(
            selector: method.selector, numArgs: method.arguments.count, numTemps: method.scope.locals.count,
            maxStack: generator.emitter.maxDepth, primitive: method.primitive, bytecodes: generator.emitter.code,
            literals: generator.literals.literals, pragmas: method.pragmas, source: source,
            lines: generator.emitter.lines)
    }

    private static func block(_ block: BlockNode) throws(CompileError) -> BlockDescription {
        let scope = block.scope!
        var generator = CodeGenerator(scope: scope)
        generator.emitEntry(of: scope, at: block.position)
        if let last = block.statements.last as? MessageNode, let inlining = last.inlining, inlining.isValueConditional {
            // `[:x | x > 0 ifTrue: [a] ifFalse: [b]]` answers from each branch, as a method's `^` does.
            try generator.generateStatementsReturned(block.statements, end: block.endPosition)
        } else {
            try generator.generateStatements(block.statements, valueAt: block.endPosition)
            generator.emitter.line = block.endPosition.line
            generator.emitter.emit(.blockReturnTop)
        }
        return BlockDescription(
            numArgs: block.arguments.count, numCopied: scope.copiedValues.count,
            numTemps: scope.locals.count - scope.copiedValues.count, maxStack: generator.emitter.maxDepth,
            needsHomeContext: scope.needsHomeContext, bytecodes: generator.emitter.code,
            literals: generator.literals.literals, lines: generator.emitter.lines)
    }

    /// Statements for effect. With `valueAt`, the value of the last one (nil when there are none)
    /// is left on the stack. Nothing is generated after a `^` statement.
    mutating func generateStatements(_ statements: [Node], valueAt end: SourcePosition?) throws(CompileError) {
        let forEffect = end == nil ? statements.count : statements.count - 1
        var floatRunEnd = 0
        for (i, statement) in statements.enumerated() {
            if statement is ReturnNode {
                try generate(statement)
                return
            }
            if i >= floatRunEnd, let n = FloatRun.length(of: statements, from: i, forEffect: forEffect) {
                emitter.line = statement.position.line
                emitter.emit(.floatBlock, try literals.floatProgramSlot(at: statement.position))
                floatRunEnd = i + n
            }
            if i == statements.count - 1 && end != nil {
                try generate(statement)
            } else {
                try generateForEffect(statement)
            }
        }
        if statements.isEmpty, let end {
            emitter.line = end.line
            emitter.emit(.pushNil)
        }
    }

    /// Statements whose value a method (or a block) returns: the last one is returned
    /// (`generateReturned`), the others run for effect; nothing follows a `^` statement, and no
    /// statements return nil.
    mutating func generateStatementsReturned(_ statements: [Node], end: SourcePosition) throws(CompileError) {
        for (i, statement) in statements.enumerated() {
            if statement is ReturnNode { return try generate(statement) }
            if i == statements.count - 1 { return try generateReturned(statement) }
            try generateForEffect(statement)
        }
        emitter.line = end.line
        emitter.emit(.pushNil)
        emitter.emit(localReturn)
    }

    /// The instruction that answers a value from the code being generated: a method's `^`, or a
    /// block's answer (`^` inside a block is a non-local return, `generateReturn`).
    var localReturn: Opcode { scope.kind == .method ? .returnTop : .blockReturnTop }

    /// A scope's entry: an inlined block's temporaries are reset to nil (so each loop iteration
    /// starts fresh) unless `assignedFirst` says the body assigns them before anything can read
    /// them, and a scope with captured-and-assigned temporaries makes its temp vector.
    mutating func emitEntry(of entered: Scope, at position: SourcePosition, assignedFirst: Set<String> = []) {
        emitter.line = position.line
        if entered.kind == .inlinedBlock {
            for variable in entered.variables where variable.kind == .temporary && !variable.isRemote
                && !assignedFirst.contains(variable.name) {
                emitter.emit(.pushNil)
                emitter.emit(.popStoreTemp, scope.frameOffset(of: variable))
            }
        }
        if let vector = entered.tempVector {
            emitter.emit(.pushNewArray, entered.tempVectorSize)
            emitter.emit(.popStoreTemp, scope.frameOffset(of: vector))
        }
    }

    private mutating func generateForEffect(_ node: Node) throws(CompileError) {
        if let assignment = node as? AssignmentNode {
            try generate(assignment.value)
            emitter.line = assignment.position.line
            try emitStore(assignment.variable, popping: true)
        } else if let message = node as? MessageNode, let inlining = message.inlining,
                  try generateInlinedForEffect(message, inlining) {
            return
        } else {
            try generate(node)
            emitter.line = node.position.line
            emitter.emit(.pop)
        }
    }

    /// Pushes the value of an expression.
    mutating func generate(_ node: Node) throws(CompileError) {
        let outerLine = emitter.line
        emitter.line = node.position.line
        defer { emitter.line = outerLine }
        switch node {
        case let literal as LiteralNode: try emitPushLiteral(literal.value, at: literal.position)
        case let variable as VariableNode: try emitPush(variable)
        case let assignment as AssignmentNode: try generateAssignment(assignment)
        case let message as MessageNode: try generateMessage(message)
        case let cascade as CascadeNode: try generateCascade(cascade)
        case let block as BlockNode: try generateClosure(block)
        case let brace as BraceNode: try generateBrace(brace)
        case let ret as ReturnNode: try generateReturn(ret)
        default: preconditionFailure("unknown node")
        }
    }

    private mutating func generateAssignment(_ assignment: AssignmentNode) throws(CompileError) {
        try generate(assignment.value)
        try emitStore(assignment.variable, popping: false)
    }

    private mutating func generateMessage(_ message: MessageNode) throws(CompileError) {
        if let inlining = message.inlining { return try generateInlined(message, inlining) }
        let isSuper = try generateReceiver(message.receiver)
        for argument in message.arguments { try generate(argument) }
        try emitSend(message.selector, argumentCount: message.arguments.count, isSuper: isSuper, at: message.position)
    }

    private mutating func generateBrace(_ brace: BraceNode) throws(CompileError) {
        for element in brace.elements { try generate(element) }
        if brace.elements.count > 0xFFFF { throw CompileError("too many elements in a brace array", at: brace.position) }
        emitter.emit(.popIntoNewArray, brace.elements.count)
    }

    private mutating func generateReturn(_ ret: ReturnNode) throws(CompileError) {
        guard scope.kind == .method else {
            try generate(ret.value)
            emitter.emit(.nonLocalReturnTop)
            return
        }
        try generateReturned(ret.value)
    }

    /// `^ value` in a method, or a block's last value. An inlined conditional value (`ifTrue:ifFalse:`,
    /// `and:`, …) returns from each of its branches instead of jumping to one shared return: a
    /// dispatch less on that branch.
    mutating func generateReturned(_ node: Node) throws(CompileError) {
        if let message = node as? MessageNode, let inlining = message.inlining,
           try generateValueConditional(message, inlining, returned: true) {
            return
        }
        try generate(node)
        emitter.emit(localReturn)
    }

    /// Pushes the receiver; answers whether the message is a super send.
    private mutating func generateReceiver(_ receiver: Node) throws(CompileError) -> Bool {
        if let variable = receiver as? VariableNode, case .superReceiver = variable.binding {
            emitter.line = variable.position.line
            emitter.emit(.pushSelf)
            return true
        }
        try generate(receiver)
        return false
    }

    private mutating func generateCascade(_ cascade: CascadeNode) throws(CompileError) {
        let isSuper = try generateReceiver(cascade.receiver)
        for (i, message) in cascade.messages.enumerated() {
            let isLast = i == cascade.messages.count - 1
            emitter.line = message.position.line
            if !isLast { emitter.emit(.dup) }
            for argument in message.arguments { try generate(argument) }
            try emitSend(message.selector, argumentCount: message.arguments.count, isSuper: isSuper,
                         at: message.position)
            if !isLast { emitter.emit(.pop) }
        }
    }

    private mutating func generateClosure(_ block: BlockNode) throws(CompileError) {
        let copied = block.scope.copiedValues
        for variable in copied { emitter.emit(.pushTemp, scope.frameOffset(of: variable)) }
        let description = try CodeGenerator.block(block)
        emitter.line = block.position.line
        let index = try literals.block(description, at: block.position)
        emitter.emit(.pushClosure, index, stackEffect: 1 - copied.count)
    }

    mutating func emitSend(_ selector: String, argumentCount: Int, isSuper: Bool,
                           at position: SourcePosition) throws(CompileError) {
        if !isSuper, let special = Opcode.forSpecialSelector[selector] {
            emitter.emit(special)
        } else {
            let index = try literals.sendSite(selector, at: position)
            emitter.emit(isSuper ? .superSend : .send, index, argumentCount)
        }
    }

    mutating func emitPushLiteral(_ literal: Literal, at position: SourcePosition) throws(CompileError) {
        if case .integer(let value) = literal, (-128...127).contains(value) {
            emitter.emit(.pushInt8, value)
        } else {
            emitter.emit(.pushLiteral, try literals.index(of: literal, at: position))
        }
    }

    private mutating func emitPush(_ node: VariableNode) throws(CompileError) {
        switch node.binding {
        case .receiver: emitter.emit(.pushSelf)
        case .nilValue: emitter.emit(.pushNil)
        case .trueValue: emitter.emit(.pushTrue)
        case .falseValue: emitter.emit(.pushFalse)
        case .thisContext: emitter.emit(.pushThisContext)
        case .temporary(let variable): emitPush(variable)
        case .instanceVariable(let index): emitter.emit(.pushInstVar, index)
        case .global(let name): emitter.emit(.pushGlobal, try literals.index(of: .binding(name), at: node.position))
        case .unresolved, .superReceiver: preconditionFailure("unresolved variable '\(node.name)'")
        }
    }

    mutating func emitPush(_ variable: Variable) {
        if case .remote(let index, let vector) = variable.storage {
            emitter.emit(.pushRemoteTemp, index, scope.frameOffset(of: vector))
        } else {
            emitter.emit(.pushTemp, scope.frameOffset(of: variable))
        }
    }

    private mutating func emitStore(_ node: VariableNode, popping: Bool) throws(CompileError) {
        switch node.binding {
        case .temporary(let variable):
            emitStore(variable, popping: popping)
        case .instanceVariable(let index):
            emitter.emit(popping ? .popStoreInstVar : .storeInstVar, index)
        case .global(let name):
            let index = try literals.index(of: .binding(name), at: node.position)
            emitter.emit(popping ? .popStoreGlobal : .storeGlobal, index)
        default:
            preconditionFailure("cannot store into '\(node.name)'")
        }
    }

    mutating func emitStore(_ variable: Variable, popping: Bool) {
        if case .remote(let index, let vector) = variable.storage {
            emitter.emit(popping ? .popStoreRemoteTemp : .storeRemoteTemp, index, scope.frameOffset(of: vector))
        } else {
            emitter.emit(popping ? .popStoreTemp : .storeTemp, scope.frameOffset(of: variable))
        }
    }
}
