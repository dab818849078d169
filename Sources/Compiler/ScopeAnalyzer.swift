/// Resolves every variable, decides which blocks are inlined, and lays out frames following the
/// closure compiler model: a variable is captured when a real block nested in its declaring
/// scope refers to it; captured variables that are assigned live in a temp vector, the other
/// captured ones are copied into each closure that needs them.
struct ScopeAnalyzer {
    private let classScope: ClassScope
    private let isDoIt: Bool
    /// Every use of a frame variable, with the real scope it is used from, in source order.
    private var references: [(from: Scope, variable: Variable)] = []
    /// All scopes, outermost first, in source order.
    private var scopes: [Scope] = []

    static func analyze(_ method: MethodNode, in classScope: ClassScope) throws(CompileError) {
        var analyzer = ScopeAnalyzer(classScope: classScope, isDoIt: method.isDoIt)
        try analyzer.analyze(method)
    }

    private init(classScope: ClassScope, isDoIt: Bool) {
        self.classScope = classScope; self.isDoIt = isDoIt
    }

    private var usesWorkspace: Bool { isDoIt && classScope.workspace }

    private mutating func analyze(_ method: MethodNode) throws(CompileError) {
        let scope = Scope(kind: .method, parent: nil, position: SourcePosition(line: 1, column: 1))
        method.scope = scope
        scopes.append(scope)
        for argument in method.arguments { try scope.declare(argument, kind: .argument) }
        for temporary in method.temporaries where !usesWorkspace {
            try scope.declare(temporary, kind: .temporary)
        }
        try visitAll(method.statements, in: scope)
        try layOut()
    }

    private mutating func visit(_ node: Node, in scope: Scope) throws(CompileError) {
        switch node {
        case let variable as VariableNode: try resolve(variable, in: scope, isStore: false)
        case let assignment as AssignmentNode: try visitAssignment(assignment, in: scope)
        case let message as MessageNode: try visitMessage(message, in: scope)
        case let cascade as CascadeNode: try visitCascade(cascade, in: scope)
        case let block as BlockNode: try visitBlock(block, in: scope)
        case let brace as BraceNode: try visitAll(brace.elements, in: scope)
        case let ret as ReturnNode: try visitReturn(ret, in: scope)
        default: break
        }
    }

    private mutating func visitAll(_ nodes: [Node], in scope: Scope) throws(CompileError) {
        for node in nodes { try visit(node, in: scope) }
    }

    private mutating func visitAssignment(_ assignment: AssignmentNode, in scope: Scope) throws(CompileError) {
        try visit(assignment.value, in: scope)
        try resolve(assignment.variable, in: scope, isStore: true)
    }

    private mutating func visitCascade(_ cascade: CascadeNode, in scope: Scope) throws(CompileError) {
        try visitReceiver(cascade.receiver, in: scope)
        try visitAll(cascade.messages.flatMap(\.arguments), in: scope)
    }

    /// A `^` makes its real block, and every real block around it, need the home context.
    private mutating func visitReturn(_ ret: ReturnNode, in scope: Scope) throws(CompileError) {
        try visit(ret.value, in: scope)
        var home = scope.realScope
        while home.kind == .block {
            home.needsHomeContext = true
            home = home.parent!.realScope
        }
    }

    private mutating func visitMessage(_ message: MessageNode, in scope: Scope) throws(CompileError) {
        if let inlining = Inlining(message) {
            message.inlining = inlining
            for block in inlining.inlinedBlocks(of: message) { block.isInlined = true }
            switch inlining {
            case .toDo: message.hiddenTemp = scope.addHiddenTemp(named: "limit")
            case .timesRepeat: message.hiddenTemp = scope.addHiddenTemp(named: "count")
            default: break
            }
        }
        try visitReceiver(message.receiver, in: scope)
        try visitAll(message.arguments, in: scope)
    }

    /// `super` is only valid as the receiver of a message or cascade.
    private mutating func visitReceiver(_ receiver: Node, in scope: Scope) throws(CompileError) {
        if let variable = receiver as? VariableNode, variable.name == "super" {
            variable.binding = .superReceiver
        } else {
            try visit(receiver, in: scope)
        }
    }

    private mutating func visitBlock(_ block: BlockNode, in parent: Scope) throws(CompileError) {
        let scope = Scope(kind: block.isInlined ? .inlinedBlock : .block, parent: parent, position: block.position)
        block.scope = scope
        scopes.append(scope)
        if block.isInlined { scope.realScope.inlinedScopes.append(scope) }
        for argument in block.arguments { try scope.declare(argument, kind: .argument) }
        for temporary in block.temporaries { try scope.declare(temporary, kind: .temporary) }
        try visitAll(block.statements, in: scope)
    }

    private mutating func resolve(_ node: VariableNode, in scope: Scope, isStore: Bool) throws(CompileError) {
        let name = node.name
        let pseudo: [String: VariableBinding] = [
            "self": .receiver, "super": .superReceiver, "nil": .nilValue, "true": .trueValue,
            "false": .falseValue, "thisContext": .thisContext,
        ]
        if let binding = pseudo[name] {
            if isStore { throw CompileError("cannot store into '\(name)'", at: node.position) }
            if name == "super" {
                throw CompileError("'super' can only be used as the receiver of a message", at: node.position)
            }
            node.binding = binding
        } else if let variable = lookup(name, from: scope) {
            try use(variable, node, from: scope, isStore: isStore)
        } else if let index = classScope.instanceVariables.lastIndex(of: name) {
            if index > 255 { throw CompileError("instance variable '\(name)' is beyond slot 255", at: node.position) }
            node.binding = .instanceVariable(index)
        } else if name.unicodeScalars.first!.properties.isUppercase {
            node.binding = .global(name)
        } else if usesWorkspace {
            node.binding = .global(name)
        } else if isDoIt {
            var method = scope
            while let parent = method.parent { method = parent }
            let variable = try method.declare(Declaration(name: name, position: node.position), kind: .temporary)
            try use(variable, node, from: scope, isStore: isStore)
        } else {
            throw CompileError("undeclared variable '\(name)'", at: node.position)
        }
    }

    private func lookup(_ name: String, from scope: Scope) -> Variable? {
        var current: Scope? = scope
        while let s = current {
            if let variable = s.lookup(name) { return variable }
            current = s.parent
        }
        return nil
    }

    private mutating func use(_ variable: Variable, _ node: VariableNode, from scope: Scope,
                              isStore: Bool) throws(CompileError) {
        if isStore {
            if variable.kind == .argument {
                throw CompileError("cannot assign to argument '\(variable.name)'", at: node.position)
            }
            variable.isWritten = true
        }
        let from = scope.realScope
        if from !== variable.scope.realScope { variable.isCaptured = true }
        references.append((from, variable))
        node.binding = .temporary(variable)
    }

    private func layOut() throws(CompileError) {
        for scope in scopes {
            let remote = scope.variables.filter { $0.kind == .temporary && $0.isCaptured && $0.isWritten }
            guard !remote.isEmpty else { continue }
            if remote.count > 255 { throw CompileError("too many captured temporaries", at: scope.position) }
            let vector = Variable(name: "tempVector", kind: .tempVector, scope: scope)
            for (index, variable) in remote.enumerated() { variable.storage = .remote(index: index, vector: vector) }
            scope.tempVector = vector
            scope.tempVectorSize = remote.count
        }
        for (from, variable) in references {
            var copied = variable
            if case .remote(_, let vector) = variable.storage { copied = vector }
            let owner = copied.scope.realScope
            var scope = from
            while scope !== owner {
                scope.addCopiedValue(copied)
                scope = scope.parent!.realScope
            }
        }
        for scope in scopes where scope.isReal { try scope.allocateFrame() }
    }
}
