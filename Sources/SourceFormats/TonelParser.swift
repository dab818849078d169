// Parses one Tonel file: optional comment, a Class/Extension/Package definition, then methods.

/// What one Tonel file declares.
public enum TonelDocument: Equatable, Sendable {
    /// A `*.class.st` file: the class and its methods.
    case classDefinition(ClassDefinition, methods: [MethodDefinition])
    /// A `*.extension.st` file: methods added to a class defined elsewhere.
    case classExtension(className: String, methods: [MethodDefinition])
    /// A `package.st` file.
    case package(name: String)
}

struct TonelParser {
    private var cursor: SourceCursor

    init(contents: String, file: String) {
        cursor = SourceCursor(text: contents, file: file)
    }

    mutating func parseDocument() throws(SourceFormatError) -> TonelDocument {
        cursor.skipWhitespace()
        let comment = cursor.peek() == UInt8(ascii: "\"") ? try readComment() : ""
        cursor.skipWhitespace()
        let line = cursor.line
        let kind = cursor.readIdentifier()
        switch kind {
        case "Class", "Extension", "Package": break
        case "Trait": throw cursor.error("traits are not supported (this file defines a Trait)", line: line)
        default: throw cursor.error("expected 'Class {', 'Extension {' or 'Package {' at the start of a Tonel file", line: line)
        }
        cursor.skipWhitespace()
        let entries = try STONReader(context: "\(kind ?? "") definition").readMap(&cursor)
        let definition = TonelDefinition(entries: entries, location: SourceLocation(file: cursor.file, line: line))
        switch kind {
        case "Class":
            var theClass = try definition.classDefinition()
            theClass.comment = comment
            return .classDefinition(theClass, methods: try parseMethods(of: theClass.name))
        case "Extension":
            let name = try definition.name()
            return .classExtension(className: name, methods: try parseMethods(of: name))
        default:
            let name = try definition.name()
            cursor.skipWhitespace()
            guard cursor.isAtEnd else { throw cursor.error("unexpected text after the Package definition") }
            return .package(name: name)
        }
    }

    /// `"..."` with `""` for a quote; Pharo puts the text on its own lines, so one line break
    /// after the opening quote and one before the closing quote are not part of the comment.
    private mutating func readComment() throws(SourceFormatError) -> String {
        let line = cursor.line
        cursor.advance()
        var bytes: [UInt8] = []
        while let byte = cursor.peek() {
            cursor.advance()
            if byte == UInt8(ascii: "\"") {
                guard cursor.peek() == byte else {
                    if bytes.first == .lf { bytes.removeFirst() }
                    if bytes.last == .lf { bytes.removeLast() }
                    return String(decoding: bytes, as: UTF8.self)
                }
                cursor.advance()
            }
            bytes.append(byte)
        }
        throw cursor.error("the class comment starting here is not closed by '\"'", line: line)
    }

    private mutating func parseMethods(of className: String) throws(SourceFormatError) -> [MethodDefinition] {
        var methods: [MethodDefinition] = []
        while true {
            cursor.skipWhitespace()
            if cursor.isAtEnd { return methods }
            let category = cursor.peek() == UInt8(ascii: "{") ? try readCategory() : ""
            cursor.skipWhitespace()
            let method = try readMethod(category: category)
            guard method.className == className else {
                throw cursor.error("method '\(method.className) >> \(method.selector ?? "")' does not belong to \(className), the class of this file", line: method.location.line)
            }
            methods.append(method)
        }
    }

    /// The method's metadata map; only `#category` is used.
    private mutating func readCategory() throws(SourceFormatError) -> String {
        let entries = try STONReader(context: "method metadata").readMap(&cursor)
        guard let entry = entries.first(where: { $0.key == "category" }) else { return "" }
        guard let category = entry.value.text else {
            throw cursor.error("method metadata: #category must be a symbol or a string, not \(entry.value.summary)", line: entry.line)
        }
        return category
    }

    /// `ClassName [class] >> pattern [ body ]`.
    private mutating func readMethod(category: String) throws(SourceFormatError) -> MethodDefinition {
        let line = cursor.line
        let expected = "expected a method such as 'ClassName >> selector [' or 'ClassName class >> selector ['"
        guard let className = cursor.readIdentifier() else { throw cursor.error(expected) }
        cursor.skipWhitespace()
        var probe = cursor
        let isClassSide = probe.readIdentifier() == "class"
        if isClassSide {
            cursor = probe
            cursor.skipWhitespace()
        }
        guard cursor.skip(">>") else { throw cursor.error(expected) }
        cursor.skipWhitespace()
        let patternLine = cursor.line
        let patternStart = cursor.offset
        while let byte = cursor.peek(), byte != UInt8(ascii: "[") { cursor.advance() }
        guard !cursor.isAtEnd else {
            throw cursor.error("method '\(className) >> ...' has no '[' opening its body", line: line)
        }
        let pattern = cursor.text(patternStart ..< cursor.offset).trimmingTrailingWhitespace
        guard let parsed = MethodPattern(pattern), parsed.body.isEmpty else {
            let shown = pattern.split(separator: "\n").first.map(String.init) ?? ""
            throw cursor.error("'\(shown)' is not a method pattern (like 'x', '+ other' or 'at: index put: value')", line: patternLine)
        }
        cursor.advance()
        let columns = FirstLineColumns(patternColumn: cursor.column(at: patternStart),
                                       bodyStart: pattern.unicodeScalars.count,
                                       bodyColumn: cursor.column(at: cursor.offset))
        let body = try readBody(method: "\(className) >> \(parsed.selector)", line: line)
        return MethodDefinition(
            className: className, isClassSide: isClassSide, category: category,
            source: (pattern + body).trimmingTrailingWhitespace,
            location: SourceLocation(file: cursor.file, line: patternLine, firstLine: columns))
    }

    /// The text up to the `]` matching the method's `[`, skipping brackets inside strings,
    /// comments and character literals (`$]`, `$'`, `$"`).
    private mutating func readBody(method: String, line: Int) throws(SourceFormatError) -> String {
        let start = cursor.offset
        var depth = 1
        while let byte = cursor.peek() {
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                let quoteLine = cursor.line
                guard cursor.skipQuoted() else {
                    let what = byte == UInt8(ascii: "'") ? "string" : "comment"
                    throw cursor.error("unterminated \(what) in method '\(method)' (line \(line))", line: quoteLine)
                }
            case UInt8(ascii: "$"):
                cursor.advance()
                cursor.advance()
            case UInt8(ascii: "["):
                depth += 1
                cursor.advance()
            case UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    let body = cursor.text(start ..< cursor.offset)
                    cursor.advance()
                    return body
                }
                cursor.advance()
            default:
                cursor.advance()
            }
        }
        throw cursor.error("method '\(method)' has no closing ']'", line: line)
    }
}

/// The STON map after `Class`, `Extension` or `Package`, read into model values.
private struct TonelDefinition {
    let entries: [STONEntry]
    let location: SourceLocation

    func name() throws(SourceFormatError) -> String {
        guard let name = try text("name") else { throw error("the definition has no #name") }
        return name
    }

    func classDefinition() throws(SourceFormatError) -> ClassDefinition {
        for key in ["traits", "classTraits"] where !isEmpty(key) {
            throw error("traits are not supported (#\(key))", key: key)
        }
        for key in ["slots", "classSlots"] where !isEmpty(key) {
            throw error("slots are not supported (#\(key)); use #instVars", key: key)
        }
        let name = try name()
        guard let superclass = entries.first(where: { $0.key == "superclass" })?.value else {
            throw error("class \(name) has no #superclass (a root class says #superclass : #nil)")
        }
        let superclassName: String?
        switch superclass {
        case .null, .symbol("nil"): superclassName = nil
        default:
            guard let text = superclass.text else { throw error("#superclass must be a symbol", key: "superclass") }
            superclassName = text
        }
        return ClassDefinition(
            name: name, superclassName: superclassName,
            instanceVariables: try names("instVars"), classVariables: try names("classVars"),
            classInstanceVariables: try names("classInstVars"), poolDictionaries: try names("pools"),
            package: try package(), type: try type(), location: location)
    }

    /// `#category`, else `#package` with `#tag` (Pharo 12 writes both forms).
    private func package() throws(SourceFormatError) -> String {
        if let category = try text("category") { return category }
        guard let package = try text("package") else { return "" }
        guard let tag = try text("tag"), !tag.isEmpty else { return package }
        return package + "-" + tag
    }

    private func type() throws(SourceFormatError) -> ClassType {
        guard let name = try text("type") else { return .normal }
        guard let type = ClassType(rawValue: name) else {
            let known = ClassType.allCases.map { "#" + $0.rawValue }.joined(separator: ", ")
            throw error("unsupported class type #\(name) (expected one of \(known))", key: "type")
        }
        return type
    }

    private func text(_ key: String) throws(SourceFormatError) -> String? {
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        guard let text = value.text else { throw error("#\(key) must be a symbol or a string, not \(value.summary)", key: key) }
        return text
    }

    /// A list of names (`[ 'a', 'b' ]`); a single space-separated string is also accepted.
    private func names(_ key: String) throws(SourceFormatError) -> [String] {
        guard let value = entries.first(where: { $0.key == key })?.value else { return [] }
        switch value {
        case .null: return []
        case .list(let elements):
            var names: [String] = []
            for element in elements {
                guard let name = element.text else {
                    throw error("#\(key) must list names as strings, not \(element.summary)", key: key)
                }
                names.append(name)
            }
            return names
        case .string(let text): return text.split(separator: " ").map(String.init)
        default: throw error("#\(key) must be a list of names such as [ 'x', 'y' ]", key: key)
        }
    }

    /// No value, an empty list, or an empty trait composition (`''`, `'{}'`).
    private func isEmpty(_ key: String) -> Bool {
        switch entries.first(where: { $0.key == key })?.value {
        case nil, .null: true
        case .list(let elements): elements.isEmpty
        case .string(let text), .symbol(let text): ["", "{}"].contains(text.trimmingWhitespace)
        default: false
        }
    }

    private func error(_ message: String, key: String? = nil) -> SourceFormatError {
        let line = entries.first(where: { $0.key == key })?.line ?? location.line
        return SourceFormatError(location: SourceLocation(file: location.file, line: line), message: message)
    }
}
