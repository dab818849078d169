import VMCore

/// Where the compiler puts a `floatBlock` (Sources/VMCore/FloatBlocks.swift): before statements for
/// effect that assign float arithmetic on temporaries, float literals and unary sends to temporaries
/// (`zr := zrzr - zizi + cr`, `dx := iBody x - jBody x`) to temporaries, or send such arithmetic as the
/// argument of a one-argument message to a temporary (`body vx: body vx - (dx * mag)`) — the VM runs the
/// sends in the block when their inline caches hold a getter and a setter — optionally followed by an
/// inlined `ifTrue:`/`ifFalse:` (with or without the other branch) whose condition compares such
/// arithmetic (`zrzr + zizi > 4.0 ifTrue: […]`). Temporaries in temp vectors (captured and assigned) are
/// left out. The run must be worth a dispatch: at least two operations, and a float literal or a send
/// somewhere — so integer code on temporaries alone (`sum := sum + i * j`), whose block would fail at
/// every run, gets none — and no more unary sends than operations (a getter's value copied to a
/// temporary costs the block more than the interpreter's fused `pushTempSend`/`popStoreTemp`).
struct FloatRun {
    /// How many statements from `start` the run covers (its condition statement included), or nil.
    /// `forEffect` is how many of the statements are generated for effect (the last may be a value).
    static func length(of statements: [Node], from start: Int, forEffect: Int) -> Int? {
        var count = Counts(), i = start
        while i < forEffect, let counted = count.adding(statement: statements[i]) {
            count = counted
            i += 1
        }
        if i < forEffect, let message = statements[i] as? MessageNode, isConditional(message.inlining),
           let condition = message.receiver as? MessageNode, condition.inlining == nil,
           comparisons.contains(condition.selector), let counted = count.adding([condition.receiver, condition.arguments[0]]) {
            count = counted
            i += 1
        }
        return i > start && count.operations >= 2 && count.operations >= count.getters
            && count.literals + count.getters + count.setters >= 1 ? i - start : nil
    }

    private static let arithmetic: Set<String> = ["+", "-", "*", "/"]
    private static let comparisons: Set<String> = ["<", ">", "<=", ">=", "=", "~="]

    private struct Counts {
        var operations = 0, literals = 0, getters = 0, setters = 0
        /// The temporaries the run assigns so far: no longer receivers (the VM sends to a temporary's
        /// frame slot, which the run writes only at its end).
        var assigned: Set<ObjectIdentifier> = []

        /// These counts with an assignment to a temporary or a one-argument send to one added; nil if the
        /// statement is neither, or its expression is not float arithmetic.
        func adding(statement: Node) -> Counts? {
            if let assignment = statement as? AssignmentNode, isFrameTemp(assignment.variable),
               case .temporary(let variable) = assignment.variable.binding, var counted = adding([assignment.value]) {
                counted.assigned.insert(ObjectIdentifier(variable))
                return counted
            }
            if let message = statement as? MessageNode, isReceiver(message), message.arguments.count == 1,
               message.selector.hasSuffix(":"), var counted = adding(message.arguments) {
                counted.setters += 1
                return counted
            }
            return nil
        }

        /// These counts with the expressions' operations, float literals and sends added; nil if one of
        /// them is not float arithmetic on frame temporaries, float literals and unary sends to temporaries.
        func adding(_ expressions: [Node]) -> Counts? {
            var sum = self
            return expressions.allSatisfy { sum.add($0) } ? sum : nil
        }

        /// A message compiled as a `send` (no special selector, not inlined) to a frame temporary the run
        /// has not assigned.
        func isReceiver(_ message: MessageNode) -> Bool {
            guard message.inlining == nil, Opcode.forSpecialSelector[message.selector] == nil,
                  let receiver = message.receiver as? VariableNode, isFrameTemp(receiver),
                  case .temporary(let variable) = receiver.binding else { return false }
            return !assigned.contains(ObjectIdentifier(variable))
        }

        private mutating func add(_ node: Node) -> Bool {
            switch node {
            case let literal as LiteralNode:
                guard case .float = literal.value else { return false }
                literals += 1
                return true
            case let variable as VariableNode:
                return isFrameTemp(variable)
            case let message as MessageNode where message.arguments.isEmpty:
                guard isReceiver(message) else { return false }
                getters += 1
                return true
            case let message as MessageNode:
                guard message.inlining == nil, arithmetic.contains(message.selector) else { return false }
                operations += 1
                return add(message.receiver) && add(message.arguments[0])
            default:
                return false
            }
        }
    }

    private static func isFrameTemp(_ node: VariableNode) -> Bool {
        if case .temporary(let variable) = node.binding { return !variable.isRemote }
        return false
    }

    private static func isConditional(_ inlining: Inlining?) -> Bool {
        switch inlining {
        case .ifTrue?, .ifFalse?, .ifTrueIfFalse?, .ifFalseIfTrue?: return true
        default: return false
        }
    }
}
