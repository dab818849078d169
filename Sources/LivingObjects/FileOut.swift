// Writing the classes and methods of a package, as they live in the image, in Tonel or chunk format.

import Foundation
import SourceFormats
import VMCore

public enum SourceFormat: String, Sendable { case tonel, chunk }

extension Runtime {
    /// The package as source: its classes (category `name` or `name-…`) and the extension
    /// methods other classes have in categories `*name…`.
    public func packageDefinition(_ name: String) -> PackageDefinition {
        var package = PackageDefinition(name: name)
        var extended = Set<String>()
        for (className, cls) in classesInImage() {
            let category = vm.stringValue(vm.fetchSlot(cls, ClassLayout.category)) ?? ""
            let inPackage = category == name || category.hasPrefix(name + "-")
            if inPackage { package.classes.append(classDefinition(className, cls, category: category)) }
            for (isClassSide, behavior) in [(false, cls), (true, vm.classOf(cls))] {
                for m in methods(of: behavior, className: className, isClassSide: isClassSide) {
                    let isExtension = m.category.hasPrefix("*" + name)
                    if inPackage ? !m.category.hasPrefix("*") : isExtension {
                        package.methods.append(m)
                        if isExtension { extended.insert(className) }
                    }
                }
            }
        }
        package.extensions = extended.sorted()
        return package
    }

    /// Writes a package: Tonel into the folder `path/<name>`, chunk format into the file `path`.
    public func fileOut(package name: String, format: SourceFormat, to path: String) throws {
        let package = packageDefinition(name)
        guard !package.classes.isEmpty || !package.methods.isEmpty else {
            throw Diagnostic(location: path, message: "no class or extension belongs to the package \(name)")
        }
        switch format {
        case .tonel:
            let folder = (path as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            do { try TonelWriter.write(package: package, to: folder) } catch {
                throw Diagnostic(location: error.location.description, message: error.message)
            }
        case .chunk:
            var text = ""
            for c in package.classes {
                text += ChunkWriter.fileOut(class: c, methods: package.methods.filter { $0.className == c.name }) + "\n"
            }
            let extensionMethods = package.methods.filter { package.extensions.contains($0.className) }
            text += ChunkWriter.methodSections(extensionMethods)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw Diagnostic(location: path, message: "cannot write the file")
            }
        }
    }

    func classesInImage() -> [(String, Oop)] {
        let smalltalk = vm.root(.smalltalk)
        let array = vm.fetchSlot(smalltalk, DictLayout.array)
        var out: [(String, Oop)] = []
        for i in 0..<vm.indexableSize(array) {
            let assoc = vm.fetchSlot(array, i)
            guard vm.isPointer(assoc), assoc != vm.nilObj else { continue }
            let value = vm.fetchSlot(assoc, AssocLayout.value)
            guard vm.isPointer(value), vm.classOf(vm.classOf(value)) == vm.root(.classMetaclass),
                  let name = vm.stringValue(vm.fetchSlot(assoc, AssocLayout.key)),
                  vm.className(value) == name else { continue }
            out.append((name, value))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    private func names(_ array: Oop) -> [String] {
        guard vm.isPointer(array) else { return [] }
        return (0..<vm.indexableSize(array)).compactMap { vm.stringValue(vm.fetchSlot(array, $0)) }
    }

    private func keys(ofDictionary dict: Oop) -> [String] {
        let array = vm.fetchSlot(dict, DictLayout.array)
        guard vm.isPointer(array), array != vm.nilObj else { return [] }
        return (0..<vm.indexableSize(array)).compactMap { i -> String? in
            let assoc = vm.fetchSlot(array, i)
            return assoc == vm.nilObj ? nil : vm.stringValue(vm.fetchSlot(assoc, AssocLayout.key))
        }.sorted()
    }

    private func classDefinition(_ name: String, _ cls: Oop, category: String) -> ClassDefinition {
        let superclass = vm.fetchSlot(cls, ClassLayout.superclass)
        let format = vm.fetchSlot(cls, ClassLayout.format)
        let code = isSmallInt(format) ? (intValue(format) >> 16) & 31 : 1
        let type: ClassType
        switch code {
        case 2, 3: type = .variable
        case 4: type = .weak
        case 9: type = .doubleWords
        case 10, 11: type = .words
        case 16...23: type = .bytes
        case 7: type = .immediate
        default: type = .normal
        }
        return ClassDefinition(
            name: name, superclassName: superclass == vm.nilObj ? nil : vm.className(superclass),
            instanceVariables: names(vm.fetchSlot(cls, ClassLayout.instanceVariables)),
            classVariables: keys(ofDictionary: vm.fetchSlot(cls, ClassLayout.classPool)),
            classInstanceVariables: names(vm.fetchSlot(vm.classOf(cls), ClassLayout.instanceVariables)),
            package: category, type: type,
            comment: vm.stringValue(vm.fetchSlot(cls, ClassLayout.comment)) ?? "")
    }

    private func methods(of behavior: Oop, className: String, isClassSide: Bool) -> [MethodDefinition] {
        let dict = vm.fetchSlot(behavior, ClassLayout.methodDict)
        let organization = vm.fetchSlot(behavior, ClassLayout.organization)
        let array = vm.fetchSlot(dict, DictLayout.array)
        guard vm.isPointer(array), array != vm.nilObj else { return [] }
        var out: [MethodDefinition] = []
        for i in 0..<vm.indexableSize(array) {
            let assoc = vm.fetchSlot(array, i)
            guard assoc != vm.nilObj else { continue }
            let selector = vm.fetchSlot(assoc, AssocLayout.key)
            let method = vm.fetchSlot(assoc, AssocLayout.value)
            guard let source = vm.stringValue(vm.fetchSlot(method, CodeLayout.sourceCode)) else { continue }
            var category = "as yet unclassified"
            if let entry = vm.identityDictionaryLookup(organization, selector) {
                let value = vm.fetchSlot(entry, AssocLayout.value)
                category = vm.stringValue(value) ?? category
            }
            out.append(MethodDefinition(className: className, isClassSide: isClassSide, category: category, source: source))
        }
        return out
    }
}
