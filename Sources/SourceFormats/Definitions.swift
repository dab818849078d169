// The source-format model: class, method and package definitions as plain Swift values.

/// A place in a source file: the file's path and a 1-based line (0 when the whole file is meant).
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// Where the source's first line lies in the file's line, if not from column 1 on.
    public var firstLine: FirstLineColumns?

    public init(file: String, line: Int, firstLine: FirstLineColumns? = nil) {
        self.file = file
        self.line = line
        self.firstLine = firstLine
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }

    /// A place is its file and line; `firstLine` only refines the columns reported on that line.
    public static func == (a: SourceLocation, b: SourceLocation) -> Bool { a.file == b.file && a.line == b.line }

    /// The file's column (1-based, in Unicode code points) of a column on the source's line `line`.
    public func fileColumn(_ column: Int, onSourceLine line: Int) -> Int {
        guard line == 1, let firstLine else { return column }
        return column <= firstLine.bodyStart ? firstLine.patternColumn + column - 1
                                             : firstLine.bodyColumn + column - 1 - firstLine.bodyStart
    }
}

/// A Tonel method's source is its pattern followed by its body: on the first line the two are apart
/// in the file (`Foo >> bar [ ^ 3 ]` gives `bar ^ 3 `), so columns there map in two pieces.
public struct FirstLineColumns: Equatable, Sendable {
    /// The file column of the source's first character.
    public var patternColumn: Int
    /// How many characters of the source's first line come before the body (the pattern's).
    public var bodyStart: Int
    /// The file column of the body's first character (just after `[`).
    public var bodyColumn: Int

    public init(patternColumn: Int, bodyStart: Int, bodyColumn: Int) {
        self.patternColumn = patternColumn
        self.bodyStart = bodyStart
        self.bodyColumn = bodyColumn
    }
}

/// A malformed or unreadable source file, with where the problem is.
public struct SourceFormatError: Error, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(location: SourceLocation, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// The shape of a class's instances (Tonel `#type`; `normal` means fixed pointer fields).
public enum ClassType: String, Sendable, CaseIterable {
    case normal, variable, bytes, words, doubleWords, weak, immediate, compiledMethod
}

/// A class as a source file declares it.
public struct ClassDefinition: Equatable, Sendable {
    public var name: String
    /// nil for a root class (Tonel `#superclass : #nil`).
    public var superclassName: String?
    public var instanceVariables: [String]
    public var classVariables: [String]
    public var classInstanceVariables: [String]
    public var poolDictionaries: [String]
    /// Tonel `#category` (or `#package`): the package, possibly with a tag (`Kernel-Objects`).
    public var package: String
    public var type: ClassType
    public var comment: String
    public var location: SourceLocation

    public init(
        name: String, superclassName: String?,
        instanceVariables: [String] = [], classVariables: [String] = [],
        classInstanceVariables: [String] = [], poolDictionaries: [String] = [],
        package: String = "", type: ClassType = .normal, comment: String = "",
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.name = name
        self.superclassName = superclassName
        self.instanceVariables = instanceVariables
        self.classVariables = classVariables
        self.classInstanceVariables = classInstanceVariables
        self.poolDictionaries = poolDictionaries
        self.package = package
        self.type = type
        self.comment = comment
        self.location = location
    }
}

/// A method as a source file declares it.
public struct MethodDefinition: Equatable, Sendable {
    public var className: String
    public var isClassSide: Bool
    public var category: String
    /// What a Smalltalk compiler expects: the selector pattern, then the body
    /// (`"x\n\t^ x"`), exactly as written in the file.
    public var source: String
    /// Where `source` starts. Line k of `source` is line `location.line + k - 1` of the file.
    public var location: SourceLocation

    public init(
        className: String, isClassSide: Bool = false, category: String = "", source: String,
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.className = className
        self.isClassSide = isClassSide
        self.category = category
        self.source = source
        self.location = location
    }

    /// The selector the source's pattern declares (`at:put:`), or nil if it has no valid pattern.
    public var selector: String? { MethodPattern(source)?.selector }
}

/// A package: the classes it defines, the classes it extends, and all its methods.
public struct PackageDefinition: Equatable, Sendable {
    public var name: String
    /// Superclasses before their subclasses (within the package), otherwise by name.
    public var classes: [ClassDefinition]
    /// Names of classes defined elsewhere that this package adds methods to.
    public var extensions: [String]
    /// Methods of `classes` (in class order), then extension methods.
    public var methods: [MethodDefinition]

    public init(name: String, classes: [ClassDefinition] = [], extensions: [String] = [], methods: [MethodDefinition] = []) {
        self.name = name
        self.classes = classes
        self.extensions = extensions
        self.methods = methods
    }
}
