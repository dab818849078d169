// Reads the classic chunk format (file-in/file-out): `!`-terminated chunks, `!!` for a literal `!`.

/// One thing a chunk file says.
public enum ChunkItem: Equatable, Sendable {
    /// A chunk to evaluate (class definitions, `Foo comment: '...'`, scripts), trimmed.
    case doIt(String, SourceLocation)
    /// A `!Foo methodsFor: 'category'!` section and the methods in it.
    case methods(className: String, isClassSide: Bool, category: String, [MethodDefinition])
    /// A `!Foo commentStamp: '...' prior: 0!` section (Squeak and Pharo file-outs): the comment chunk.
    case classComment(className: String, comment: String, SourceLocation)
}

/// Reads chunk-format text into do-its, method sections and class comments.
public enum ChunkReader {
    /// Reads chunk-format text; `file` is used in locations. The last do-it may lack its `!`;
    /// a method may not (a truncated file).
    public static func parse(contents: String, file: String) throws(SourceFormatError) -> [ChunkItem] {
        var cursor = SourceCursor(text: contents, file: file)
        var items: [ChunkItem] = []
        while true {
            cursor.skipWhitespace()
            if cursor.isAtEnd { return items }
            if cursor.peek() == UInt8(ascii: "!") {
                cursor.advance()
                let header = readChunk(&cursor)
                if !header.text.isEmpty { items.append(try readSection(header, &cursor)) }
            } else {
                let chunk = readChunk(&cursor)
                if !chunk.text.isEmpty { items.append(.doIt(chunk.text, chunk.location)) }
            }
        }
    }

    /// True if the text has a `!` outside strings, comments and character literals: a file
    /// without one is a plain statement script, not chunk format.
    public static func looksLikeChunkFormat(_ text: String) -> Bool {
        var cursor = SourceCursor(text: text, file: "")
        while let byte = cursor.peek() {
            switch byte {
            case UInt8(ascii: "!"): return true
            case UInt8(ascii: "'"), UInt8(ascii: "\""): guard cursor.skipQuoted() else { return false }
            case UInt8(ascii: "$"): cursor.advance(); cursor.advance()
            default: cursor.advance()
            }
        }
        return false
    }

    fileprivate struct Chunk {
        var text: String
        var location: SourceLocation
        var isTerminated: Bool
    }

    /// The text up to the next lone `!` (consumed), with `!!` read as `!`, trimmed;
    /// its location is where its first non-blank character is.
    private static func readChunk(_ cursor: inout SourceCursor) -> Chunk {
        cursor.skipWhitespace()
        let location = cursor.location
        var bytes: [UInt8] = []
        while let byte = cursor.peek() {
            cursor.advance()
            if byte == UInt8(ascii: "!") {
                guard cursor.peek() == byte else {
                    return Chunk(text: String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace,
                                 location: location, isTerminated: true)
                }
                cursor.advance()
            }
            bytes.append(byte)
        }
        return Chunk(text: String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace,
                     location: location, isTerminated: false)
    }

    /// After a `!header!` chunk: a method section (up to an empty chunk) or a class comment.
    private static func readSection(_ header: Chunk, _ cursor: inout SourceCursor) throws(SourceFormatError) -> ChunkItem {
        let parsed = try SectionHeader(header)
        switch parsed.kind {
        case .methods(let category):
            var methods: [MethodDefinition] = []
            while true {
                let chunk = readChunk(&cursor)
                if chunk.text.isEmpty { break }
                guard chunk.isTerminated else {
                    throw SourceFormatError(location: chunk.location, message: "this method is not terminated by '!'")
                }
                methods.append(MethodDefinition(className: parsed.className, isClassSide: parsed.isClassSide,
                                                category: category, source: chunk.text, location: chunk.location))
            }
            return .methods(className: parsed.className, isClassSide: parsed.isClassSide, category: category, methods)
        case .comment:
            let chunk = readChunk(&cursor)
            guard chunk.isTerminated else {
                throw SourceFormatError(location: header.location,
                                        message: "the comment of \(parsed.className) is missing or not terminated by '!'")
            }
            return .classComment(className: parsed.className, comment: chunk.text, chunk.location)
        }
    }
}

/// `Foo [class] methodsFor: 'category' [stamp: '...']` or `Foo commentStamp: '...' [prior: 0]`.
private struct SectionHeader {
    enum Kind {
        case methods(category: String)
        case comment
    }

    let className: String
    let isClassSide: Bool
    let kind: Kind

    init(_ chunk: ChunkReader.Chunk) throws(SourceFormatError) {
        let invalid = SourceFormatError(
            location: chunk.location,
            message: "unsupported section '!\(chunk.text)!' (expected '!Foo methodsFor: 'category'!' or '!Foo commentStamp: '...' prior: 0!')")
        guard var tokens = Self.tokens(chunk.text), case .word(let className)? = tokens.first else { throw invalid }
        tokens.removeFirst()
        isClassSide = tokens.first == .word("class")
        if isClassSide { tokens.removeFirst() }
        self.className = className
        guard tokens.count % 2 == 0, case .string(let firstArgument)? = tokens.dropFirst().first else { throw invalid }
        var selector = ""
        for index in stride(from: 0, to: tokens.count, by: 2) {
            guard case .keyword(let keyword) = tokens[index] else { throw invalid }
            selector += keyword
        }
        switch selector {
        case "methodsFor:", "methodsFor:stamp:": kind = .methods(category: firstArgument)
        case "commentStamp:", "commentStamp:prior:":
            guard !isClassSide else { throw invalid }
            kind = .comment
        default: throw invalid
        }
    }

    private enum Token: Equatable {
        case word(String), keyword(String), string(String), number
    }

    /// Words, keywords, string literals and integers; nil for anything else.
    private static func tokens(_ text: String) -> [Token]? {
        var cursor = SourceCursor(text: text, file: "")
        var tokens: [Token] = []
        while true {
            cursor.skipWhitespace()
            guard let byte = cursor.peek() else { return tokens }
            if let word = cursor.readIdentifier() {
                tokens.append(cursor.peek() == UInt8(ascii: ":") ? .keyword(word + ":") : .word(word))
                if cursor.peek() == UInt8(ascii: ":") { cursor.advance() }
            } else if byte == UInt8(ascii: "'") {
                guard let string = readString(&cursor) else { return nil }
                tokens.append(.string(string))
            } else if byte.isDigit {
                while let digit = cursor.peek(), digit.isDigit { cursor.advance() }
                tokens.append(.number)
            } else {
                return nil
            }
        }
    }

    private static func readString(_ cursor: inout SourceCursor) -> String? {
        cursor.advance()
        var bytes: [UInt8] = []
        while let byte = cursor.peek() {
            cursor.advance()
            if byte == UInt8(ascii: "'") {
                guard cursor.peek() == byte else { return String(decoding: bytes, as: UTF8.self) }
                cursor.advance()
            }
            bytes.append(byte)
        }
        return nil
    }
}
