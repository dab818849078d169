// The selector pattern at the start of a method's source (`x`, `+ other`, `at: index put: value`).

/// The pattern that opens a method's source, split from the body that follows it.
struct MethodPattern {
    let selector: String
    /// The pattern's text, from its first token to its last (leading whitespace dropped).
    let pattern: String
    /// Everything after the pattern, verbatim.
    let body: String

    private static let binaryCharacters = Set("-+*/\\~<>=@%|&?,".utf8)

    /// Reads the pattern at the start of `source`; nil if the source does not start with one.
    init?(_ source: String) {
        var cursor = SourceCursor(text: source, file: "")
        cursor.skipWhitespace()
        let start = cursor.offset
        guard let first = cursor.peek() else { return nil }
        if first.isIdentifierStart {
            var probe = cursor
            guard let word = probe.readIdentifier() else { return nil }
            if probe.isAtKeywordColon {
                guard let keywords = Self.readKeywords(&cursor) else { return nil }
                selector = keywords
            } else {
                cursor = probe
                selector = word
            }
        } else if Self.binaryCharacters.contains(first) {
            while let byte = cursor.peek(), Self.binaryCharacters.contains(byte) { cursor.advance() }
            selector = cursor.text(start ..< cursor.offset)
            cursor.skipWhitespace()
            guard cursor.readIdentifier() != nil else { return nil }
        } else {
            return nil
        }
        pattern = cursor.text(start ..< cursor.offset)
        body = cursor.text(cursor.offset ..< cursor.bytes.count)
    }

    /// Reads `key: arg key: arg ...`, leaving the cursor after the last argument.
    private static func readKeywords(_ cursor: inout SourceCursor) -> String? {
        var selector = ""
        var probe = cursor
        while let keyword = probe.readIdentifier(), probe.isAtKeywordColon {
            probe.advance()
            probe.skipWhitespace()
            guard probe.readIdentifier() != nil else { return nil }
            selector += keyword + ":"
            cursor = probe
            probe.skipWhitespace()
        }
        return selector
    }
}

private extension SourceCursor {
    /// At a `:` that ends a keyword (not the `:=` of an assignment).
    var isAtKeywordColon: Bool {
        peek() == UInt8(ascii: ":") && peek(ahead: 1) != UInt8(ascii: "=")
    }
}
