/// Recursive-descent parser for methods and do-its. Stops at the first error.
struct Parser {
    /// Bounds on nesting and on tree height, so that no input can exhaust the stack.
    static let maxNesting = 100
    static let maxHeight = 400
    static let pseudoVariables: Set<String> = ["self", "super", "true", "false", "nil", "thisContext"]

    private var tokens: [Token]
    private var index = 0
    var nesting = 0

    init(_ source: String) throws(CompileError) {
        tokens = Lexer.tokenize(source)
        if case .error(let error) = tokens[0].kind { throw error }
    }

    var current: Token { tokens[index] }
    private var next: Token { tokens[min(index + 1, tokens.count - 1)] }

    mutating func advance() throws(CompileError) {
        if index < tokens.count - 1 { index += 1 }
        if case .error(let error) = current.kind { throw error }
    }

    func error(_ message: String, at token: Token? = nil) -> CompileError {
        CompileError(message, at: (token ?? current).position)
    }

    func isBinary(_ selector: String) -> Bool {
        if case .binary(let s) = current.kind { return s == selector }
        return false
    }

    // MARK: Methods and do-its

    mutating func parseMethod() throws(CompileError) -> MethodNode {
        let (selector, arguments) = try parsePattern()
        var temporaries: [Declaration] = []
        var sawTemporaries = false
        var pragmas = Pragmas()
        while true {
            if isBinary("<") {
                try parsePragma(into: &pragmas)
            } else if isBinary("|") && !sawTemporaries {
                temporaries = try parseTemporaries()
                sawTemporaries = true
            } else {
                break
            }
        }
        let statements = try parseStatements(closing: .end)
        try expectEnd()
        return MethodNode(selector: selector, arguments: arguments,
                          temporaries: pragmas.errorTemporary.map { [$0] + temporaries } ?? temporaries,
                          primitive: pragmas.primitive, pragmas: pragmas.others, statements: statements,
                          endPosition: lastTokenPosition, isDoIt: false)
    }

    mutating func parseDoIt() throws(CompileError) -> MethodNode {
        let temporaries = isBinary("|") ? try parseTemporaries() : []
        let statements = try parseStatements(closing: .end)
        try expectEnd()
        return MethodNode(selector: SmalltalkCompiler.doItSelector, arguments: [], temporaries: temporaries, primitive: 0, pragmas: [],
                          statements: statements, endPosition: lastTokenPosition, isDoIt: true)
    }

    private var lastTokenPosition: SourcePosition {
        index > 0 ? tokens[index - 1].position : current.position
    }

    private func expectEnd() throws(CompileError) {
        guard case .end = current.kind else {
            throw error("expected '.' or the end of the source, found \(current.quoted)")
        }
    }

    mutating func parsePattern() throws(CompileError) -> (String, [Declaration]) {
        switch current.kind {
        case .identifier(let name):
            try advance()
            return (name, [])
        case .binary(let selector):
            try advance()
            return (selector, [try parseDeclaration(after: "'\(selector)'")])
        case .keyword:
            var selector = ""
            var arguments: [Declaration] = []
            while case .keyword(let part) = current.kind {
                if arguments.count == 15 { throw error("too many arguments (at most 15)") }
                selector += part
                try advance()
                arguments.append(try parseDeclaration(after: "'\(part)'"))
            }
            return (selector, arguments)
        default:
            throw error("expected a message pattern (a selector and its argument names)")
        }
    }

    /// A variable name being declared (argument or temporary).
    private mutating func parseDeclaration(after context: String) throws(CompileError) -> Declaration {
        guard case .identifier(let name) = current.kind else {
            throw error("expected an argument name after \(context)")
        }
        if Parser.pseudoVariables.contains(name) { throw error("cannot use '\(name)' as a variable name") }
        let declaration = Declaration(name: name, position: current.position)
        try advance()
        return declaration
    }

    private mutating func parseTemporaries() throws(CompileError) -> [Declaration] {
        let openLine = current.line
        try advance()
        var temporaries: [Declaration] = []
        while case .identifier(let name) = current.kind {
            if Parser.pseudoVariables.contains(name) { throw error("cannot use '\(name)' as a variable name") }
            temporaries.append(Declaration(name: name, position: current.position))
            try advance()
        }
        guard isBinary("|") else {
            throw error("expected '|' to close the temporaries declared at line \(openLine)")
        }
        try advance()
        return temporaries
    }

    // MARK: Statements and expressions
    //
    // The functions on the recursive path (statements -> expression -> primary -> statements)
    // keep rare work in helpers so that their frames, and so each nesting level, stay small.

    /// Statements separated by periods, up to (not including) the closing token.
    private mutating func parseStatements(closing: TokenKind) throws(CompileError) -> [Node] {
        var statements: [Node] = []
        while true {
            try skipPeriods()
            if isAtEnd(closing) { return statements }
            statements.append(try parseStatement())
            guard isPeriod else { return statements }
        }
    }

    private mutating func skipPeriods() throws(CompileError) {
        while isPeriod { try advance() }
    }

    private var isPeriod: Bool {
        if case .period = current.kind { return true }
        return false
    }

    private func isAtEnd(_ closing: TokenKind) -> Bool {
        current.kind == closing || current.kind == .end
    }

    private mutating func parseStatement() throws(CompileError) -> Node {
        guard case .caret = current.kind else { return try parseExpression() }
        return try parseReturn()
    }

    private mutating func parseReturn() throws(CompileError) -> Node {
        let position = current.position
        try advance()
        return try bounded(ReturnNode(try parseExpression(), position: position))
    }

    mutating func parseExpression() throws(CompileError) -> Node {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Parser.maxNesting { throw error("expression nested too deeply") }
        if isAssignmentAhead { return try parseAssignment() }
        let first = try parseKeywordExpression()
        return isCascadeAhead ? try parseCascade(first) : first
    }

    private var isAssignmentAhead: Bool {
        guard case .identifier = current.kind, case .assignment = next.kind else { return false }
        return true
    }

    private mutating func parseAssignment() throws(CompileError) -> Node {
        guard case .identifier(let name) = current.kind else { preconditionFailure("not an assignment") }
        let variable = VariableNode(name, position: current.position)
        try advance()
        try advance()
        return try bounded(AssignmentNode(variable, try parseExpression()))
    }

    private var isCascadeAhead: Bool {
        if case .semicolon = current.kind { return true }
        return false
    }

    private mutating func parseCascade(_ first: Node) throws(CompileError) -> Node {
        guard let message = first as? MessageNode else { throw error("a cascade must follow a message send") }
        var messages = [CascadeMessage(selector: message.selector, arguments: message.arguments,
                                       position: message.position)]
        while isCascadeAhead {
            try advance()
            messages.append(try parseCascadeMessage())
        }
        return try bounded(CascadeNode(receiver: message.receiver, messages: messages))
    }

    private mutating func parseCascadeMessage() throws(CompileError) -> CascadeMessage {
        let position = current.position
        switch current.kind {
        case .identifier(let selector):
            try advance()
            try rejectSpaceBeforeColon()
            return CascadeMessage(selector: selector, arguments: [], position: position)
        case .binary(let selector):
            try advance()
            return CascadeMessage(selector: selector, arguments: [try parseBinaryArgument(selector)],
                                  position: position)
        case .keyword:
            let (selector, arguments) = try parseKeywordParts()
            return CascadeMessage(selector: selector, arguments: arguments, position: position)
        default:
            throw error("expected a message after ';'")
        }
    }

    private mutating func parseKeywordExpression() throws(CompileError) -> Node {
        let receiver = try parseBinaryExpression()
        guard case .keyword = current.kind else { return receiver }
        return try parseKeywordMessage(to: receiver)
    }

    private mutating func parseKeywordMessage(to receiver: Node) throws(CompileError) -> Node {
        let position = current.position
        let (selector, arguments) = try parseKeywordParts()
        return try bounded(MessageNode(receiver: receiver, selector: selector, arguments: arguments,
                                       position: position))
    }

    private mutating func parseKeywordParts() throws(CompileError) -> (String, [Node]) {
        var selector = ""
        var arguments: [Node] = []
        while case .keyword(let part) = current.kind {
            if arguments.count == 15 { throw error("too many arguments (at most 15)") }
            selector += part
            try advance()
            try expectOperand(after: "keyword '\(part)'")
            arguments.append(try parseBinaryExpression())
        }
        return (selector, arguments)
    }

    private mutating func parseBinaryExpression() throws(CompileError) -> Node {
        var node = try parseUnaryExpression()
        while case .binary = current.kind {
            node = try parseBinaryMessage(to: node)
        }
        return node
    }

    private mutating func parseBinaryMessage(to receiver: Node) throws(CompileError) -> Node {
        guard case .binary(let selector) = current.kind else { preconditionFailure("not a binary message") }
        let position = current.position
        try advance()
        let argument = try parseBinaryArgument(selector)
        return try bounded(MessageNode(receiver: receiver, selector: selector, arguments: [argument], position: position))
    }

    private mutating func parseBinaryArgument(_ selector: String) throws(CompileError) -> Node {
        try expectOperand(after: "binary selector '\(selector)'")
        return try parseUnaryExpression()
    }

    private func expectOperand(after what: String) throws(CompileError) {
        guard canStartOperand else { throw error("missing argument after \(what)") }
    }

    private mutating func parseUnaryExpression() throws(CompileError) -> Node {
        var node = try parsePrimary()
        while case .identifier = current.kind {
            node = try parseUnaryMessage(to: node)
        }
        return node
    }

    private mutating func parseUnaryMessage(to receiver: Node) throws(CompileError) -> Node {
        guard case .identifier(let selector) = current.kind else { preconditionFailure("not a unary message") }
        let position = current.position
        try advance()
        try rejectSpaceBeforeColon()
        return try bounded(MessageNode(receiver: receiver, selector: selector, arguments: [], position: position))
    }

    private func rejectSpaceBeforeColon() throws(CompileError) {
        if case .colon = current.kind {
            throw error("a keyword must not have a space before its colon")
        }
    }

    private var canStartOperand: Bool {
        switch current.kind {
        case .identifier, .number, .character, .string, .symbol, .literalArrayStart, .byteArrayStart,
             .leftParen, .leftBracket, .leftBrace:
            return true
        default:
            return isNegativeNumber
        }
    }

    /// A `-` immediately followed by a number, where an operand is expected.
    var isNegativeNumber: Bool {
        guard isBinary("-"), case .number = next.kind else { return false }
        return next.start == current.end
    }

    private mutating func parsePrimary() throws(CompileError) -> Node {
        switch current.kind {
        case .identifier: return try parseVariable()
        case .leftParen: return try parseParenthesized()
        case .leftBracket: return try parseBlock()
        case .leftBrace: return try parseBrace()
        default: return try parseLiteralNode()
        }
    }

    private mutating func parseVariable() throws(CompileError) -> Node {
        guard case .identifier(let name) = current.kind else { preconditionFailure("not a variable") }
        let node = VariableNode(name, position: current.position)
        try advance()
        return node
    }

    private mutating func parseLiteralNode() throws(CompileError) -> Node {
        let position = current.position
        switch current.kind {
        case .number, .character, .string, .symbol, .literalArrayStart, .byteArrayStart:
            return LiteralNode(try parseLiteral(), position: position)
        default:
            guard isNegativeNumber else { throw error("expected an expression") }
            return LiteralNode(try parseLiteral(), position: position)
        }
    }

    private mutating func parseParenthesized() throws(CompileError) -> Node {
        let openLine = current.line
        try advance()
        let expression = try parseExpression()
        try expectClosing(.rightParen, "')' to close the parenthesis", openedAt: openLine)
        return expression
    }

    private mutating func expectClosing(_ kind: TokenKind, _ what: String, openedAt line: Int) throws(CompileError) {
        guard current.kind == kind else { throw error("expected \(what) opened at line \(line)") }
        try advance()
    }

    private mutating func parseBlock() throws(CompileError) -> BlockNode {
        let open = current.position
        try advance()
        let (arguments, temporaries) = try parseBlockHeader()
        let statements = try parseStatements(closing: .rightBracket)
        let close = current.position
        try expectClosing(.rightBracket, "']' to close the block", openedAt: open.line)
        return try bounded(BlockNode(arguments: arguments, temporaries: temporaries, statements: statements,
                                     position: open, endPosition: close))
    }

    /// `:a :b |` and `| t u |`, both optional.
    private mutating func parseBlockHeader() throws(CompileError) -> ([Declaration], [Declaration]) {
        var arguments: [Declaration] = []
        while case .colon = current.kind {
            if arguments.count == 15 { throw error("too many arguments (at most 15)") }
            try advance()
            arguments.append(try parseDeclaration(after: "':'"))
        }
        if !arguments.isEmpty {
            if isBinary("|") {
                try advance()
            } else if current.kind != .rightBracket {
                throw error("expected '|' after the block arguments")
            }
        }
        let temporaries = isBinary("|") ? try parseTemporaries() : []
        return (arguments, temporaries)
    }

    private mutating func parseBrace() throws(CompileError) -> BraceNode {
        let open = current.position
        try advance()
        var elements: [Node] = []
        while true {
            try skipPeriods()
            if case .rightBrace = current.kind { break }
            guard canStartOperand else { break }
            elements.append(try parseExpression())
            guard isPeriod else { break }
        }
        try expectClosing(.rightBrace, "'}' to close the brace array", openedAt: open.line)
        return try bounded(BraceNode(elements: elements, position: open))
    }

    private func bounded<N: Node>(_ node: N) throws(CompileError) -> N {
        if node.height > Parser.maxHeight { throw CompileError("expression nested too deeply", at: node.position) }
        return node
    }
}
