// Writes Tonel files in Pharo's layout: comment, definition map, methods by category and selector.

import Foundation

/// Writes Pharo's Tonel format; what it writes, `TonelReader` reads back unchanged.
public enum TonelWriter {
    /// Writes `package.st`, `<Class>.class.st` per class and `<Class>.extension.st` per extended
    /// class into `directory` (the package folder), replacing the `*.st` files already there.
    public static func write(package: PackageDefinition, to directory: String) throws(SourceFormatError) {
        try SourceFiles.createDirectory(directory)
        for name in try SourceFiles.names(in: directory) where name.hasSuffix(".st") {
            try SourceFiles.remove(SourceFiles.path(directory, name))
        }
        try SourceFiles.write(renderPackageFile(name: package.name), to: SourceFiles.path(directory, "package.st"))
        let classNames = Set(package.classes.map(\.name))
        for definition in package.classes {
            let methods = package.methods.filter { $0.className == definition.name }
            try SourceFiles.write(render(class: definition, methods: methods),
                                  to: SourceFiles.path(directory, definition.name + ".class.st"))
        }
        var extended = package.extensions.filter { !classNames.contains($0) }
        for method in package.methods where !classNames.contains(method.className) && !extended.contains(method.className) {
            extended.append(method.className)
        }
        for className in extended {
            let methods = package.methods.filter { $0.className == className }
            try SourceFiles.write(renderExtension(className: className, methods: methods),
                                  to: SourceFiles.path(directory, className + ".extension.st"))
        }
    }

    /// A `*.class.st` file.
    public static func render(class definition: ClassDefinition, methods: [MethodDefinition]) -> String {
        var text = ""
        if !definition.comment.isEmpty {
            text += "\"\n" + definition.comment.replacingOccurrences(of: "\"", with: "\"\"") + "\n\"\n"
        }
        var entries = [
            "#name : " + STONWriter.symbol(definition.name),
            "#superclass : " + STONWriter.symbol(definition.superclassName ?? "nil"),
        ]
        if definition.type != .normal { entries.append("#type : " + STONWriter.symbol(definition.type.rawValue)) }
        let lists = [
            ("instVars", definition.instanceVariables), ("classVars", definition.classVariables),
            ("pools", definition.poolDictionaries), ("classInstVars", definition.classInstanceVariables),
        ]
        for (key, names) in lists where !names.isEmpty {
            entries.append("#\(key) : [\n" + names.map { "\t\t" + STONWriter.string($0) }.joined(separator: ",\n") + "\n\t]")
        }
        entries.append("#category : " + STONWriter.symbol(definition.package))
        text += "Class {\n" + entries.map { "\t" + $0 }.joined(separator: ",\n") + "\n}\n"
        return text + renderMethods(methods)
    }

    /// A `*.extension.st` file.
    public static func renderExtension(className: String, methods: [MethodDefinition]) -> String {
        "Extension { #name : \(STONWriter.symbol(className)) }\n" + renderMethods(methods)
    }

    /// A `package.st` file.
    public static func renderPackageFile(name: String) -> String {
        "Package { #name : \(STONWriter.symbol(name)) }\n"
    }

    /// Each method after a blank line, sorted by category, then selector (instance side first).
    private static func renderMethods(_ methods: [MethodDefinition]) -> String {
        methods
            .map { (method: $0, key: ($0.category, $0.selector ?? $0.source, $0.isClassSide ? 1 : 0)) }
            .sorted { $0.key < $1.key }
            .map { renderMethod($0.method) }
            .joined()
    }

    private static func renderMethod(_ method: MethodDefinition) -> String {
        let side = method.isClassSide ? " class" : ""
        let (pattern, body) = MethodPattern(method.source).map { ($0.pattern, $0.body) }
            ?? firstLineAndRest(of: method.source)
        let metadata = method.category.isEmpty ? "" : "{ #category : \(STONWriter.symbol(method.category)) }\n"
        return "\n" + metadata + "\(method.className)\(side) >> \(pattern) [" + body + "\n]\n"
    }

    /// For a source without a valid pattern (which the compiler will reject anyway).
    private static func firstLineAndRest(of source: String) -> (String, String) {
        guard let newline = source.firstIndex(of: "\n") else { return (source, "") }
        return (String(source[..<newline]), String(source[newline...]))
    }
}
