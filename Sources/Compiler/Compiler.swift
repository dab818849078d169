import VMCore

/// What the compiler knows about the class a method is compiled into.
public struct ClassScope: Sendable {
    /// e.g. "Point" or "Point class".
    public var className: String
    /// All instance variables, inherited first, in slot order.
    public var instanceVariables: [String]

    /// Do-its only: top-level temps and undeclared lowercase variables are workspace variables
    /// (bindings that outlive the evaluation, like a Pharo playground's) instead of temps.
    public var workspace: Bool

    public init(className: String, instanceVariables: [String], workspace: Bool = false) {
        self.className = className; self.instanceVariables = instanceVariables; self.workspace = workspace
    }
}

/// Smalltalk-80 source to `MethodDescription`s for the VM (see Docs/VM.md and Bytecodes.swift).
public enum SmalltalkCompiler {
    /// The selector every do-it is compiled with.
    public static let doItSelector = "DoIt"

    /// A method: selector pattern, optional temps, pragmas, statements.
    public static func compileMethod(_ source: String, in scope: ClassScope) throws(CompileError) -> MethodDescription {
        var parser = try Parser(source)
        let method = try parser.parseMethod()
        return try compile(method, source: source, in: scope)
    }

    /// A do-it: optional `| temps |` then statements; answers the value of the last statement
    /// (nil if none). Undeclared lowercase variables are auto-declared as temps.
    public static func compileDoIt(_ source: String, in scope: ClassScope) throws(CompileError) -> MethodDescription {
        var parser = try Parser(source)
        let method = try parser.parseDoIt()
        return try compile(method, source: source, in: scope)
    }

    /// The selector of a method source, or nil if the pattern does not parse.
    public static func selector(ofMethod source: String) -> String? {
        guard var parser = try? Parser(source), let (selector, _) = try? parser.parsePattern() else { return nil }
        return selector
    }

    private static func compile(_ method: MethodNode, source: String, in scope: ClassScope) throws(CompileError) -> MethodDescription {
        try ScopeAnalyzer.analyze(method, in: scope)
        return try CodeGenerator.method(method, source: source)
    }
}
