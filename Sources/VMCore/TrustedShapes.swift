// Objects the VM reads where it finds them without checking them again: a closure's block (every
// `value`), the scheduler's active process, a process's stack, the bindings of literal frames, the
// classes of the class table. The primitives that could change them (`instVarAt:put:`, `become:`)
// keep them what the VM expects, and fail otherwise.

extension VM {
    /// Whether `instVarAt:put:` may store `value` into fixed field `field` (0-based) of `o`.
    func fixedFieldMayHold(_ o: Oop, _ field: Int, _ value: Oop) -> Bool {
        let index = classIndexOf(o)
        if index == classIndex(.classBlockClosure) { return closureFieldMayHold(o, field, value) }
        // Only the VM makes a process's stack or the active process; a program choosing them could
        // make two processes share a stack, or the scheduler run something that is not a process.
        if index == classIndex(.classProcess) { return field != ProcessLayout.stackId || value == nilObj }
        if index == classIndex(.classProcessorScheduler) { return field != SchedulerLayout.activeProcess }
        return true
    }

    /// A closure whose `numArgs` is a SmallInteger has an installed CompiledBlock taking that many
    /// arguments, with no more copied values than the closure holds: `value` activates it unchecked.
    private func closureFieldMayHold(_ closure: Oop, _ field: Int, _ value: Oop) -> Bool {
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
    /// identity; another class gives way only to an object shaped like a class; a binding (an
    /// Association, which literal frames name and the interpreter reads and writes at slot 2) only to an
    /// object with two pointer slots; closures, contexts, processes and semaphores only to objects of
    /// their own class.
    func mayReplace(_ old: Oop, by new: Oop) -> Bool {
        for r in Root.allCases where r.rawValue < Root.undeclared.rawValue && roots[r.rawValue] == old { return false }
        let h = hashOf(old)
        if h < classTableCount && classTable[h] == old {
            return Format.isPointers(formatOf(new)) && numSlotsOf(new) > ClassLayout.format
                && isSmallInt(fetch(new, ClassLayout.format))
        }
        let index = classIndexOf(old)
        if index == classIndex(.classAssociation) {
            return Format.isPointers(formatOf(new)) && numSlotsOf(new) > AssocLayout.value
        }
        let exact: [Root] = [.classBlockClosure, .classContext, .classProcess, .classSemaphore]
        if exact.contains(where: { classIndex($0) == index }) { return classIndexOf(new) == index }
        return true
    }
}
