import VMCore

/// Messages compiled as inline control flow instead of sends. A message qualifies only when
/// its block operands are literal blocks with the right number of arguments (and, for
/// to:by:do:, the step is a literal number); otherwise it is an ordinary send.
enum Inlining: Equatable {
    case ifTrue, ifFalse, ifTrueIfFalse, ifFalseIfTrue
    case and, or
    /// `[cond] whileTrue: [body]`, or `[cond] whileTrue` when there is no body.
    case whileTrue(hasBody: Bool), whileFalse(hasBody: Bool)
    case repeatForever
    case toDo(step: Literal)
    case timesRepeat
    case ifNil, ifNotNil, ifNilIfNotNil, ifNotNilIfNil

    init?(_ message: MessageNode) {
        if let receiver = message.receiver as? VariableNode, receiver.name == "super" { return nil }
        let arguments = message.arguments
        func isBlock(_ node: Node, _ argumentCounts: ClosedRange<Int> = 0...0) -> Bool {
            guard let block = node as? BlockNode else { return false }
            return argumentCounts.contains(block.arguments.count)
        }
        let receiverIsBlock = isBlock(message.receiver)
        switch message.selector {
        case "ifTrue:" where isBlock(arguments[0]): self = .ifTrue
        case "ifFalse:" where isBlock(arguments[0]): self = .ifFalse
        case "ifTrue:ifFalse:" where isBlock(arguments[0]) && isBlock(arguments[1]): self = .ifTrueIfFalse
        case "ifFalse:ifTrue:" where isBlock(arguments[0]) && isBlock(arguments[1]): self = .ifFalseIfTrue
        case "and:" where isBlock(arguments[0]): self = .and
        case "or:" where isBlock(arguments[0]): self = .or
        case "whileTrue:" where receiverIsBlock && isBlock(arguments[0]): self = .whileTrue(hasBody: true)
        case "whileFalse:" where receiverIsBlock && isBlock(arguments[0]): self = .whileFalse(hasBody: true)
        case "whileTrue" where receiverIsBlock: self = .whileTrue(hasBody: false)
        case "whileFalse" where receiverIsBlock: self = .whileFalse(hasBody: false)
        case "repeat" where receiverIsBlock: self = .repeatForever
        case "to:do:" where isBlock(arguments[1], 1...1): self = .toDo(step: .integer(1))
        case "to:by:do:" where isBlock(arguments[2], 1...1):
            guard let step = (arguments[1] as? LiteralNode)?.value, Inlining.isNumber(step) else { return nil }
            self = .toDo(step: step)
        case "timesRepeat:" where isBlock(arguments[0]): self = .timesRepeat
        case "ifNil:" where isBlock(arguments[0]): self = .ifNil
        case "ifNotNil:" where isBlock(arguments[0], 0...1): self = .ifNotNil
        case "ifNil:ifNotNil:" where isBlock(arguments[0]) && isBlock(arguments[1], 0...1): self = .ifNilIfNotNil
        case "ifNotNil:ifNil:" where isBlock(arguments[0], 0...1) && isBlock(arguments[1]): self = .ifNotNilIfNil
        default: return nil
        }
    }

    /// The literal blocks of the message that are compiled inline.
    func inlinedBlocks(of message: MessageNode) -> [BlockNode] {
        switch self {
        case .whileTrue, .whileFalse, .repeatForever:
            return ([message.receiver] + message.arguments).compactMap { $0 as? BlockNode }
        case .toDo:
            return [message.arguments.last as! BlockNode]
        default:
            return message.arguments.map { $0 as! BlockNode }
        }
    }

    private static func isNumber(_ literal: Literal) -> Bool {
        switch literal {
        case .integer, .largeInteger, .float, .scaledDecimal: return true
        default: return false
        }
    }

    /// Whether a to:by:do: step counts down (the loop then tests `>=`).
    static func isNegative(_ step: Literal) -> Bool {
        switch step {
        case .integer(let n): return n < 0
        case .float(let x): return x < 0
        case .largeInteger(let digits), .scaledDecimal(let digits, _, _): return digits.hasPrefix("-")
        default: return false
        }
    }
}
