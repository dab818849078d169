// The subset of STON (Smalltalk Object Notation) that Tonel uses for definitions and metadata.

import Foundation

/// A STON value as Tonel writes them: `#symbol`, `'string'`, `[ list ]`, `{ map }`, nil, booleans, numbers.
indirect enum STONValue {
    case symbol(String)
    case string(String)
    case list([STONValue])
    case map([STONEntry])
    case null
    case boolean(Bool)
    case number(String)

    /// The text of a symbol or string.
    var text: String? {
        switch self {
        case .symbol(let text), .string(let text): text
        default: nil
        }
    }

    /// How the value reads in an error message.
    var summary: String {
        switch self {
        case .symbol(let text): "#\(text)"
        case .string(let text): "'\(text)'"
        case .list: "a list"
        case .map: "a map"
        case .null: "nil"
        case .boolean(let value): "\(value)"
        case .number(let text): text
        }
    }
}

/// One `#key : value` pair of a map, with the line its key is on.
struct STONEntry {
    var key: String
    var value: STONValue
    var line: Int
}

/// Reads STON values from a cursor; `context` names what is being read in error messages.
struct STONReader {
    /// Deeper nesting than this is certainly not Tonel, and must not exhaust the stack.
    static let maximumDepth = 32

    let context: String

    /// Reads `{ #key : value, ... }`; duplicate keys are an error.
    func readMap(_ cursor: inout SourceCursor) throws(SourceFormatError) -> [STONEntry] {
        guard case .map(let entries) = try readValue(&cursor, depth: 0) else {
            throw cursor.error("expected '{' to start the \(context)")
        }
        return entries
    }

    private func readValue(_ cursor: inout SourceCursor, depth: Int) throws(SourceFormatError) -> STONValue {
        guard depth < Self.maximumDepth else { throw cursor.error("\(context) is nested too deeply") }
        cursor.skipWhitespace()
        guard let byte = cursor.peek() else { throw cursor.error("\(context) ends unexpectedly") }
        switch byte {
        case UInt8(ascii: "{"): return .map(try readEntries(&cursor, depth: depth))
        case UInt8(ascii: "["): return .list(try readElements(&cursor, depth: depth))
        case UInt8(ascii: "#"): return .symbol(try readSymbol(&cursor))
        case UInt8(ascii: "'"): return .string(try readQuoted(&cursor))
        case _ where byte == UInt8(ascii: "-") || byte.isDigit: return .number(readNumber(&cursor))
        default:
            let line = cursor.line
            switch cursor.readIdentifier() {
            case "nil": return .null
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            case let word?: throw cursor.error("unexpected '\(word)' in \(context)", line: line)
            case nil: throw cursor.error("unexpected '\(Character(Unicode.Scalar(byte)))' in \(context)", line: line)
            }
        }
    }

    private func readEntries(_ cursor: inout SourceCursor, depth: Int) throws(SourceFormatError) -> [STONEntry] {
        let openLine = cursor.line
        cursor.advance()
        var entries: [STONEntry] = []
        cursor.skipWhitespace()
        if cursor.skip("}") { return entries }
        while true {
            cursor.skipWhitespace()
            let line = cursor.line
            guard let key = try readValue(&cursor, depth: depth + 1).text else {
                throw cursor.error("\(context): a key must be a symbol such as #name", line: line)
            }
            if entries.contains(where: { $0.key == key }) {
                throw cursor.error("\(context): duplicate key #\(key)", line: line)
            }
            cursor.skipWhitespace()
            guard cursor.skip(":") else { throw cursor.error("\(context): expected ':' after #\(key)") }
            let value = try readValue(&cursor, depth: depth + 1)
            entries.append(STONEntry(key: key, value: value, line: line))
            cursor.skipWhitespace()
            if cursor.skip("}") { return entries }
            guard cursor.skip(",") else {
                throw cursor.error(cursor.isAtEnd
                    ? "\(context) starting at line \(openLine) is not closed by '}'"
                    : "\(context): expected ',' or '}' after the value of #\(key)")
            }
        }
    }

    private func readElements(_ cursor: inout SourceCursor, depth: Int) throws(SourceFormatError) -> [STONValue] {
        let openLine = cursor.line
        cursor.advance()
        var elements: [STONValue] = []
        cursor.skipWhitespace()
        if cursor.skip("]") { return elements }
        while true {
            elements.append(try readValue(&cursor, depth: depth + 1))
            cursor.skipWhitespace()
            if cursor.skip("]") { return elements }
            guard cursor.skip(",") else {
                throw cursor.error(cursor.isAtEnd
                    ? "list in \(context) starting at line \(openLine) is not closed by ']'"
                    : "\(context): expected ',' or ']' in a list")
            }
        }
    }

    /// `#name`, `#at:put:`, `#Kernel.Objects` or `#'any text'`.
    private func readSymbol(_ cursor: inout SourceCursor) throws(SourceFormatError) -> String {
        cursor.advance()
        if cursor.peek() == UInt8(ascii: "'") { return try readQuoted(&cursor) }
        let start = cursor.offset
        while let byte = cursor.peek(), byte.isIdentifierPart || Self.plainSymbolPunctuation.contains(byte) {
            cursor.advance()
        }
        guard cursor.offset > start else { throw cursor.error("\(context): '#' must be followed by a symbol") }
        return cursor.text(start ..< cursor.offset)
    }

    private static let plainSymbolPunctuation = Set(":./".utf8)

    /// `'...'` with STON's backslash escapes; a doubled quote (Smalltalk style) also reads as one quote.
    private func readQuoted(_ cursor: inout SourceCursor) throws(SourceFormatError) -> String {
        let line = cursor.line
        cursor.advance()
        var bytes: [UInt8] = []
        while let byte = cursor.peek() {
            cursor.advance()
            switch byte {
            case UInt8(ascii: "'"):
                guard cursor.peek() == UInt8(ascii: "'") else { return String(decoding: bytes, as: UTF8.self) }
                cursor.advance()
                bytes.append(byte)
            case UInt8(ascii: "\\"):
                guard let escaped = cursor.peek() else { break }
                cursor.advance()
                bytes += try unescape(escaped, &cursor)
            default:
                bytes.append(byte)
            }
        }
        throw cursor.error("\(context): string starting at line \(line) is not closed by a quote", line: line)
    }

    private func unescape(_ escaped: UInt8, _ cursor: inout SourceCursor) throws(SourceFormatError) -> [UInt8] {
        switch escaped {
        case UInt8(ascii: "n"): return [.lf]
        case UInt8(ascii: "t"): return [9]
        case UInt8(ascii: "r"): return [.cr]
        case UInt8(ascii: "b"): return [8]
        case UInt8(ascii: "f"): return [12]
        case UInt8(ascii: "u"):
            var hex = ""
            for _ in 0 ..< 4 {
                guard let digit = cursor.peek() else { break }
                hex.append(Character(Unicode.Scalar(digit)))
                cursor.advance()
            }
            guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                throw cursor.error("\(context): bad escape \\u\(hex)")
            }
            return Array(String(Character(scalar)).utf8)
        default: return [escaped]
        }
    }

    private func readNumber(_ cursor: inout SourceCursor) -> String {
        let start = cursor.offset
        cursor.advance()
        while let byte = cursor.peek(), byte.isDigit || Set(".eE+-".utf8).contains(byte) { cursor.advance() }
        return cursor.text(start ..< cursor.offset)
    }
}

/// Writes symbols and strings the way Pharo's Tonel writer does.
enum STONWriter {
    /// `#accessing` when the text is a plain word, else `#'instance creation'`.
    static func symbol(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let isPlain = bytes.first.map { $0.isIdentifierStart && $0 < 0x80 } ?? false
            && bytes.allSatisfy { ($0.isIdentifierPart && $0 < 0x80) }
        return isPlain ? "#" + text : "#" + string(text)
    }

    /// `'text'` with STON escapes for quote and backslash.
    static func string(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
