/// A compilation failure: what is wrong and where (1-based line and column, counted in
/// Unicode code points).
public struct CompileError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line; self.column = column; self.message = message
    }

    init(_ message: String, at position: SourcePosition) {
        self.init(line: position.line, column: position.column, message: message)
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}

struct SourcePosition: Equatable {
    var line: Int
    var column: Int
}
