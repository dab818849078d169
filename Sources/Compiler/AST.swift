import VMCore

// The parse tree. Nodes are classes so that scope analysis can annotate them in place
// (variable bindings, inlined blocks, scopes) for the code generator.

class Node {
    let position: SourcePosition
    /// Height of the tree below and including this node. The parser bounds it, so the
    /// recursive passes over the tree cannot exhaust the stack.
    let height: Int

    init(position: SourcePosition, children: [Node] = []) {
        self.position = position
        self.height = 1 + (children.map(\.height).max() ?? 0)
    }
}

/// A name introduced by a method pattern, a block (`:x`) or a temporaries declaration.
struct Declaration {
    var name: String
    var position: SourcePosition
}

final class LiteralNode: Node {
    let value: Literal
    init(_ value: Literal, position: SourcePosition) {
        self.value = value
        super.init(position: position)
    }
}

enum VariableBinding {
    case unresolved
    case receiver, superReceiver, nilValue, trueValue, falseValue, thisContext
    case temporary(Variable)
    case instanceVariable(Int)
    /// A global, class variable or pool variable, reached through its binding literal.
    case global(String)
}

final class VariableNode: Node {
    let name: String
    var binding: VariableBinding = .unresolved
    init(_ name: String, position: SourcePosition) {
        self.name = name
        super.init(position: position)
    }
}

final class AssignmentNode: Node {
    let variable: VariableNode
    let value: Node
    init(_ variable: VariableNode, _ value: Node) {
        self.variable = variable; self.value = value
        super.init(position: variable.position, children: [value])
    }
}

final class MessageNode: Node {
    let receiver: Node
    let selector: String
    let arguments: [Node]
    /// Set by scope analysis when the message is compiled as inline control flow.
    var inlining: Inlining?
    /// The to:do: limit or timesRepeat: counter of an inlined loop.
    var hiddenTemp: Variable?
    /// Position is the selector's (its first keyword).
    init(receiver: Node, selector: String, arguments: [Node], position: SourcePosition) {
        self.receiver = receiver; self.selector = selector; self.arguments = arguments
        super.init(position: position, children: [receiver] + arguments)
    }
}

/// One message of a cascade; all of them go to the cascade's receiver.
struct CascadeMessage {
    var selector: String
    var arguments: [Node]
    var position: SourcePosition
}

final class CascadeNode: Node {
    let receiver: Node
    let messages: [CascadeMessage]
    init(receiver: Node, messages: [CascadeMessage]) {
        self.receiver = receiver; self.messages = messages
        super.init(position: receiver.position, children: [receiver] + messages.flatMap(\.arguments))
    }
}

final class BlockNode: Node {
    let arguments: [Declaration]
    let temporaries: [Declaration]
    let statements: [Node]
    /// Position of the closing bracket.
    let endPosition: SourcePosition
    /// Set by scope analysis.
    var isInlined = false
    var scope: Scope!

    init(arguments: [Declaration], temporaries: [Declaration], statements: [Node],
         position: SourcePosition, endPosition: SourcePosition) {
        self.arguments = arguments; self.temporaries = temporaries; self.statements = statements
        self.endPosition = endPosition
        super.init(position: position, children: statements)
    }
}

/// `{a. b. c}`
final class BraceNode: Node {
    let elements: [Node]
    init(elements: [Node], position: SourcePosition) {
        self.elements = elements
        super.init(position: position, children: elements)
    }
}

/// `^ expr`, only as a statement.
final class ReturnNode: Node {
    let value: Node
    init(_ value: Node, position: SourcePosition) {
        self.value = value
        super.init(position: position, children: [value])
    }
}

final class MethodNode {
    let selector: String
    let arguments: [Declaration]
    /// Declared temporaries; the `error:` temp of a primitive comes first.
    let temporaries: [Declaration]
    let primitive: Int
    let pragmas: [PragmaDescription]
    let statements: [Node]
    /// Position of the last token, for the implicit return at the end.
    let endPosition: SourcePosition
    let isDoIt: Bool
    var scope: Scope!

    init(selector: String, arguments: [Declaration], temporaries: [Declaration], primitive: Int,
         pragmas: [PragmaDescription], statements: [Node], endPosition: SourcePosition, isDoIt: Bool) {
        self.selector = selector; self.arguments = arguments; self.temporaries = temporaries
        self.primitive = primitive; self.pragmas = pragmas; self.statements = statements
        self.endPosition = endPosition; self.isDoIt = isDoIt
    }
}
