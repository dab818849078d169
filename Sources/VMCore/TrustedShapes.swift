// Objects the VM reads where it finds them without checking them again: a closure's block (every
// `value`), the scheduler's active process, a process's stack, the bindings of literal frames, the
// classes of the class table, the format of the classes it makes instances of. The primitives that
// could change them (`instVarAt:put:`, `become:`, `setFormat:`) keep them what the VM expects, and
// fail otherwise.

extension VM {
    /// Whether `instVarAt:put:` may store `value` into fixed field `field` (0-based) of `o`.
    func fixedFieldMayHold(_ o: Oop, _ field: Int, _ value: Oop) -> Bool {
        if field == ClassLayout.format && isClassTheVMKnows(o) { return value == fetch(o, field) }
        let index = classIndexOf(o)
        if index == classIndex(.classBlockClosure) { return closureFieldMayHold(o, field, value) }
        // Only the VM makes a process's stack or the active process; a program choosing them could
        // make two processes share a stack, or the scheduler run something that is not a process.
        if index == classIndex(.classProcess) { return field != ProcessLayout.stackId || value == nilObj }
        if index == classIndex(.classProcessorScheduler) { return field != SchedulerLayout.activeProcess }
        return true
    }

    /// The classes the VM names (Message, Process, CompiledMethod, Context, Association, Array, ...): it
    /// makes their instances and reads their fields by a layout of its own, so their `format` keeps its
    /// value. A `Message` of no slots would have the doesNotUnderstand: machinery store past its end.
    func isClassTheVMKnows(_ cls: Oop) -> Bool {
        for r in Root.allCases where r.rawValue >= Root.classObject.rawValue && r.rawValue <= Root.classWeakArray.rawValue
            && roots[r.rawValue] == cls { return true }
        return false
    }

    /// `setFormat:`: the shape `basicNew` gives the class's instances (Docs/VM.md), but not for a class
    /// the VM knows (`isClassTheVMKnows`).
    func setClassFormat(_ cls: Oop, _ format: Oop) -> Oop? {
        guard isPointer(cls), Format.isPointers(formatOf(cls)), numSlotsOf(cls) > ClassLayout.format,
              headerOf(cls) & Header.immutableBit == 0, isSmallInt(format),
              fixedFieldMayHold(cls, ClassLayout.format, format) else { return nil }
        store(cls, ClassLayout.format, format)
        return cls
    }

    /// A closure whose `numArgs` is a SmallInteger has an installed CompiledBlock taking that many
    /// arguments, with no more copied values than the closure holds: `value` activates it unchecked.
    func closureFieldMayHold(_ closure: Oop, _ field: Int, _ value: Oop) -> Bool {
        switch field {
        case ClosureLayout.compiledBlock:
            let numArgs = fetch(closure, ClosureLayout.numArgs)
            if value == nilObj { return numArgs == nilObj }
            return isInstalledBlock(value) && (numArgs == nilObj || numArgs == fetch(value, CodeLayout.numArgs))
                && intValue(fetch(value, CodeLayout.numCopied)) <= numSlotsOf(closure) - ClosureLayout.fixedSize
        case ClosureLayout.numArgs:
            let block = fetch(closure, ClosureLayout.compiledBlock)
            return value == nilObj || (isInstalledBlock(block) && value == fetch(block, CodeLayout.numArgs))
        default:
            return true
        }
    }

    /// A CompiledBlock the installer made (and froze): its fields are what the interpreter expects.
    func isInstalledBlock(_ o: Oop) -> Bool {
        isPointer(o) && classIndexOf(o) == classIndex(.classCompiledBlock) && headerOf(o) & Header.immutableBit != 0
    }

    /// Whether every reference to `old` may become a reference to `new`. The objects the VM names (the
    /// classes it knows, `Processor`, `Smalltalk`, the symbol table, the selectors it sends) keep their
    /// identity, and so does every Symbol; another class gives way only to an object shaped like a class; a binding (an
    /// Association, which literal frames name and the interpreter reads and writes at slot 2) only to an
    /// object with two pointer slots; closures, contexts, processes and semaphores only to objects of
    /// their own class.
    func mayReplace(_ old: Oop, by new: Oop) -> Bool {
        for r in Root.allCases where r.rawValue < Root.undeclared.rawValue && roots[r.rawValue] == old { return false }
        // A Symbol is its name: the symbol table, selectors and method literals rely on it.
        if isSymbol(old) { return false }
        let h = hashOf(old)
        if h < classTableCount && classTable[h] == old {
            return Format.isPointers(formatOf(new)) && numSlotsOf(new) > ClassLayout.format
                && isSmallInt(fetch(new, ClassLayout.format))
        }
        let index = classIndexOf(old)
        if index == classIndex(.classAssociation) {
            return Format.isPointers(formatOf(new)) && numSlotsOf(new) > AssocLayout.value
        }
        let keepsItsClass = index == classIndex(.classBlockClosure) || index == classIndex(.classContext)
            || index == classIndex(.classProcess) || index == classIndex(.classSemaphore)
        return !keepsItsClass || classIndexOf(new) == index
    }

    /// The instance variables of `cls`'s instances that only the VM assigns (0-based): a closure's block
    /// and argument count, a process's stack, the scheduler's active process, a class's format (which
    /// `setFormat:` checks). A method compiled for such a class may not assign them, as
    /// `instVarAt:put:` may not.
    func vmOwnedFields(of cls: Oop) -> [(index: Int, name: String)] {
        if inherits(cls, from: behaviorClass()) { return [(ClassLayout.format, "format")] }
        if inherits(cls, from: root(.classBlockClosure)) {
            return [(ClosureLayout.compiledBlock, "compiledBlock"), (ClosureLayout.numArgs, "numArgs")]
        }
        if inherits(cls, from: root(.classProcess)) { return [(ProcessLayout.stackId, "stackId")] }
        if inherits(cls, from: root(.classProcessorScheduler)) { return [(SchedulerLayout.activeProcess, "activeProcess")] }
        return []
    }

    /// Behavior, whose instances (through their metaclasses, every class) are classes: the class just
    /// under Object above Metaclass, which the VM names.
    private func behaviorClass() -> Oop {
        var c = root(.classMetaclass)
        for _ in 0..<100 {
            let s = fetchSlot(c, ClassLayout.superclass)
            if s == root(.classObject) || s == nilObj { return c }
            c = s
        }
        return c
    }

    /// The VM-owned field (`vmOwnedFields`) that code assigns, in the method or a block inside it.
    func assignedVMOwnedField(_ bytecodes: [UInt8], _ literals: [Literal],
                              _ owned: [(index: Int, name: String)]) -> String? {
        for ins in Instruction.decode(bytecodes) ?? [] where ins.opcode == .storeInstVar || ins.opcode == .popStoreInstVar {
            if let field = owned.first(where: { $0.index == ins.a }) { return field.name }
        }
        for case .block(let b) in literals {
            if let name = assignedVMOwnedField(b.bytecodes, b.literals, owned) { return name }
        }
        return nil
    }
}
