// Building a fresh image from the kernel's Tonel sources: classes first, then every method,
// then each class's class-side `initialize`.

import Compiler
import Foundation
import SourceFormats
import VMCore

extension Runtime {
    func bootstrap(from kernel: String, progress: ((String) -> Void)?) throws {
        let started = Date()
        let packages: [PackageDefinition]
        do { packages = try TonelReader.readRepository(directory: kernel) } catch {
            throw RuntimeError.bootstrap(error.description)
        }
        let classes = packages.flatMap { $0.classes }
        do { try vm.genesis(classes.map(Runtime.spec)) } catch let e as VMError {
            throw RuntimeError.bootstrap(e.description)
        }
        vm.bootstrapping = true
        var count = 0
        for package in packages {
            for m in package.methods {
                do {
                    try compile(m.source, inClass: m.className, classSide: m.isClassSide, category: m.category, location: m.location)
                    count += 1
                } catch let RuntimeError.compile(d) {
                    bootstrapDiagnostics.append(d)
                }
            }
        }
        // Interned now, so that the first do-it run on a new image does not change its symbol table.
        _ = vm.intern(SmalltalkCompiler.doItSelector)
        vm.bootstrapping = false
        for c in classes {
            guard let cls = vm.globalValue(c.name), vm.includesSelector(vm.classOf(cls), "initialize") else { continue }
            do { _ = try send("initialize", to: cls) } catch {
                bootstrapDiagnostics.append(Diagnostic(location: c.location.description,
                                                       message: "\(c.name) class>>initialize failed: \(error)"))
            }
        }
        progress?(String(format: "bootstrapped %d classes, %d methods in %.2fs", classes.count, count, Date().timeIntervalSince(started)))
    }

    static func spec(_ c: ClassDefinition) -> ClassSpec {
        let kind: ClassKind
        switch c.type {
        case .normal, .compiledMethod: kind = .fixed
        case .variable: kind = .variable
        case .bytes: kind = .bytes
        case .words: kind = .words
        case .doubleWords: kind = .doubleWords
        case .weak: kind = .weak
        case .immediate: kind = .immediate
        }
        return ClassSpec(name: c.name, superclass: c.superclassName, instanceVariables: c.instanceVariables,
                         classVariables: c.classVariables, classInstanceVariables: c.classInstanceVariables,
                         kind: kind, package: c.package, comment: c.comment)
    }
}
