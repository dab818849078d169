// Writes the classic chunk format (file-out): definition do-its, then `!Foo methodsFor: '...'!` sections.

import Foundation

/// Writes chunk-format file-outs that `ChunkReader` reads back.
public enum ChunkWriter {
    /// The class definition, its comment and class-side instance variables as do-its, then one
    /// section per side and category (instance side first, categories and selectors sorted).
    public static func fileOut(class definition: ClassDefinition, methods: [MethodDefinition]) -> String {
        var doIts = [definition.definitionMessage]
        if !definition.comment.isEmpty {
            doIts.append("\(definition.name) comment: " + definition.comment.smalltalkStringLiteral)
        }
        if let classSide = definition.classSideDefinitionMessage { doIts.append(classSide) }
        return doIts.map { escaped($0) + "!\n\n" }.joined() + methodSections(methods)
    }

    /// Only the `methodsFor:` sections (e.g. extension methods of classes defined elsewhere).
    public static func methodSections(_ methods: [MethodDefinition]) -> String {
        var text = ""
        let sorted = methods
            .map { (method: $0, key: SectionKey(method: $0), selector: $0.selector ?? $0.source) }
            .sorted { ($0.key, $0.selector) < ($1.key, $1.selector) }
        var index = sorted.startIndex
        while index < sorted.endIndex {
            let key = sorted[index].key
            let section = sorted[index...].prefix { $0.key == key }
            let side = key.isClassSide ? " class" : ""
            text += "!\(key.className)\(side) methodsFor: \(escaped(key.category.smalltalkStringLiteral))!\n"
            text += section.map { escaped($0.method.source) + "!" }.joined(separator: "\n\n")
            text += " !\n\n"
            index = section.endIndex
        }
        return text
    }

    /// Doubles every `!`, so that it does not end the chunk.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "!", with: "!!")
    }

    private struct SectionKey: Equatable, Comparable {
        var className: String
        var isClassSide: Bool
        var category: String

        init(method: MethodDefinition) {
            className = method.className
            isClassSide = method.isClassSide
            category = method.category
        }

        static func < (a: SectionKey, b: SectionKey) -> Bool {
            (a.className, a.isClassSide ? 1 : 0, a.category) < (b.className, b.isClassSide ? 1 : 0, b.category)
        }
    }
}
