import VMCore

/// The value of a number literal, without its sign (the parser applies a leading `-`).
enum NumberValue: Equatable {
    case integer(Natural)
    case float(Double)
    /// The exact value numerator / denominator, the denominator a power of 10.
    case scaledDecimal(numerator: Natural, denominator: Natural, scale: Int)

    func literal(negative: Bool) -> Literal {
        switch self {
        case .integer(let magnitude):
            return magnitude.integerLiteral(negative: negative)
        case .float(let magnitude):
            return .float(negative ? -magnitude : magnitude)
        case .scaledDecimal(let numerator, let denominator, let scale):
            let sign = negative && !numerator.isZero ? "-" : ""
            return .scaledDecimal(numerator: sign + numerator.decimalString,
                                  denominator: denominator.decimalString, scale: scale)
        }
    }
}

enum TokenKind: Equatable {
    case identifier(String)
    case keyword(String)            // "at:" — one keyword part, colon included
    case binary(String)
    case number(NumberValue)
    case character(UInt32)
    case string(String)
    case symbol(String)
    case literalArrayStart          // #(
    case byteArrayStart             // #[
    case assignment                 // :=
    case caret, period, semicolon, colon
    case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace
    case end
    /// A lexical error; the parser reports it when it reaches this token.
    case error(CompileError)
}

struct Token {
    var kind: TokenKind
    var position: SourcePosition
    /// Code-point offsets of the first character and just past the last one.
    var start: Int
    var end: Int

    var line: Int { position.line }

    /// How the token reads in an error message.
    var quoted: String {
        switch kind {
        case .identifier(let s), .keyword(let s), .binary(let s): return "'\(s)'"
        case .number: return "a number"
        case .character: return "a character literal"
        case .string: return "a string"
        case .symbol: return "a symbol"
        case .literalArrayStart: return "'#('"
        case .byteArrayStart: return "'#['"
        case .assignment: return "':='"
        case .caret: return "'^'"
        case .period: return "'.'"
        case .semicolon: return "';'"
        case .colon: return "':'"
        case .leftParen: return "'('"
        case .rightParen: return "')'"
        case .leftBracket: return "'['"
        case .rightBracket: return "']'"
        case .leftBrace: return "'{'"
        case .rightBrace: return "'}'"
        case .end: return "the end of the source"
        case .error: return "an invalid token"
        }
    }
}
