// Genesis: building a fresh object space (classes, metaclasses, nil/true/false, Smalltalk, Processor)
// from plain class descriptions. The kernel's methods are compiled into it afterwards.

public enum ClassKind: String, Sendable {
    case fixed, variable, bytes, words, doubleWords, weak, immediate

    /// The format code stored in a class's `format` field.
    var formatCode: Int {
        switch self {
        case .fixed: return Format.fixed
        case .variable: return Format.indexable
        case .bytes: return Format.bytes
        case .words: return Format.words32
        case .doubleWords: return Format.words64
        case .weak: return Format.weak
        case .immediate: return 7
        }
    }
}

public struct ClassSpec: Sendable {
    public var name: String
    public var superclass: String?
    public var instanceVariables: [String]
    public var classVariables: [String]
    public var classInstanceVariables: [String]
    public var kind: ClassKind
    public var package: String
    public var comment: String

    public init(name: String, superclass: String?, instanceVariables: [String] = [], classVariables: [String] = [],
                classInstanceVariables: [String] = [], kind: ClassKind = .fixed, package: String = "", comment: String = "") {
        self.name = name; self.superclass = superclass; self.instanceVariables = instanceVariables
        self.classVariables = classVariables; self.classInstanceVariables = classInstanceVariables
        self.kind = kind; self.package = package; self.comment = comment
    }
}

extension VM {
    /// The shapes the VM depends on: class name → instance variables (all, inherited included).
    static let requiredShapes: [(Root, String, [String]?)] = [
        (.classObject, "Object", []), (.classUndefinedObject, "UndefinedObject", []),
        (.classTrue, "True", []), (.classFalse, "False", []),
        (.classSmallInteger, "SmallInteger", nil), (.classCharacter, "Character", nil), (.classSmallFloat64, "SmallFloat64", nil),
        (.classBoxedFloat64, "BoxedFloat64", nil), (.classLargePositiveInteger, "LargePositiveInteger", nil),
        (.classLargeNegativeInteger, "LargeNegativeInteger", nil), (.classArray, "Array", nil), (.classByteArray, "ByteArray", nil),
        (.classByteString, "ByteString", nil), (.classWideString, "WideString", nil), (.classByteSymbol, "ByteSymbol", nil),
        (.classWideSymbol, "WideSymbol", nil), (.classAssociation, "Association", ["key", "value"]),
        (.classMessage, "Message", ["selector", "arguments", "lookupClass"]),
        (.classCompiledMethod, "CompiledMethod", ["bytecodes", "literals", "numArgs", "numTemps", "frameSize", "lines",
                                                   "primitive", "selector", "methodClass", "sourceCode", "pragmas"]),
        (.classCompiledBlock, "CompiledBlock", ["bytecodes", "literals", "numArgs", "numTemps", "frameSize", "lines",
                                                 "numCopied", "needsHomeContext", "outerCode"]),
        (.classBlockClosure, "BlockClosure", ["outerContext", "compiledBlock", "numArgs", "receiver"]),
        (.classContext, "Context", ["sender", "pc", "stackp", "method", "closureOrNil", "receiver", "frame"]),
        (.classProcess, "Process", ["nextLink", "suspendedContext", "priority", "myList", "name", "stackId"]),
        (.classSemaphore, "Semaphore", ["firstLink", "lastLink", "excessSignals"]),
        (.classLinkedList, "LinkedList", ["firstLink", "lastLink"]),
        (.classMetaclass, "Metaclass", ["superclass", "methodDict", "format", "instanceVariables", "organization", "soleInstance"]),
        (.classMethodDictionary, "MethodDictionary", ["tally", "array"]),
        (.classIdentityDictionary, "IdentityDictionary", ["tally", "array"]),
        (.classProcessorScheduler, "ProcessorScheduler", ["quiescentProcessLists", "activeProcess"]),
        (.classSystemDictionary, "SystemDictionary", ["tally", "array"]),
        (.classWeakArray, "WeakArray", nil),
    ]
    static let classShape = ["superclass", "methodDict", "format", "instanceVariables", "organization",
                             "name", "subclasses", "classPool", "sharedPools", "category", "comment"]

    /// Builds every class and the well-known objects. Answers the classes by name.
    @discardableResult
    public func genesis(_ specs: [ClassSpec]) throws -> [String: Oop] {
        let ordered = try VM.superclassOrder(specs)
        let byName = Dictionary(ordered.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func allIvars(_ name: String?) -> [String] {
            guard let name, let s = byName[name] else { return [] }
            return allIvars(s.superclass) + s.instanceVariables
        }
        func allClassIvars(_ name: String?) -> [String] {
            guard let name, let s = byName[name] else { return VM.classShape }
            return allClassIvars(s.superclass) + s.classInstanceVariables
        }
        for (_, name, shape) in VM.requiredShapes {
            guard byName[name] != nil else { throw VMError.badImage("the kernel does not define \(name)") }
            if let shape, allIvars(name) != shape {
                throw VMError.badImage("\(name) must have the instance variables \(shape.joined(separator: " ")), not \(allIvars(name).joined(separator: " "))")
            }
        }
        guard allIvars("Class") == VM.classShape else {
            throw VMError.badImage("Class must have the instance variables \(VM.classShape.joined(separator: " "))")
        }

        bootstrapping = true
        defer { bootstrapping = false }
        // nil, true and false come first in old space, so compaction never moves them.
        let placeholders = (0..<3).map { _ in allocate(classIndex: 0, format: Format.empty, numSlots: 0, fill: 0)! }
        setRoot(.nilObject, placeholders[0]); setRoot(.trueObject, placeholders[1]); setRoot(.falseObject, placeholders[2])

        // Class-table indices: immediates use their tag.
        let immediateIndex = ["SmallInteger": Int(Tag.smallInteger), "Character": Int(Tag.character), "SmallFloat64": Int(Tag.smallFloat)]
        var classIndexOf: [String: Int] = [:], metaIndexOf: [String: Int] = [:]
        for s in ordered {
            classIndexOf[s.name] = immediateIndex[s.name] ?? newClassIndex()!
            metaIndexOf[s.name] = newClassIndex()!
        }
        let metaclassIndex = classIndexOf["Metaclass"]!
        var classes: [String: Oop] = [:], metas: [String: Oop] = [:]
        for s in ordered {
            let meta = allocate(classIndex: metaclassIndex, format: Format.fixed, numSlots: ClassLayout.metaclassSize,
                                fill: nilObj, hash: metaIndexOf[s.name]!)!
            let cls = allocate(classIndex: metaIndexOf[s.name]!, format: Format.fixed, numSlots: allClassIvars(s.name).count,
                               fill: nilObj, hash: classIndexOf[s.name]!)!
            setClass(meta, at: metaIndexOf[s.name]!)
            setClass(cls, at: classIndexOf[s.name]!)
            classes[s.name] = cls; metas[s.name] = meta
        }
        for (r, name, _) in VM.requiredShapes { setRoot(r, classes[name]!) }
        // nil, true and false now get their classes.
        for (o, name) in zip(placeholders, ["UndefinedObject", "True", "False"]) {
            words(o).pointee = (headerOf(o) & ~Header.classIndexMask) | UInt64(classIndexOf[name]!)
        }
        for o in placeholders { words(o)[1] = 0 }
        // Formats first: instantiating any kernel class needs only its format.
        for s in ordered {
            store(classes[s.name]!, ClassLayout.format, intOop(allIvars(s.name).count | s.kind.formatCode << 16))
            store(metas[s.name]!, ClassLayout.format, intOop(allClassIvars(s.name).count | ClassKind.fixed.formatCode << 16))
        }
        createSymbolTable()

        for s in ordered {
            let cls = classes[s.name]!, meta = metas[s.name]!
            let superCls = s.superclass.map { classes[$0]! } ?? nilObj
            let superMeta = s.superclass.map { metas[$0]! } ?? classes["Class"]!
            try fillBehavior(cls, superclass: superCls, instSize: allIvars(s.name).count, kind: s.kind, ivars: s.instanceVariables)
            try fillBehavior(meta, superclass: superMeta, instSize: allClassIvars(s.name).count, kind: .fixed,
                             ivars: s.classInstanceVariables)
            store(meta, ClassLayout.soleInstance, cls)
            store(cls, ClassLayout.name, try need(intern(s.name)))
            store(cls, ClassLayout.category, try need(newString(s.package)))
            store(cls, ClassLayout.comment, try need(newString(s.comment)))
            store(cls, ClassLayout.sharedPools, try need(newArray(0)))
            let pool = try need(instantiate(root(.classIdentityDictionary)))
            store(pool, DictLayout.tally, intOop(0))
            store(cls, ClassLayout.classPool, pool)
            for v in s.classVariables { identityDictionaryAdd(pool, try need(newAssociation(try need(intern(v)), nilObj))) }
            let subs = ordered.filter { $0.superclass == s.name }.map { classes[$0.name]! }
            store(cls, ClassLayout.subclasses, try need(newArray(subs)))
        }

        try makeWellKnownObjects(classes)
        installGhostClass()
        return classes
    }

    private func need(_ o: Oop?) throws -> Oop {
        guard let o else { throw VMError.outOfMemory }
        return o
    }

    private func fillBehavior(_ b: Oop, superclass: Oop, instSize: Int, kind: ClassKind, ivars: [String]) throws {
        store(b, ClassLayout.superclass, superclass)
        let dict = try need(instantiate(root(.classMethodDictionary)))
        store(dict, DictLayout.tally, intOop(0))
        store(dict, DictLayout.array, try need(newArray(32)))
        store(b, ClassLayout.methodDict, dict)
        store(b, ClassLayout.format, intOop(instSize | kind.formatCode << 16))
        store(b, ClassLayout.instanceVariables, try need(newArray(try ivars.map { try need(intern($0)) })))
        let org = try need(instantiate(root(.classIdentityDictionary)))
        store(org, DictLayout.tally, intOop(0))
        store(b, ClassLayout.organization, org)
    }

    private func makeWellKnownObjects(_ classes: [String: Oop]) throws {
        let smalltalk = try need(instantiate(root(.classSystemDictionary)))
        store(smalltalk, DictLayout.tally, intOop(0))
        store(smalltalk, DictLayout.array, try need(newArray(1024)))
        setRoot(.smalltalk, smalltalk)
        for (name, cls) in classes.sorted(by: { $0.key < $1.key }) {
            identityDictionaryAdd(smalltalk, try need(newAssociation(try need(intern(name)), cls)))
        }
        let undeclared = try need(instantiate(root(.classIdentityDictionary)))
        store(undeclared, DictLayout.tally, intOop(0))
        setRoot(.undeclared, undeclared)
        let processor = try need(instantiate(root(.classProcessorScheduler)))
        let lists = try need(newArray(80))
        store(processor, SchedulerLayout.processLists, lists)
        for i in 0..<80 { store(lists, i, try need(instantiate(root(.classLinkedList)))) }
        setRoot(.processor, processor)
        for (name, value) in [("Smalltalk", smalltalk), ("Processor", processor), ("Undeclared", undeclared)] {
            identityDictionaryAdd(smalltalk, try need(newAssociation(try need(intern(name)), value)))
        }
        let specials = Opcode.allCases.compactMap { $0.specialSelector?.selector }
        setRoot(.specialSelectors, try need(newArray(try specials.map { try need(intern($0)) })))
        let selectors: [(Root, String)] = [(.selDoesNotUnderstand, "doesNotUnderstand:"), (.selMustBeBoolean, "mustBeBoolean"),
            (.selCannotReturn, "cannotReturn:"), (.selAboutToReturn, "aboutToReturn:through:"),
            (.selStackOverflow, "stackOverflow"), (.selUserInterrupt, "userInterrupt"), (.selLowSpace, "lowSpace"), (.selValue, "value")]
        for (r, s) in selectors { setRoot(r, try need(intern(s))) }
        setRoot(.timerSemaphore, nilObj)
    }

    /// Classes ordered so that every superclass comes before its subclasses.
    static func superclassOrder(_ specs: [ClassSpec]) throws -> [ClassSpec] {
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var done = Set<String>(), visiting = Set<String>(), out: [ClassSpec] = []
        func visit(_ s: ClassSpec) throws {
            if done.contains(s.name) { return }
            guard !visiting.contains(s.name) else { throw VMError.badImage("superclass cycle at \(s.name)") }
            visiting.insert(s.name)
            if let sup = s.superclass {
                guard let parent = byName[sup] else { throw VMError.badImage("\(s.name): unknown superclass \(sup)") }
                try visit(parent)
            }
            visiting.remove(s.name); done.insert(s.name); out.append(s)
        }
        for s in specs { try visit(s) }
        return out
    }
}
