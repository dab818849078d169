/// Turns source text into tokens. Comments and white space are skipped; a lexical error becomes
/// a final `.error` token so that earlier syntax errors are still reported first.
struct Lexer {
    let chars: [Unicode.Scalar]
    var index = 0
    var line = 1
    var column = 1

    init(_ source: String) {
        var source = source
        // ASCII source (nearly all) from its UTF-8 bytes: the scalar view is decoded one at a time.
        chars = source.withUTF8 { utf8 in
            utf8.allSatisfy { $0 < 0x80 } ? utf8.map { Unicode.Scalar($0) } : nil
        } ?? Array(source.unicodeScalars)
    }

    static func tokenize(_ source: String) -> [Token] {
        var lexer = Lexer(source)
        var tokens: [Token] = []
        while true {
            let token = lexer.nextToken()
            tokens.append(token)
            switch token.kind {
            case .end, .error: return tokens
            default: continue
            }
        }
    }

    var position: SourcePosition { SourcePosition(line: line, column: column) }

    func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        index + ahead < chars.count ? chars[index + ahead] : nil
    }

    mutating func advance() {
        let c = chars[index]
        index += 1
        if c == "\n" || (c == "\r" && peek() != "\n") {
            line += 1; column = 1
        } else {
            column += 1
        }
    }

    mutating func nextToken() -> Token {
        do throws(CompileError) {
            try skipWhitespaceAndComments()
            let start = index, startPosition = position
            guard let c = peek() else { return Token(kind: .end, position: startPosition, start: start, end: start) }
            let kind = try scanToken(startingWith: c)
            return Token(kind: kind, position: startPosition, start: start, end: index)
        } catch {
            return Token(kind: .error(error), position: SourcePosition(line: error.line, column: error.column),
                         start: index, end: index)
        }
    }

    private mutating func skipWhitespaceAndComments() throws(CompileError) {
        while let c = peek() {
            if Lexer.isWhitespace(c) {
                advance()
            } else if c == "\"" {
                let start = position
                advance()
                while let d = peek(), d != "\"" { advance() }
                if peek() == nil { throw CompileError("unterminated comment", at: start) }
                advance()
            } else {
                return
            }
        }
    }

    private mutating func scanToken(startingWith c: Unicode.Scalar) throws(CompileError) -> TokenKind {
        if Lexer.isLetter(c) || c == "_" { return scanIdentifierOrKeyword() }
        if Lexer.isDigit(c) { return .number(try scanNumber()) }
        if Lexer.isBinaryCharacter(c) { return .binary(scanBinarySelector()) }
        let start = position
        switch c {
        case "'": return .string(try scanString())
        case "$":
            advance()
            guard let value = peek() else { throw CompileError("expected a character after '$'", at: start) }
            advance()
            return .character(value.value)
        case "#": return try scanHashLiteral()
        case ":":
            advance()
            if peek() == "=" { advance(); return .assignment }
            return .colon
        default: break
        }
        let simple: [Unicode.Scalar: TokenKind] = [
            "^": .caret, ".": .period, ";": .semicolon, "(": .leftParen, ")": .rightParen,
            "[": .leftBracket, "]": .rightBracket, "{": .leftBrace, "}": .rightBrace,
        ]
        guard let kind = simple[c] else { throw CompileError("unknown character \(Lexer.describe(c))", at: start) }
        advance()
        return kind
    }

    private mutating func scanIdentifierOrKeyword() -> TokenKind {
        let name = scanIdentifierCharacters()
        if peek() == ":" && peek(1) != "=" {
            advance()
            return .keyword(name + ":")
        }
        return .identifier(name)
    }

    private mutating func scanIdentifierCharacters() -> String {
        let start = index
        while let c = peek(), Lexer.isLetter(c) || Lexer.isDigit(c) || c == "_" { advance() }
        return text(start..<index)
    }

    /// The source text in `range`; ASCII (nearly every name) without building it scalar by scalar.
    func text(_ range: Range<Int>) -> String {
        let scalars = chars[range]
        guard scalars.allSatisfy(\.isASCII) else {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            return String(view)
        }
        return String(unsafeUninitializedCapacity: scalars.count) { buffer in
            for (i, c) in scalars.enumerated() { buffer[i] = UInt8(truncatingIfNeeded: c.value) }
            return scalars.count
        }
    }

    /// `|` is always a selector of its own (so `||` reads as two bars); a `-` that starts a
    /// number ends the selector before it (`x+-1`).
    private mutating func scanBinarySelector() -> String {
        var selector = String.UnicodeScalarView([chars[index]])
        let first = chars[index]
        advance()
        guard first != "|" else { return "|" }
        while let c = peek(), Lexer.isBinaryCharacter(c), c != "|" {
            if c == "-", let next = peek(1), Lexer.isDigit(next) { break }
            selector.append(c); advance()
        }
        return String(selector)
    }

    private mutating func scanString() throws(CompileError) -> String {
        let start = position
        advance()
        var text = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw CompileError("unterminated string", at: start) }
            advance()
            if c == "'" {
                guard peek() == "'" else { return String(text) }
                advance()
            }
            text.append(c)
        }
    }

    private mutating func scanHashLiteral() throws(CompileError) -> TokenKind {
        let start = position
        advance()
        guard let c = peek() else { throw CompileError("expected a symbol, '(' or '[' after '#'", at: start) }
        if Lexer.isLetter(c) || c == "_" {
            var name = ""
            while let d = peek(), Lexer.isLetter(d) || d == "_" || d == ":" {
                if d == ":" { name += ":"; advance() } else { name += scanIdentifierCharacters() }
            }
            return .symbol(name)
        }
        if c == "'" { return .symbol(try scanString()) }
        if c == "(" { advance(); return .literalArrayStart }
        if c == "[" { advance(); return .byteArrayStart }
        if Lexer.isBinaryCharacter(c) {
            var selector = String.UnicodeScalarView()
            while let d = peek(), Lexer.isBinaryCharacter(d) { selector.append(d); advance() }
            return .symbol(String(selector))
        }
        throw CompileError("expected a symbol, '(' or '[' after '#'", at: start)
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII ? (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") : c.properties.isAlphabetic
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    /// Unicode's White_Space; ASCII (nearly all source) without a property lookup.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c.isASCII ? c == " " || (c.value >= 9 && c.value <= 13) : c.properties.isWhitespace
    }

    static func isBinaryCharacter(_ c: Unicode.Scalar) -> Bool { "+-*/\\<>=~@%|&?,".unicodeScalars.contains(c) }

    private static func describe(_ c: Unicode.Scalar) -> String {
        if c.value < 32 || c.value == 127 || c.properties.generalCategory == .format {
            let hex = String(c.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
        return "'\(c)'"
    }
}
