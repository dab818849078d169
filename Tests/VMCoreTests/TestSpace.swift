// A minimal object space for VM tests: every class the VM needs, no kernel methods.

@testable import VMCore

enum TestSpace {
    static let specs: [ClassSpec] = [
        ClassSpec(name: "Object", superclass: nil),
        ClassSpec(name: "UndefinedObject", superclass: "Object"),
        ClassSpec(name: "Boolean", superclass: "Object"),
        ClassSpec(name: "True", superclass: "Boolean"),
        ClassSpec(name: "False", superclass: "Boolean"),
        ClassSpec(name: "Behavior", superclass: "Object", instanceVariables: ["superclass", "methodDict", "format", "instanceVariables"]),
        ClassSpec(name: "ClassDescription", superclass: "Behavior", instanceVariables: ["organization"]),
        ClassSpec(name: "Class", superclass: "ClassDescription", instanceVariables: ["name", "subclasses", "classPool", "sharedPools", "category", "comment"]),
        ClassSpec(name: "Metaclass", superclass: "ClassDescription", instanceVariables: ["soleInstance"]),
        ClassSpec(name: "Magnitude", superclass: "Object"),
        ClassSpec(name: "Character", superclass: "Magnitude", kind: .immediate),
        ClassSpec(name: "Number", superclass: "Magnitude"),
        ClassSpec(name: "Integer", superclass: "Number"),
        ClassSpec(name: "SmallInteger", superclass: "Integer", kind: .immediate),
        ClassSpec(name: "LargePositiveInteger", superclass: "Integer", kind: .bytes),
        ClassSpec(name: "LargeNegativeInteger", superclass: "LargePositiveInteger", kind: .bytes),
        ClassSpec(name: "Float", superclass: "Number"),
        ClassSpec(name: "SmallFloat64", superclass: "Float", kind: .immediate),
        ClassSpec(name: "BoxedFloat64", superclass: "Float", kind: .doubleWords),
        ClassSpec(name: "ArrayedCollection", superclass: "Object"),
        ClassSpec(name: "Array", superclass: "ArrayedCollection", kind: .variable),
        ClassSpec(name: "WeakArray", superclass: "Array", kind: .weak),
        ClassSpec(name: "ByteArray", superclass: "ArrayedCollection", kind: .bytes),
        ClassSpec(name: "String", superclass: "ArrayedCollection"),
        ClassSpec(name: "ByteString", superclass: "String", kind: .bytes),
        ClassSpec(name: "WideString", superclass: "String", kind: .words),
        ClassSpec(name: "Symbol", superclass: "String"),
        ClassSpec(name: "ByteSymbol", superclass: "Symbol", kind: .bytes),
        ClassSpec(name: "WideSymbol", superclass: "Symbol", kind: .words),
        ClassSpec(name: "LookupKey", superclass: "Object", instanceVariables: ["key"]),
        ClassSpec(name: "Association", superclass: "LookupKey", instanceVariables: ["value"]),
        ClassSpec(name: "Message", superclass: "Object", instanceVariables: ["selector", "arguments", "lookupClass"]),
        ClassSpec(name: "CompiledCode", superclass: "Object", instanceVariables: ["bytecodes", "literals", "numArgs", "numTemps", "frameSize", "lines"]),
        ClassSpec(name: "CompiledMethod", superclass: "CompiledCode", instanceVariables: ["primitive", "selector", "methodClass", "sourceCode", "pragmas"]),
        ClassSpec(name: "CompiledBlock", superclass: "CompiledCode", instanceVariables: ["numCopied", "needsHomeContext", "outerCode"]),
        ClassSpec(name: "BlockClosure", superclass: "Object", instanceVariables: ["outerContext", "compiledBlock", "numArgs", "receiver"], kind: .variable),
        ClassSpec(name: "Context", superclass: "Object", instanceVariables: ["sender", "pc", "stackp", "method", "closureOrNil", "receiver", "frame"]),
        ClassSpec(name: "Link", superclass: "Object", instanceVariables: ["nextLink"]),
        ClassSpec(name: "Process", superclass: "Link", instanceVariables: ["suspendedContext", "priority", "myList", "name", "stackId"]),
        ClassSpec(name: "LinkedList", superclass: "Object", instanceVariables: ["firstLink", "lastLink"]),
        ClassSpec(name: "Semaphore", superclass: "LinkedList", instanceVariables: ["excessSignals"]),
        ClassSpec(name: "IdentityDictionary", superclass: "Object", instanceVariables: ["tally", "array"]),
        ClassSpec(name: "MethodDictionary", superclass: "IdentityDictionary"),
        ClassSpec(name: "SystemDictionary", superclass: "IdentityDictionary"),
        ClassSpec(name: "ProcessorScheduler", superclass: "Object", instanceVariables: ["quiescentProcessLists", "activeProcess"]),
        ClassSpec(name: "Pair", superclass: "Object", instanceVariables: ["left", "right"]),
    ]

    static func make(_ config: VMConfiguration = VMConfiguration()) throws -> VM {
        let vm = try VM(config: config)
        try vm.genesis(specs)
        return vm
    }

    /// Installs hand-assembled code as a method.
    static func install(_ vm: VM, _ className: String, _ selector: String, numArgs: Int = 0, numTemps: Int = 0,
                        maxStack: Int = 8, primitive: Int = 0, literals: [Literal] = [], code: [Instruction]) {
        var bytes: [UInt8] = []
        for i in code { i.encode(into: &bytes) }
        let d = MethodDescription(selector: selector, numArgs: numArgs, numTemps: numTemps, maxStack: maxStack,
                                  primitive: primitive, bytecodes: bytes, literals: literals, pragmas: [], source: selector)
        let cls = vm.globalValue(className)!
        guard let m = vm.makeCompiledMethod(d, methodClass: cls) else { fatalError(vm.lastInstallError ?? "install failed") }
        vm.installMethod(m, selector: vm.intern(selector)!, in: cls)
    }

    static func op(_ o: Opcode, _ a: Int = 0, _ b: Int = 0) -> Instruction { Instruction(offset: 0, opcode: o, a: a, b: b) }
}
