import VMCore

/// A named or compiler-made variable living in a frame or a temp vector.
final class Variable {
    enum Kind {
        case argument       // of a method, real block or inlined block (never assigned)
        case temporary      // declared (or auto-declared in a do-it)
        case hidden         // compiler temp of an inlined loop (to:do: limit, timesRepeat: counter)
        case tempVector     // holds the captured-and-assigned temporaries of one scope
    }

    enum Storage {
        case unallocated
        case argument(offset: Int)
        case local(Int)
        /// A slot of the temp vector held in `vector`.
        case remote(index: Int, vector: Variable)
    }

    let name: String
    let kind: Kind
    unowned let scope: Scope
    /// A real block nested in the declaring scope refers to it.
    var isCaptured = false
    var isWritten = false
    var storage = Storage.unallocated

    init(name: String, kind: Kind, scope: Scope) {
        self.name = name; self.kind = kind; self.scope = scope
    }

    var isRemote: Bool {
        if case .remote = storage { return true }
        return false
    }
}

/// The variables of a method or block. Real scopes (method, real block) own a frame; an inlined
/// block's variables live in the frame of its nearest real scope.
final class Scope {
    enum Kind { case method, block, inlinedBlock }

    let kind: Kind
    unowned let parent: Scope?
    /// Where the scope starts, for errors about its size.
    let position: SourcePosition
    /// Arguments, then temporaries, in declaration order.
    private(set) var variables: [Variable] = []
    var tempVector: Variable?
    var tempVectorSize = 0

    // Real scopes only.
    var needsHomeContext = false
    /// Inlined blocks whose variables this frame holds, in source order.
    var inlinedScopes: [Scope] = []
    var hiddenTemps: [Variable] = []
    /// Values the closure carries in (variables and temp vectors of enclosing scopes).
    private(set) var copiedValues: [Variable] = []
    private var copiedIndex: [ObjectIdentifier: Int] = [:]
    /// All locals in frame order: copied values first.
    private(set) var locals: [Variable] = []

    init(kind: Kind, parent: Scope?, position: SourcePosition) {
        self.kind = kind; self.parent = parent; self.position = position
    }

    var isReal: Bool { kind != .inlinedBlock }

    var realScope: Scope { isReal ? self : parent!.realScope }

    var arguments: [Variable] { variables.filter { $0.kind == .argument } }

    func lookup(_ name: String) -> Variable? {
        variables.last { $0.name == name }
    }

    @discardableResult
    func declare(_ declaration: Declaration, kind: Variable.Kind) throws(CompileError) -> Variable {
        if lookup(declaration.name) != nil {
            throw CompileError("variable '\(declaration.name)' declared twice", at: declaration.position)
        }
        let variable = Variable(name: declaration.name, kind: kind, scope: self)
        variables.append(variable)
        return variable
    }

    func addHiddenTemp(named name: String) -> Variable {
        let variable = Variable(name: name, kind: .hidden, scope: self)
        realScope.hiddenTemps.append(variable)
        return variable
    }

    func addCopiedValue(_ variable: Variable) {
        guard copiedIndex[ObjectIdentifier(variable)] == nil else { return }
        copiedIndex[ObjectIdentifier(variable)] = copiedValues.count
        copiedValues.append(variable)
    }

    /// Frame layout of a real scope: arguments at negative offsets; locals are the copied values,
    /// the frame-resident temporaries of this scope and then of its inlined blocks, the temp
    /// vectors (this scope's, then the inlined blocks'), and the hidden loop temps.
    func allocateFrame() throws(CompileError) {
        let arguments = self.arguments
        for (i, argument) in arguments.enumerated() { argument.storage = .argument(offset: i - arguments.count) }
        let frameResident = ([self] + inlinedScopes).flatMap { scope in
            scope.variables.filter { !$0.isRemote && (scope.kind == .inlinedBlock || $0.kind == .temporary) }
        }
        let vectors = ([self] + inlinedScopes).compactMap(\.tempVector)
        locals = copiedValues + frameResident + vectors + hiddenTemps
        if locals.count > Frame.maxLocals {
            throw CompileError("too many temporaries: \(locals.count) locals, at most \(Frame.maxLocals)", at: position)
        }
        for (j, local) in locals.enumerated().dropFirst(copiedValues.count) { local.storage = .local(j) }
    }

    /// The frame offset at which this real scope's code finds the variable: its own slot, or
    /// the copied value for a variable of an enclosing scope.
    func frameOffset(of variable: Variable) -> Int {
        if let index = copiedIndex[ObjectIdentifier(variable)] { return Frame.headerSize + index }
        switch variable.storage {
        case .argument(let offset): return offset
        case .local(let index): return Frame.headerSize + index
        case .unallocated, .remote: preconditionFailure("variable '\(variable.name)' has no frame slot")
        }
    }
}
