// Turning compiler output (MethodDescription) into CompiledMethod objects, and method dictionaries.

import BigInt

extension VM {
    /// Builds a CompiledMethod for `methodClass`; nil (with `lastInstallError`) if the code is malformed.
    public func makeCompiledMethod(_ d: MethodDescription, methodClass: Oop) -> Oop? {
        lastInstallError = nil
        guard d.primitive >= 0 && d.primitive < QuickMethod.returnSelf else {
            lastInstallError = "invalid compiled code: primitive \(d.primitive) (explicit primitives are 1-255)"
            return nil
        }
        guard validate(bytecodes: d.bytecodes, literals: d.literals, numArgs: d.numArgs,
                       locals: d.numTemps, maxStack: d.maxStack, isBlock: false) else { return nil }
        let owned = vmOwnedFields(of: methodClass)
        if !owned.isEmpty, let field = assignedVMOwnedField(d.bytecodes, d.literals, owned) {
            lastInstallError = "'\(field)' is assigned by the virtual machine only"
            return nil
        }
        let primitive = d.primitive != 0 ? d.primitive
            : QuickMethod.number(for: d.bytecodes, numArgs: d.numArgs, numTemps: d.numTemps)
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        let classH = handle(methodClass)
        guard let method = instantiate(root(.classCompiledMethod)) else { return nil }
        let methodH = handle(method)
        guard let lits = makeLiterals(d.literals, methodClass: classH, outer: methodH) else { return nil }
        let litsH = handle(lits)
        guard let bytes = newBytes(Superinstructions.fuse(d.bytecodes), root: .classByteArray),
              let lines = newBytes(lineTable(d.lines, count: d.bytecodes.count), root: .classByteArray) else { return nil }
        let bytesH = handle(bytes), linesH = handle(lines)
        guard let sel = intern(d.selector), let src = newString(d.source) else { return nil }
        let selH = handle(sel), srcH = handle(src)
        let m = handleValue(methodH)
        store(m, CodeLayout.bytecodes, handleValue(bytesH))
        store(m, CodeLayout.literals, handleValue(litsH))
        store(m, CodeLayout.numArgs, intOop(d.numArgs))
        store(m, CodeLayout.numTemps, intOop(d.numTemps))
        store(m, CodeLayout.frameSize, intOop(d.numTemps + d.maxStack + 2))
        store(m, CodeLayout.lines, handleValue(linesH))
        store(m, CodeLayout.primitive, intOop(primitive))
        store(m, CodeLayout.selector, handleValue(selH))
        store(m, CodeLayout.methodClass, handleValue(classH))
        store(m, CodeLayout.sourceCode, handleValue(srcH))
        if !d.pragmas.isEmpty {
            guard let pragmas = makePragmas(d.pragmas, methodClass: classH, outer: methodH) else { return nil }
            store(handleValue(methodH), CodeLayout.pragmas, pragmas)
        }
        freezeCode(handleValue(methodH))
        return handleValue(methodH)
    }

    private func lineTable(_ lines: [Int], count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for i in 0..<count {
            let l = i < lines.count ? min(lines[i], 0xFFFF) : 0
            out.append(UInt8(l & 0xFF)); out.append(UInt8(l >> 8))
        }
        return out
    }

    private func makePragmas(_ pragmas: [PragmaDescription], methodClass: Int, outer: Int) -> Oop? {
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        var hs: [Int] = []
        for p in pragmas {
            guard let sel = intern(p.selector) else { return nil }
            let selH = handle(sel)
            guard let args = makeLiterals(p.arguments, methodClass: methodClass, outer: outer) else { return nil }
            let argsH = handle(args)
            guard let pair = newArray([handleValue(selH), handleValue(argsH)]) else { return nil }
            hs.append(handle(pair))
        }
        return newArray(hs.map { handleValue($0) })
    }

    private func makeLiterals(_ literals: [Literal], methodClass: Int, outer: Int) -> Oop? {
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        var hs: [Int] = []
        for lit in literals {
            guard let o = makeLiteral(lit, methodClass: methodClass, outer: outer) else { return nil }
            hs.append(handle(o))
        }
        return newArray(hs.map { handleValue($0) })
    }

    private func makeLiteral(_ lit: Literal, methodClass: Int, outer: Int) -> Oop? {
        switch lit {
        case .nil, .cacheSlot: return nilObj
        case .true: return trueObj
        case .false: return falseObj
        case .integer(let v): return newInteger(v)
        case .largeInteger(let digits): return BigInt(digits).flatMap { newInteger($0) }
        case .float(let d): return newFloat(d)
        case .character(let c): return charOop(c)
        case .string(let s): return newString(s)
        case .symbol(let s): return intern(s)
        case .byteArray(let b): return newBytes(b, root: .classByteArray)
        case .array(let elements): return makeLiterals(elements, methodClass: methodClass, outer: outer)
        case .binding(let name): return resolveBinding(name, in: handleValue(methodClass))
        case .scaledDecimal(let n, let d, let scale): return makeScaledDecimal(n, d, scale)
        case .block(let b): return makeCompiledBlock(b, methodClass: methodClass, outer: outer)
        }
    }

    private func makeCompiledBlock(_ b: BlockDescription, methodClass: Int, outer: Int) -> Oop? {
        guard validate(bytecodes: b.bytecodes, literals: b.literals, numArgs: b.numArgs,
                       locals: b.numCopied + b.numTemps, maxStack: b.maxStack, isBlock: true) else { return nil }
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        guard let block = instantiate(root(.classCompiledBlock)) else { return nil }
        let blockH = handle(block)
        guard let lits = makeLiterals(b.literals, methodClass: methodClass, outer: blockH) else { return nil }
        let litsH = handle(lits)
        guard let bytes = newBytes(Superinstructions.fuse(b.bytecodes), root: .classByteArray) else { return nil }
        let bytesH = handle(bytes)
        guard let lines = newBytes(lineTable(b.lines, count: b.bytecodes.count), root: .classByteArray) else { return nil }
        let blk = handleValue(blockH)
        store(blk, CodeLayout.bytecodes, handleValue(bytesH))
        store(blk, CodeLayout.literals, handleValue(litsH))
        store(blk, CodeLayout.numArgs, intOop(b.numArgs))
        store(blk, CodeLayout.numTemps, intOop(b.numTemps))
        store(blk, CodeLayout.frameSize, intOop(b.numCopied + b.numTemps + b.maxStack + 2))
        store(blk, CodeLayout.lines, lines)
        store(blk, CodeLayout.numCopied, intOop(b.numCopied))
        store(blk, CodeLayout.needsHomeContext, bool(b.needsHomeContext))
        store(blk, CodeLayout.outerCode, handleValue(outer))
        freezeCode(blk)
        return blk
    }

    /// A ScaledDecimal literal: sets the instance variables the kernel's class defines
    /// (`fraction`/`scale`, or `numerator`/`denominator`/`scale`).
    private func makeScaledDecimal(_ n: String, _ d: String, _ scale: Int) -> Oop? {
        guard let num = BigInt(n), let den = BigInt(d), den != 0 else { return nil }
        let g = num.greatestCommonDivisor(with: den)
        let (rn, rd) = (num / g, den / g)
        guard let sdClass = globalValue("ScaledDecimal") else { return nil }
        let names = allInstVarNames(sdClass)
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        // The names come from the class's instance variables and the size from its format: a program
        // may have changed either (`setInstVarNames:`, `setFormat:`).
        guard let sd = instantiate(sdClass),
              names.count <= numSlotsOf(sd), Format.isPointers(formatOf(sd)) else { return nil }
        let sdH = handle(sd)
        if let fi = names.firstIndex(of: "fraction") {
            var value: Oop
            if rd == 1 { guard let v = newInteger(rn) else { return nil }; value = v }
            else {
                guard let fracClass = globalValue("Fraction"), let f = instantiate(fracClass),
                      Format.isPointers(formatOf(f)), numSlotsOf(f) >= 2 else { return nil }
                let fH = handle(f)
                guard let nO = newInteger(rn) else { return nil }
                store(handleValue(fH), 0, nO)
                guard let dO = newInteger(rd) else { return nil }
                store(handleValue(fH), 1, dO)
                value = handleValue(fH)
            }
            store(handleValue(sdH), fi, value)
        } else if let ni = names.firstIndex(of: "numerator"), let di = names.firstIndex(of: "denominator") {
            guard let nO = newInteger(rn) else { return nil }
            store(handleValue(sdH), ni, nO)
            guard let dO = newInteger(rd) else { return nil }
            store(handleValue(sdH), di, dO)
        }
        if let si = names.firstIndex(of: "scale") { store(handleValue(sdH), si, intOop(scale)) }
        return handleValue(sdH)
    }

    /// Adds a method to a class's method dictionary and invalidates caches.
    public func installMethod(_ method: Oop, selector: Oop, in cls: Oop) {
        let mark = handleMark
        let clsH = handle(cls), selH = handle(selector), mH = handle(method)
        defer { releaseHandles(to: mark) }
        guard let assoc = newAssociation(handleValue(selH), handleValue(mH)) else { return }
        identityDictionaryAdd(fetchSlot(handleValue(clsH), ClassLayout.methodDict), assoc)
        invalidateMethodCaches()
    }

    /// Compiled code, its bytecodes and its literal frame are read-only to Smalltalk: the interpreter
    /// trusts them (only the VM's inline caches write the literal frame).
    private func freezeCode(_ code: Oop) {
        setHeaderBits(code, Header.immutableBit)
        setHeaderBits(fetch(code, CodeLayout.bytecodes), Header.immutableBit)
        setHeaderBits(fetch(code, CodeLayout.literals), Header.immutableBit)
    }

    /// Compiled code loaded from an image is read-only as compiled code is (`freezeCode`; an image does
    /// not keep the bit). The loader calls it once the code, its bytecodes and literal frame are filled.
    public func freezeIfCode(_ o: Oop) {
        let index = classIndexOf(o)
        let isBlock = index == classIndex(.classCompiledBlock)
        // Code with too few fields for the interpreter is not frozen, so never run: a method dictionary
        // holding it does not understand its selector (`lookup`), and a closure of it fails `value`.
        guard isBlock || index == classIndex(.classCompiledMethod),
              numSlotsOf(o) >= (isBlock ? CodeLayout.blockSize : CodeLayout.methodSize) else { return }
        setHeaderBits(o, Header.immutableBit)
        for part in [fetch(o, CodeLayout.bytecodes), fetch(o, CodeLayout.literals)].map(followed) where isPointer(part) && !isGhost(part) && part != nilObj {
            setHeaderBits(part, Header.immutableBit)
        }
    }

    // MARK: Verification (no compiler output may crash the interpreter)

    private func validate(bytecodes: [UInt8], literals: [Literal], numArgs: Int, locals: Int, maxStack: Int,
                          isBlock: Bool) -> Bool {
        func fail(_ why: String) -> Bool { lastInstallError = "invalid compiled code: \(why)"; return false }
        if let code = Instruction.decode(bytecodes), let fused = code.first(where: \.opcode.isSuperinstruction) {
            return fail("superinstruction \(fused.opcode) in compiler output")
        }
        if let problem = CodeCheck.problem(in: bytecodes, literals: CodeCheck.kinds(of: literals), numArgs: numArgs, locals: locals,
                                           maxStack: maxStack, isBlock: isBlock) {
            return fail(problem)
        }
        return true
    }
}

