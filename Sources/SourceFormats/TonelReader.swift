// Reads Tonel sources: single files, package folders, and repositories of package folders.

/// Reads Pharo's Tonel format (one file per class, `package.st` per package folder).
public enum TonelReader {
    /// Parses the text of one Tonel file; `file` is used in locations.
    public static func parse(contents: String, file: String) throws(SourceFormatError) -> TonelDocument {
        var parser = TonelParser(contents: contents, file: file)
        return try parser.parseDocument()
    }

    /// Reads and parses one Tonel file.
    public static func readFile(path: String) throws(SourceFormatError) -> TonelDocument {
        try parse(contents: try SourceFiles.read(path), file: path)
    }

    /// Reads a package folder: `package.st` and every other `*.st` file in it
    /// (`*.class.st`, `*.extension.st`; traits are rejected).
    public static func readPackage(directory: String) throws(SourceFormatError) -> PackageDefinition {
        let packageFile = SourceFiles.path(directory, "package.st")
        guard SourceFiles.isFile(packageFile) else {
            throw SourceFiles.failure(directory, "not a Tonel package: there is no package.st")
        }
        guard case .package(let name) = try readFile(path: packageFile) else {
            throw SourceFiles.failure(packageFile, "package.st must contain 'Package { #name : ... }'", line: 1)
        }
        var classes: [(definition: ClassDefinition, methods: [MethodDefinition])] = []
        var extensions: [(className: String, methods: [MethodDefinition])] = []
        for fileName in try SourceFiles.names(in: directory) where fileName.hasSuffix(".st") && fileName != "package.st" {
            let path = SourceFiles.path(directory, fileName)
            guard SourceFiles.isFile(path) else { continue }
            switch try readFile(path: path) {
            case .classDefinition(var definition, let methods):
                if let other = classes.first(where: { $0.definition.name == definition.name }) {
                    throw SourceFormatError(location: definition.location,
                                            message: "class \(definition.name) is also defined in \(other.definition.location)")
                }
                if definition.package.isEmpty { definition.package = name }
                classes.append((definition, methods))
            case .classExtension(let className, let methods):
                if let index = extensions.firstIndex(where: { $0.className == className }) {
                    extensions[index].methods += methods
                } else {
                    extensions.append((className, methods))
                }
            case .package:
                throw SourceFiles.failure(path, "only package.st may define the package", line: 1)
            }
        }
        let ordered = try superclassesFirst(classes)
        return PackageDefinition(
            name: name, classes: ordered.map(\.definition), extensions: extensions.map(\.className),
            methods: ordered.flatMap(\.methods) + extensions.flatMap(\.methods))
    }

    /// Reads every package folder (a subfolder with a `package.st`) of a repository.
    /// Packages listed in `packages.txt` (one name per line) come first, in that order;
    /// the others follow by name. An optional `.properties` must say `#format : #tonel`.
    public static func readRepository(directory: String) throws(SourceFormatError) -> [PackageDefinition] {
        let properties = SourceFiles.path(directory, ".properties")
        if SourceFiles.isFile(properties) { try checkProperties(properties) }
        let folders = try SourceFiles.names(in: directory).filter { name in
            !name.hasPrefix(".") && SourceFiles.isFile(SourceFiles.path(SourceFiles.path(directory, name), "package.st"))
        }
        var order: [String] = []
        let listFile = SourceFiles.path(directory, "packages.txt")
        if SourceFiles.isFile(listFile) {
            let lines = try SourceFiles.read(listFile).split(separator: "\n", omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() {
                let name = String(line).trimmingWhitespace
                guard !name.isEmpty else { continue }
                guard folders.contains(name) else {
                    throw SourceFiles.failure(listFile, "there is no package folder '\(name)' (with a package.st)", line: index + 1)
                }
                guard !order.contains(name) else {
                    throw SourceFiles.failure(listFile, "package '\(name)' is listed twice", line: index + 1)
                }
                order.append(name)
            }
        }
        order += folders.filter { !order.contains($0) }
        var packages: [PackageDefinition] = []
        for folder in order {
            packages.append(try readPackage(directory: SourceFiles.path(directory, folder)))
        }
        return packages
    }

    /// True if the text starts, after an optional comment, with `Class {`, `Extension {`,
    /// `Package {` (or `Trait {`, which the reader then rejects with a clear error).
    public static func looksLikeTonel(_ text: String) -> Bool {
        var cursor = SourceCursor(text: text, file: "")
        cursor.skipWhitespace()
        while cursor.peek() == UInt8(ascii: "\"") {
            guard cursor.skipQuoted() else { return false }
        }
        cursor.skipWhitespace()
        guard let word = cursor.readIdentifier(), ["Class", "Extension", "Package", "Trait"].contains(word) else {
            return false
        }
        cursor.skipWhitespace()
        return cursor.peek() == UInt8(ascii: "{")
    }

    private static func checkProperties(_ path: String) throws(SourceFormatError) {
        var cursor = SourceCursor(text: try SourceFiles.read(path), file: path)
        cursor.skipWhitespace()
        let entries = try STONReader(context: "repository properties").readMap(&cursor)
        guard let format = entries.first(where: { $0.key == "format" }) else { return }
        guard format.value.text == "tonel" else {
            throw SourceFiles.failure(path, "the repository format is \(format.value.summary), not #tonel", line: format.line)
        }
    }

    /// Orders classes so that a superclass defined in the package comes before its subclasses;
    /// otherwise by name.
    private static func superclassesFirst(
        _ classes: [(definition: ClassDefinition, methods: [MethodDefinition])]
    ) throws(SourceFormatError) -> [(definition: ClassDefinition, methods: [MethodDefinition])] {
        var pending = classes.sorted { $0.definition.name < $1.definition.name }
        let names = Set(classes.map(\.definition.name))
        var placed: Set<String> = []
        var ordered: [(definition: ClassDefinition, methods: [MethodDefinition])] = []
        while !pending.isEmpty {
            let ready = pending.firstIndex { entry in
                guard let superclass = entry.definition.superclassName else { return true }
                return !names.contains(superclass) || placed.contains(superclass)
            }
            guard let ready else {
                let names = pending.map(\.definition.name).joined(separator: ", ")
                throw SourceFormatError(location: pending[0].definition.location,
                                        message: "the superclasses of \(names) form a cycle")
            }
            placed.insert(pending[ready].definition.name)
            ordered.append(pending.remove(at: ready))
        }
        return ordered
    }
}
