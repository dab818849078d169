// The Smalltalk expressions that define a class, as Pharo prints them.

extension ClassDefinition {
    /// The Pharo class-definition message, e.g. `Object subclass: #Point instanceVariableNames: 'x y'
    /// classVariableNames: '' package: 'Kernel-Numbers'` (on one line). `poolDictionaries:` appears
    /// only when the class uses pools; a root class is sent to `nil`.
    public var definitionMessage: String {
        var message = "\(superclassName ?? "nil") \(subclassKeyword) #\(name)"
        message += " instanceVariableNames: " + instanceVariables.joined(separator: " ").smalltalkStringLiteral
        message += " classVariableNames: " + classVariables.joined(separator: " ").smalltalkStringLiteral
        if !poolDictionaries.isEmpty {
            message += " poolDictionaries: " + poolDictionaries.joined(separator: " ").smalltalkStringLiteral
        }
        return message + " package: " + package.smalltalkStringLiteral
    }

    /// `Foo class instanceVariableNames: 'x'`, or nil when the class has no class-side instance variables.
    public var classSideDefinitionMessage: String? {
        guard !classInstanceVariables.isEmpty else { return nil }
        return "\(name) class instanceVariableNames: " + classInstanceVariables.joined(separator: " ").smalltalkStringLiteral
    }

    /// Pharo has no message for `compiledMethod` classes; they are byte-indexable.
    private var subclassKeyword: String {
        switch type {
        case .normal: "subclass:"
        case .variable: "variableSubclass:"
        case .bytes, .compiledMethod: "variableByteSubclass:"
        case .words: "variableWordSubclass:"
        case .doubleWords: "variableDoubleWordSubclass:"
        case .weak: "weakSubclass:"
        case .immediate: "immediateSubclass:"
        }
    }
}
