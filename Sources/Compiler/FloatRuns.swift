import VMCore

/// Where the compiler puts a `floatBlock` (Sources/VMCore/FloatBlocks.swift): before statements for
/// effect that assign float arithmetic on temporaries and float literals (`zr := zrzr - zizi + cr`) to
/// temporaries, optionally followed by an inlined `ifTrue:`/`ifFalse:` (with or without the other
/// branch) whose condition compares such arithmetic (`zrzr + zizi > 4.0 ifTrue: […]`). Temporaries in
/// temp vectors (captured and assigned) are left out. The run must be worth a dispatch: at least two
/// operations, and a float literal somewhere — so integer code (`sum := sum + i * j`), whose block
/// would fail at every run, gets none.
struct FloatRun {
    /// How many statements from `start` the run covers (its condition statement included), or nil.
    /// `forEffect` is how many of the statements are generated for effect (the last may be a value).
    static func length(of statements: [Node], from start: Int, forEffect: Int) -> Int? {
        var count = Counts(), i = start
        while i < forEffect, let assignment = statements[i] as? AssignmentNode, isFrameTemp(assignment.variable),
              let counted = count.adding([assignment.value]) {
            count = counted
            i += 1
        }
        if i < forEffect, let message = statements[i] as? MessageNode, isConditional(message.inlining),
           let condition = message.receiver as? MessageNode, condition.inlining == nil,
           comparisons.contains(condition.selector), let counted = count.adding([condition.receiver, condition.arguments[0]]) {
            count = counted
            i += 1
        }
        return i > start && count.operations >= 2 && count.literals >= 1 ? i - start : nil
    }

    private static let arithmetic: Set<String> = ["+", "-", "*", "/"]
    private static let comparisons: Set<String> = ["<", ">", "<=", ">=", "=", "~="]

    private struct Counts {
        var operations = 0, literals = 0

        /// These counts with the expressions' operations and float literals added; nil if one of them is
        /// not float arithmetic on frame temporaries and float literals.
        func adding(_ expressions: [Node]) -> Counts? {
            var sum = self
            return expressions.allSatisfy { sum.add($0) } ? sum : nil
        }

        private mutating func add(_ node: Node) -> Bool {
            switch node {
            case let literal as LiteralNode:
                guard case .float = literal.value else { return false }
                literals += 1
                return true
            case let variable as VariableNode:
                return isFrameTemp(variable)
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
