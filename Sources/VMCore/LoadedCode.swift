// Compiled code read from an image is checked before it can run. The interpreter trusts a method's
// fields, bytecodes and literal frame (`freezeCode`); compiler output earns that trust when it is
// installed (`CodeCheck`), but a record damaged on disk would not. Code that fails keeps its selector,
// class and source (for tools and stacks) and gets code that signals an error instead, so running it
// reports the damage instead of crashing. Its record in the image is left as it is.
//
// The check also gives the code the superinstructions of this VM: the loader undoes the ones it was
// saved with (each replaced the first opcode of its sequence, Superinstructions.swift), checks the
// plain code, and fuses it again.

extension VM {
    /// Checks code the loader has just filled (its bytecodes and literal frame are loaded with it);
    /// damaged code is replaced as above. Answers what was wrong, or nil.
    @discardableResult public func checkLoadedCode(_ code: Oop) -> String? {
        let index = classIndexOf(code)
        let isBlock = index == classIndex(.classCompiledBlock)
        guard isBlock || index == classIndex(.classCompiledMethod) else { return nil }
        guard numSlotsOf(code) >= (isBlock ? CodeLayout.blockSize : CodeLayout.methodSize) else {
            return "compiled code of \(numSlotsOf(code)) slots"
        }
        if let problem = problemInLoadedCode(code, isBlock: isBlock) {
            replaceDamagedCode(code, isBlock: isBlock, problem: problem)
            return problem
        }
        return nil
    }

    /// A closure read from an image whose block is not installed code of its argument count, or whose
    /// copied values it does not hold (a damaged record), gets a nil argument count: `value` then fails
    /// instead of activating it (TrustedShapes.swift). Call it once the closure's block is checked and
    /// frozen (`checkLoadedCode`, `freezeIfCode`). Answers whether the closure was damaged.
    @discardableResult public func checkLoadedClosure(_ closure: Oop) -> Bool {
        guard classIndexOf(closure) == classIndex(.classBlockClosure), numSlotsOf(closure) >= ClosureLayout.fixedSize else { return false }
        // The rule `instVarAt:put:` keeps for the VM's closures: a closure with an argument count has an
        // installed block of that count (a closure without one is never activated).
        guard isSmallInt(fetch(closure, ClosureLayout.numArgs)),
              !closureFieldMayHold(closure, ClosureLayout.compiledBlock, fetch(closure, ClosureLayout.compiledBlock)) else { return false }
        setImageSlot(closure, ClosureLayout.numArgs, nilObj)
        return true
    }

    private func problemInLoadedCode(_ code: Oop, isBlock: Bool) -> String? {
        let bytecodes = fetch(code, CodeLayout.bytecodes), literals = fetch(code, CodeLayout.literals)
        guard isPointer(bytecodes), !isGhost(bytecodes), Format.isBytes(formatOf(bytecodes)) else { return "bytecodes missing" }
        guard isPointer(literals), classIndexOf(literals) == classIndex(.classArray) else { return "literal frame missing" }
        let home = homeMethodClass(of: code)
        let parts = CompiledCodeParts(
            isBlock: isBlock,
            integers: (0..<CodeLayout.methodSize).map { field in
                field < numSlotsOf(code) && isSmallInt(fetch(code, field)) ? intValue(fetch(code, field)) : nil
            },
            bytecodes: (0..<indexableSize(bytecodes)).map { bytesOf(bytecodes)[$0] },
            literals: (0..<indexableSize(literals)).map { literalKind(fetch(literals, $0)) },
            hasHomeMethod: home != nil, homeClassIsClassShaped: isClassShaped(home))
        let (problem, plain) = parts.check()
        if let problem { return problem }
        for slot in CompiledCodeParts.cacheSlots(of: plain) { setImageSlot(literals, slot, nilObj) }
        for (i, byte) in Superinstructions.fuse(plain).enumerated() { bytesOf(bytecodes)[i] = byte }
        return nil
    }

    private func literalKind(_ literal: Oop) -> LiteralKind {
        guard isPointer(literal), !isGhost(literal) else { return .other }
        let index = classIndexOf(literal)
        if index == classIndex(.classByteSymbol) || index == classIndex(.classWideSymbol) { return .symbol }
        if index == classIndex(.classCompiledBlock), numSlotsOf(literal) >= CodeLayout.blockSize,
           case let copied = fetch(literal, CodeLayout.numCopied), isSmallInt(copied),
           (0...Frame.maxLocals).contains(intValue(copied)) {
            return .block(numCopied: intValue(copied))
        }
        // A binding: the code reads and writes its second slot.
        if Format.isPointers(formatOf(literal)) && numSlotsOf(literal) > AssocLayout.value { return .binding }
        return .other
    }

    /// The method class of the method a block belongs to (following at most 255 outer blocks), or nil.
    private func homeMethodClass(of code: Oop) -> Oop? {
        var m = code
        for _ in 0..<256 {
            guard isPointer(m), !isGhost(m) else { return nil }
            let index = classIndexOf(m)
            if index == classIndex(.classCompiledMethod) {
                return numSlotsOf(m) >= CodeLayout.methodSize ? fetch(m, CodeLayout.methodClass) : nil
            }
            guard index == classIndex(.classCompiledBlock), numSlotsOf(m) >= CodeLayout.blockSize else { return nil }
            m = fetch(m, CodeLayout.outerCode)
        }
        return nil
    }

    private func isClassShaped(_ cls: Oop?) -> Bool {
        guard let cls, isPointer(cls), !isGhost(cls) else { return false }
        return Format.isPointers(formatOf(cls)) && numSlotsOf(cls) > ClassLayout.format
    }

    /// Gives damaged code a frame it fits and code that sends `error:` to the receiver (or, if that
    /// message cannot be made, code that answers nil).
    private func replaceDamagedCode(_ code: Oop, isBlock: Bool, problem: String) {
        let copiedValue = isBlock ? fetch(code, CodeLayout.numCopied) : intOop(0)
        let copied = isSmallInt(copiedValue) && (0...Frame.maxLocals).contains(intValue(copiedValue)) ? intValue(copiedValue) : 0
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        let codeH = handle(code)
        let returning = Instruction(offset: 0, opcode: isBlock ? .blockReturnTop : .returnTop)
        var instructions = [Instruction(offset: 0, opcode: .pushNil), returning]
        var literalValues: [Oop] = []
        if let selector = intern("error:"), case let selectorH = handle(selector),
           let text = newString("the compiled code of this method is damaged in the image (\(problem)): compile it again, or roll back") {
            literalValues = [text, handleValue(selectorH), nilObj, nilObj]
            instructions = [Instruction(offset: 0, opcode: .pushSelf), Instruction(offset: 0, opcode: .pushLiteral, a: 0),
                            Instruction(offset: 0, opcode: .send, a: 1, b: 1), returning]
        }
        let literalsH = handle(newArray(literalValues) ?? nilObj)
        var bytes: [UInt8] = []
        for ins in instructions { ins.encode(into: &bytes) }
        guard let bytecodes = newBytes(bytes, root: .classByteArray), handleValue(literalsH) != nilObj else { return }
        let c = handleValue(codeH)
        setImageSlot(c, CodeLayout.bytecodes, bytecodes)
        setImageSlot(c, CodeLayout.literals, handleValue(literalsH))
        setImageSlot(c, CodeLayout.numTemps, intOop(0))
        setImageSlot(c, CodeLayout.frameSize, intOop(copied + 2 + 2))
        if !isSmallInt(fetch(c, CodeLayout.numArgs)) { setImageSlot(c, CodeLayout.numArgs, intOop(0)) }
        if isBlock { setImageSlot(c, CodeLayout.numCopied, intOop(copied)) } else { setImageSlot(c, CodeLayout.primitive, intOop(0)) }
    }
}
