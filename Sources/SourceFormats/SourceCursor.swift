// A read position over source text (UTF-8 bytes) that knows its line; the scanner the readers share.

import Foundation

struct SourceCursor {
    let bytes: [UInt8]
    let file: String
    private(set) var offset = 0
    private(set) var line = 1

    /// Line endings become LF (CRLF and lone CR both count as one line break); a BOM is dropped.
    init(text: String, file: String) {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for byte in text.utf8 {
            if byte == .cr {
                normalized.append(.lf)
            } else if !(byte == .lf && previousWasCR) {
                normalized.append(byte)
            }
            previousWasCR = byte == .cr
        }
        if normalized.starts(with: [0xEF, 0xBB, 0xBF]) { normalized.removeFirst(3) }
        self.bytes = normalized
        self.file = file
    }

    var isAtEnd: Bool { offset >= bytes.count }

    /// The byte at the read position (or `ahead` bytes after it); nil past the end.
    func peek(ahead: Int = 0) -> UInt8? {
        offset + ahead < bytes.count ? bytes[offset + ahead] : nil
    }

    mutating func advance() {
        guard offset < bytes.count else { return }
        if bytes[offset] == .lf { line += 1 }
        offset += 1
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte.isWhitespace { advance() }
    }

    /// Consumes `word` if the text at the read position starts with it.
    mutating func skip(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard offset + expected.count <= bytes.count,
              bytes[offset ..< offset + expected.count].elementsEqual(expected) else { return false }
        for _ in expected { advance() }
        return true
    }

    /// Consumes an identifier (letters, digits, `_`, not starting with a digit).
    mutating func readIdentifier() -> String? {
        guard let first = peek(), first.isIdentifierStart else { return nil }
        let start = offset
        while let byte = peek(), byte.isIdentifierPart { advance() }
        return text(start ..< offset)
    }

    /// At a `'` or `"`: consumes the quoted run up to its closing quote. False if the text ends first.
    /// (A doubled quote reads as two adjacent runs, which is all a scanner needs.)
    mutating func skipQuoted() -> Bool {
        guard let quote = peek() else { return false }
        advance()
        while let byte = peek() {
            advance()
            if byte == quote { return true }
        }
        return false
    }

    /// The 1-based column, in Unicode code points, of the byte at `offset` on its line.
    func column(at offset: Int) -> Int {
        var lineStart = offset
        while lineStart > 0, bytes[lineStart - 1] != .lf { lineStart -= 1 }
        return text(lineStart ..< offset).unicodeScalars.count + 1
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    var location: SourceLocation { SourceLocation(file: file, line: line) }

    func error(_ message: String, line: Int? = nil) -> SourceFormatError {
        SourceFormatError(location: SourceLocation(file: file, line: line ?? self.line), message: message)
    }
}

extension UInt8 {
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")

    var isWhitespace: Bool {
        self == 32 || self == 9 || self == 10 || self == 12 || self == 13
    }

    /// ASCII letters and `_`; bytes of non-ASCII characters count as letters.
    var isIdentifierStart: Bool {
        (self >= 65 && self <= 90) || (self >= 97 && self <= 122) || self == 95 || self >= 0x80
    }

    var isIdentifierPart: Bool { isIdentifierStart || isDigit }

    var isDigit: Bool { self >= 48 && self <= 57 }
}

extension String {
    /// The string without whitespace (and line breaks) at its end.
    var trimmingTrailingWhitespace: String {
        var bytes = Array(utf8)
        while let last = bytes.last, last.isWhitespace { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The string without whitespace (and line breaks) at either end.
    var trimmingWhitespace: String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !$0.isWhitespace }),
              let last = bytes.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(decoding: bytes[first ... last], as: UTF8.self)
    }

    /// The string as a Smalltalk string literal: in single quotes, quotes doubled.
    var smalltalkStringLiteral: String {
        "'" + replacingOccurrences(of: "'", with: "''") + "'"
    }
}
