import VMCore

/// What the pragmas of a method declare.
struct Pragmas {
    var primitive = 0
    /// `<primitive: N error: ec>` declares the temporary `ec`.
    var errorTemporary: Declaration?
    var others: [PragmaDescription] = []
}

extension Parser {
    /// A literal token, a negative number, `#( ... )` or `#[ ... ]`.
    mutating func parseLiteral() throws(CompileError) -> Literal {
        let token = current
        let negative = isNegativeNumber
        if negative { try advance() }
        switch current.kind {
        case .number(let value):
            try advance()
            return value.literal(negative: negative)
        case .character(let value):
            try advance()
            return .character(value)
        case .string(let value):
            try advance()
            return .string(value)
        case .symbol(let value):
            try advance()
            return .symbol(value)
        case .literalArrayStart:
            return try parseLiteralArray()
        case .byteArrayStart:
            return try parseByteArray()
        default:
            throw error("expected a literal", at: token)
        }
    }

    /// Elements after `#(` or a nested `(`: bare identifiers and keywords are symbols, except
    /// true, false and nil; adjacent keywords form one symbol (`foo:bar:`).
    private mutating func parseLiteralArray() throws(CompileError) -> Literal {
        let open = current
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Parser.maxNesting { throw error("literal array nested too deeply") }
        try advance()
        var elements: [Literal] = []
        while true {
            switch current.kind {
            case .rightParen:
                try advance()
                return .array(elements)
            case .end:
                throw error("expected ')' to close the literal array opened at line \(open.line)")
            case .leftParen, .literalArrayStart:
                elements.append(try parseLiteralArray())
            case .identifier(let name):
                try advance()
                elements.append(["true": .true, "false": .false, "nil": .nil][name] ?? .symbol(name))
            case .keyword(var symbol):
                var end = current.end
                try advance()
                while case .keyword(let part) = current.kind, current.start == end {
                    symbol += part
                    end = current.end
                    try advance()
                }
                elements.append(.symbol(symbol))
            case .binary(let selector) where !isNegativeNumber:
                try advance()
                elements.append(.symbol(selector))
            case .number, .character, .string, .symbol, .byteArrayStart, .binary:
                elements.append(try parseLiteral())
            default:
                throw error("unexpected \(current.quoted) in a literal array")
            }
        }
    }

    private mutating func parseByteArray() throws(CompileError) -> Literal {
        let open = current
        try advance()
        var bytes: [UInt8] = []
        while true {
            switch current.kind {
            case .rightBracket:
                try advance()
                return .byteArray(bytes)
            case .end:
                throw error("expected ']' to close the byte array opened at line \(open.line)")
            case .number(.integer(let value)) where (value.uint64Value ?? 256) <= 255:
                bytes.append(UInt8(truncatingIfNeeded: value.uint64Value ?? 0))
                try advance()
            default:
                throw error("byte array elements must be integers between 0 and 255")
            }
        }
    }

    /// `<primitive: 60>`, `<primitive: 60 error: ec>`, `<selector>` or `<key: literal ...>`.
    mutating func parsePragma(into pragmas: inout Pragmas) throws(CompileError) {
        let open = current
        try advance()
        var selector = ""
        var arguments: [(Literal, Token)] = []
        var errorTemporary: Declaration?
        switch current.kind {
        case .identifier(let name):
            selector = name
            try advance()
        case .keyword:
            while case .keyword(let part) = current.kind {
                selector += part
                try advance()
                if selector == "primitive:error:", case .identifier(let name) = current.kind {
                    errorTemporary = Declaration(name: name, position: current.position)
                    try advance()
                    continue
                }
                let token = current
                arguments.append((try parsePragmaArgument(after: part), token))
            }
        default:
            throw error("expected a pragma selector after '<'")
        }
        guard isBinary(">") else { throw error("expected '>' to close the pragma opened at line \(open.line)") }
        try advance()
        guard selector == "primitive:" || (selector == "primitive:error:" && errorTemporary != nil) else {
            pragmas.others.append(PragmaDescription(selector: selector, arguments: arguments.map(\.0)))
            return
        }
        guard pragmas.primitive == 0 else { throw error("a method can have only one primitive", at: open) }
        guard case .integer(let number) = arguments[0].0, (1...255).contains(number) else {
            throw error("the primitive number must be an integer between 1 and 255 (higher numbers mark quick methods)",
                        at: arguments[0].1)
        }
        pragmas.primitive = number
        pragmas.errorTemporary = errorTemporary
    }

    private mutating func parsePragmaArgument(after keyword: String) throws(CompileError) -> Literal {
        if case .identifier(let name) = current.kind, let value = ["true": Literal.true, "false": .false, "nil": .nil][name] {
            try advance()
            return value
        }
        switch current.kind {
        case .number, .character, .string, .symbol, .literalArrayStart, .byteArrayStart:
            return try parseLiteral()
        default:
            guard isNegativeNumber else { throw error("expected a literal after '\(keyword)' in the pragma") }
            return try parseLiteral()
        }
    }
}
