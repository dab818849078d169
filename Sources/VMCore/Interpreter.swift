// The bytecode interpreter: registers in locals, one switch, sends fall through to one activation tail.

/// Frame header slots, relative to the frame pointer (see Docs/VM.md, "Frames").
enum FrameSlot {
    static let caller = 0       // caller's frame address (tagged), or `bottomFrame`
    static let savedIP = 1      // this frame's instruction pointer while it is not running (`ipOop`)
    static let method = 2
    static let context = 3      // married Context or nil
    static let closure = 4      // BlockClosure for block activations, else nil
    static let receiver = 5
    static let resultSlot = 6   // where the return value goes (tagged address; flags below)
    static let bottomFrame: Oop = 1

    /// Flags in the result slot's low bits (the address is 8-aligned and bit 0 makes it a SmallInteger
    /// to the GC): the answer is dropped; the return must take the slow path (a married context to
    /// widow, or the process's bottom frame). Returns test both with one instruction.
    static let discardResult: Oop = 2
    static let slowReturn: Oop = 4
}

/// What a helper outside the loop asks the loop to do next (registers are reloaded from `self`).
enum Next {
    case resume
    case send(selector: Oop, numArgs: Int)
    case superSend(selector: Oop, numArgs: Int, lookupClass: Oop)
    case stop
}

enum PrimitiveOutcome {
    case value(Oop)     // pop receiver and arguments, push this
    case fail
    case next(Next)     // the primitive rearranged frames or stacks itself
}

extension VM {
    /// Runs the active process until the evaluation it belongs to finishes.
    func interpret() {
        if bytecodeStatistics != nil { interpret(observing: CountingDispatch.self) } else { interpret(observing: PlainDispatch.self) }
    }

    /// The interpreter loop; `Observer` decides at compile time whether bytecodes are counted.
    private func interpret<Observer: DispatchObserver>(observing: Observer.Type) {
        let nilO = nilObj, trueO = trueObj, falseO = falseObj
        var sp = self.sp
        var fp = self.hdr
        var lits = words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1
        var rcvr = fp[FrameSlot.receiver]
        var ip = ipPointer(fp[FrameSlot.savedIP])
        loopStackLimit = stacks[activeStackIndex].limit
        // Kernel classes keep their class indices (only classes made since the last commit move).
        blockClosureIndex = classIndex(.classBlockClosure)
        arrayIndex = arrayClassIndex
        byteStringIndex = classIndex(.classByteString)

        // Work requested by a helper, performed at the top of the next iteration.
        var pending: Next? = nil

        while true {
            var selector: Oop = 0
            var nargs = 0
            var newMethod: Oop = 0
            var arithmeticSend = false

            if let work = pending {
                pending = nil
                if case .stop = work { return }
                sp = self.sp; fp = self.hdr
                lits = words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1
                rcvr = fp[FrameSlot.receiver]
                ip = ipPointer(fp[FrameSlot.savedIP])
                loopStackLimit = stacks[activeStackIndex].limit
                switch work {
                case .resume, .stop: continue
                case .send(let s, let n):
                    selector = s; nargs = n
                    (newMethod, sp, nargs) = findMethod(classIndexOf(sp[-n]), s, sp, nargs)
                    if newMethod == 0 { pending = .stop; self.sp = sp; continue }
                case .superSend(let s, let n, let cls):
                    selector = s; nargs = n
                    (newMethod, sp, nargs) = findMethod(from: cls, s, sp, nargs)
                    if newMethod == 0 { pending = .stop; self.sp = sp; continue }
                }
            } else {
                // Bytecodes were verified when installed: every byte at an instruction start is an Opcode.
                let op = unsafeBitCast(ip.pointee, to: Opcode.self)
                if Observer.counts { bytecodeStatistics.unsafelyUnwrapped.record(op, at: ip) }
                switch op {
                case .pushSelf: sp += 1; sp.pointee = rcvr; ip += 1; continue
                case .pushNil: sp += 1; sp.pointee = nilO; ip += 1; continue
                case .pushTrue: sp += 1; sp.pointee = trueO; ip += 1; continue
                case .pushFalse: sp += 1; sp.pointee = falseO; ip += 1; continue
                case .pushThisContext:
                    fp[FrameSlot.savedIP] = ipOop(ip + 1)
                    let ctx = materialize(fp)
                    sp += 1; sp.pointee = ctx; ip += 1; continue
                case .floatBlock:
                    // Float statements in doubles (FloatBlocks.swift), or on to the bytecodes after it.
                    ip = runFloatBlock(ip, fp); continue
                case .pushInt8:
                    sp += 1; sp.pointee = intOop(Int(Int8(bitPattern: ip[1]))); ip += 2; continue
                case .pushTemp:
                    sp += 1; sp.pointee = fp[Int(Int8(bitPattern: ip[1]))]; ip += 2; continue
                case .storeTemp:
                    fp[Int(Int8(bitPattern: ip[1]))] = sp.pointee; ip += 2; continue
                case .popStoreTemp:
                    fp[Int(Int8(bitPattern: ip[1]))] = sp.pointee; sp -= 1; ip += 2; continue
                case .pushInstVar, .storeInstVar, .popStoreInstVar:
                    let index = Int(ip[1])
                    guard hasInstVar(rcvr, index) else {
                        pending = badInstanceVariable(fp, ip, sp); continue
                    }
                    if op == .pushInstVar { sp += 1; sp.pointee = fetch(rcvr, index) }
                    else { store(rcvr, index, sp.pointee); if op == .popStoreInstVar { sp -= 1 } }
                    ip += 2; continue
                case .pushLiteral:
                    sp += 1; sp.pointee = lits[Int(ip[1]) | Int(ip[2]) << 8]; ip += 3; continue
                case .pushGlobal:
                    sp += 1; sp.pointee = fetch(lits[Int(ip[1]) | Int(ip[2]) << 8], AssocLayout.value); ip += 3; continue
                case .storeGlobal:
                    store(lits[Int(ip[1]) | Int(ip[2]) << 8], AssocLayout.value, sp.pointee); ip += 3; continue
                case .popStoreGlobal:
                    store(lits[Int(ip[1]) | Int(ip[2]) << 8], AssocLayout.value, sp.pointee); sp -= 1; ip += 3; continue
                case .pushRemoteTemp:
                    sp += 1; sp.pointee = fetch(fp[Int(Int8(bitPattern: ip[2]))], Int(ip[1])); ip += 3; continue
                case .storeRemoteTemp:
                    store(fp[Int(Int8(bitPattern: ip[2]))], Int(ip[1]), sp.pointee); ip += 3; continue
                case .popStoreRemoteTemp:
                    store(fp[Int(Int8(bitPattern: ip[2]))], Int(ip[1]), sp.pointee); sp -= 1; ip += 3; continue
                case .pushNewArray:
                    guard let a = newArray(Int(ip[1])) else { pending = outOfMemory(fp, ip, sp); continue }
                    sp += 1; sp.pointee = a; ip += 2; continue
                case .popIntoNewArray:
                    let n = Int(ip[1]) | Int(ip[2]) << 8
                    guard let a = newArray(n) else { pending = outOfMemory(fp, ip, sp); continue }
                    for i in 0..<n { store(a, i, sp[i - n + 1]) }
                    sp -= n - 1; sp.pointee = a; ip += 3; continue
                case .pushClosure:
                    let block = lits[Int(ip[1]) | Int(ip[2]) << 8]
                    fp[FrameSlot.savedIP] = ipOop(ip + 3)
                    guard let closure = makeClosure(block, fp, sp) else { pending = outOfMemory(fp, ip, sp); continue }
                    let copied = intValue(fetch(block, CodeLayout.numCopied))
                    sp -= copied - 1; sp.pointee = closure; ip += 3; continue
                case .dup: sp += 1; sp.pointee = sp[-1]; ip += 1; continue
                case .pop: sp -= 1; ip += 1; continue

                // Superinstructions (Superinstructions.swift): the fast path runs the whole sequence;
                // otherwise each behaves like the instruction it replaced.
                case .pushSelfTemp:
                    sp[1] = rcvr; sp[2] = fp[Int(Int8(bitPattern: ip[2]))]; sp += 2; ip += 3; continue
                case .pushTempTemp:
                    sp[1] = fp[Int(Int8(bitPattern: ip[1]))]; sp[2] = fp[Int(Int8(bitPattern: ip[3]))]
                    sp += 2; ip += 4; continue
                case .tempOpTemp:
                    // `a + b`: one dispatch instead of three.
                    let a = fp[Int(Int8(bitPattern: ip[1]))], b = fp[Int(Int8(bitPattern: ip[3]))]
                    if let r = smallNumberArithmetic(a, b, operation: ip[4]) {
                        sp += 1; sp.pointee = r; ip += 5; continue
                    }
                    sp[1] = a; sp[2] = b; sp += 2; ip += 4; continue
                case .tempOpTempStore:
                    // `c := a + b`: one dispatch instead of four (five with a loop's closing jump after it).
                    let a = fp[Int(Int8(bitPattern: ip[1]))], b = fp[Int(Int8(bitPattern: ip[3]))]
                    if let r = smallNumberArithmetic(a, b, operation: ip[4]) {
                        fp[Int(Int8(bitPattern: ip[6]))] = r
                        if ip[5] == Opcode.popStoreTemp.rawValue { ip += 7; continue }
                        if jumpAfterStore(&ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                        continue
                    }
                    sp[1] = a; sp[2] = b; sp += 2; ip += 4; continue
                case .pushInstVarTemp, .instVarAtTemp:
                    let index = Int(ip[1])
                    guard hasInstVar(rcvr, index) else {
                        pending = badInstanceVariable(fp, ip, sp); continue
                    }
                    let r = fetch(rcvr, index), i = fp[Int(Int8(bitPattern: ip[3]))]
                    if op == .instVarAtTemp && isSmallInt(i) && isPointer(r) && classIndexOfHeader(headerOf(r)) == arrayIndex {
                        let k = intValue(i)
                        if k >= 1 && k <= numSlotsOf(r) { sp += 1; sp.pointee = fetch(r, k - 1); ip += 5; continue }
                    }
                    sp[1] = r; sp[2] = i; sp += 2; ip += 4; continue
                // Additions and subtractions of a constant have a case each (the operation compiled in).
                case .addTempInt8:
                    let a = fp[Int(Int8(bitPattern: ip[1]))]
                    if let r = smallIntegerPlus(a, ip[3], negated: false) { sp += 1; sp.pointee = r; ip += 5; continue }
                    sp += 1; sp.pointee = a; ip += 2; continue
                case .subTempInt8:
                    let a = fp[Int(Int8(bitPattern: ip[1]))]
                    if let r = smallIntegerPlus(a, ip[3], negated: true) { sp += 1; sp.pointee = r; ip += 5; continue }
                    sp += 1; sp.pointee = a; ip += 2; continue
                case .addSelfInt8:
                    if let r = smallIntegerPlus(rcvr, ip[2], negated: false) { sp += 1; sp.pointee = r; ip += 4; continue }
                    sp += 1; sp.pointee = rcvr; ip += 1; continue
                case .subSelfInt8:
                    if let r = smallIntegerPlus(rcvr, ip[2], negated: true) { sp += 1; sp.pointee = r; ip += 4; continue }
                    sp += 1; sp.pointee = rcvr; ip += 1; continue
                case .incrementTemp:
                    let a = fp[Int(Int8(bitPattern: ip[1]))]
                    if let r = smallIntegerPlus(a, ip[3], negated: false) {
                        fp[Int(Int8(bitPattern: ip[6]))] = r
                        if ip[5] != Opcode.popStoreTempJump.rawValue { ip += 7; continue }
                        if jumpAfterStore(&ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                        continue
                    }
                    sp += 1; sp.pointee = a; ip += 2; continue
                case .branchSelfInt8:
                    if rcvr & 1 != 0 { branch(rcvr, intOop(Int(Int8(bitPattern: ip[2]))), comparisonAt: 3, &ip); continue }
                    sp += 1; sp.pointee = rcvr; ip += 1; continue
                case .branchTempTemp, .branchTempInt8:
                    let a = fp[Int(Int8(bitPattern: ip[1]))]
                    let b = op == .branchTempTemp ? fp[Int(Int8(bitPattern: ip[3]))] : intOop(Int(Int8(bitPattern: ip[3])))
                    if a & b & 1 != 0 { branch(a, b, comparisonAt: 4, &ip); continue }
                    sp += 1; sp.pointee = a; ip += 2; continue

                case .branchTempNil:
                    // `x isNil ifTrue: …` and the like: a nil test never sends, so this always applies.
                    let isNil = fp[Int(Int8(bitPattern: ip[1]))] == nilO
                    let taken = (isNil == (ip[2] == Opcode.sendIsNil.rawValue)) == (ip[3] == Opcode.jumpIfTrue.rawValue)
                    ip += taken ? 6 + Int(Int16(bitPattern: UInt16(ip[4]) | UInt16(ip[5]) << 8)) : 6
                    continue
                case .pushTempIsNil, .pushTempNotNil:
                    let v = fp[Int(Int8(bitPattern: ip[1]))]
                    sp += 1; sp.pointee = v; ip += 2
                    pushTest((v == nilO) == (op == .pushTempIsNil), &sp, &ip, trueO, falseO); continue
                case .addInt8:
                    if let r = smallIntegerPlus(sp.pointee, ip[1], negated: false) { sp.pointee = r; ip += 3; continue }
                    sp += 1; sp.pointee = intOop(Int(Int8(bitPattern: ip[1]))); ip += 2; continue
                case .subInt8:
                    if let r = smallIntegerPlus(sp.pointee, ip[1], negated: true) { sp.pointee = r; ip += 3; continue }
                    sp += 1; sp.pointee = intOop(Int(Int8(bitPattern: ip[1]))); ip += 2; continue
                // One case per operation, so that each is compiled with its operation known.
                case .addTemp:
                    operateWithTemp(.sendAdd, &sp, &ip, fp); continue
                case .subTemp:
                    operateWithTemp(.sendSub, &sp, &ip, fp); continue
                case .mulTemp:
                    operateWithTemp(.sendMul, &sp, &ip, fp); continue
                case .branchInstVarInt8, .pushInstVarInstVar:
                    let index = Int(ip[1])
                    guard hasInstVar(rcvr, index) else { pending = badInstanceVariable(fp, ip, sp); continue }
                    let a = fetch(rcvr, index)
                    if op == .branchInstVarInt8 {
                        if a & 1 != 0 { branch(a, intOop(Int(Int8(bitPattern: ip[3]))), comparisonAt: 4, &ip); continue }
                    } else if hasInstVar(rcvr, Int(ip[3])) {
                        sp[1] = a; sp[2] = fetch(rcvr, Int(ip[3])); sp += 2; ip += 4; continue
                    }
                    sp += 1; sp.pointee = a; ip += 2; continue
                case .incrementInstVar:
                    let index = Int(ip[1])
                    guard hasInstVar(rcvr, index) else { pending = badInstanceVariable(fp, ip, sp); continue }
                    let v = fetch(rcvr, index)
                    if let r = smallIntegerPlus(v, ip[3], negated: false) { store(rcvr, index, r); ip += 7; continue }
                    sp += 1; sp.pointee = v; ip += 2; continue

                case .returnTop, .returnSelf, .blockReturnTop:
                    let value = op == .returnSelf ? rcvr : sp.pointee
                    let rs = fp[FrameSlot.resultSlot]
                    if rs & (FrameSlot.slowReturn | FrameSlot.discardResult) != 0 {
                        let ctx = fp[FrameSlot.context]
                        if ctx != nilO { widow(ctx) }
                        if fp[FrameSlot.caller] == FrameSlot.bottomFrame {
                            self.sp = sp; self.hdr = fp
                            pending = processFinished(value)
                            continue
                        }
                    }
                    let slot = oopAddress(rs)
                    if rs & FrameSlot.discardResult == 0 { slot.pointee = value }
                    sp = slot
                    fp = oopAddress(fp[FrameSlot.caller])
                    lits = words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1
                    rcvr = fp[FrameSlot.receiver]
                    ip = ipPointer(fp[FrameSlot.savedIP])
                    continue

                case .nonLocalReturnTop:
                    fp[FrameSlot.savedIP] = ipOop(ip + 1)
                    self.sp = sp; self.hdr = fp
                    pending = nonLocalReturn(sp.pointee)
                    continue

                // Every backward jump (loops, `[cond] whileTrue` too) is a safepoint.
                case .popStoreTempJump:
                    fp[Int(Int8(bitPattern: ip[1]))] = sp.pointee; sp -= 1; ip += 2
                    if jump(at: 0, &ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                    continue
                case .jump:
                    if jump(at: 0, &ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                    continue
                case .jumpIfTrue, .jumpIfFalse:
                    let v = sp.pointee
                    // One comparison decides for the Boolean that jumps; the other skips.
                    if v == (op == .jumpIfTrue ? trueO : falseO) {
                        sp -= 1
                        if jump(at: 0, &ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                        continue
                    }
                    if v == (op == .jumpIfTrue ? falseO : trueO) { sp -= 1; ip += 3; continue }
                    // Not a Boolean: ask the object; its answer replaces it and the jump is tried again.
                    selector = roots[Root.selMustBeBoolean.rawValue]; nargs = 0
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(v), selector, sp, nargs)

                case .pushTempSend:
                    let r = fp[Int(Int8(bitPattern: ip[1]))]
                    sp += 1; sp.pointee = r
                    // A unary send to a temporary (`temp getter`, the commonest of all): the inline cache
                    // is read here, a getter answered at once (`t := temp getter` stored without another
                    // dispatch), a method activated without decoding the send again.
                    if ip[5] == 0 {
                        let lit = Int(ip[3]) | Int(ip[4]) << 8
                        if lits[lit + 1] == intOop(classIndexOf(r)) | cacheEpochBits {
                            let entry = lits[lit + 2]
                            if let v = getterValue(entry, r) {
                                if ip[6] == Opcode.popStoreTemp.rawValue {
                                    fp[Int(Int8(bitPattern: ip[7]))] = v; sp -= 1; ip += 8; continue
                                }
                                if ip[6] == Opcode.popStoreTempJump.rawValue {
                                    fp[Int(Int8(bitPattern: ip[7]))] = v; sp -= 1
                                    if jump(at: 8, &ip, &safepointCountdown) { pending = safepoint(fp, ip, sp) }
                                    continue
                                }
                                sp.pointee = v; ip += 6; continue
                            }
                            if !isSmallInt(entry) {
                                ip += 6
                                fp[FrameSlot.savedIP] = ipOop(ip)
                                newMethod = entry
                                break
                            }
                        }
                    }
                    ip += 2
                    fallthrough
                case .send:
                    let lit = Int(ip[1]) | Int(ip[2]) << 8
                    nargs = Int(ip[3])
                    ip += 4
                    let ci = classIndexOf(sp[-nargs])
                    let key = intOop(ci) | cacheEpochBits
                    newMethod = lits[lit + 1] == key ? lits[lit + 2] : 0
                    // A quick method is cached as its primitive number (`inlineCacheEntry`).
                    if isSmallInt(newMethod) {
                        if answerQuickly(newMethod, &sp, nargs, trueO, falseO, nilO) { continue }
                        newMethod = 0       // the receiver lacks the variable: run the method, whose code reports it
                    }
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    if newMethod == 0 {
                        selector = lits[lit]
                        (newMethod, sp, nargs) = findMethod(ci, selector, sp, nargs)
                        if newMethod == 0 { self.sp = sp; pending = .stop; continue }
                        if !sendNotCacheable {
                            let litArray = fetch(fp[FrameSlot.method], CodeLayout.literals)
                            fillInlineCache(litArray, lit + 1, key, inlineCacheEntry(newMethod))
                        }
                    }
                case .superSend:
                    let lit = Int(ip[1]) | Int(ip[2]) << 8
                    nargs = Int(ip[3])
                    ip += 4
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    if lits[lit + 1] == cacheEpochBits | 1 {
                        newMethod = lits[lit + 2]
                    } else {
                        selector = lits[lit]
                        let start = fetch(methodClassOf(fp[FrameSlot.method]), ClassLayout.superclass)
                        (newMethod, sp, nargs) = findMethod(from: start, selector, sp, nargs)
                        if newMethod == 0 { self.sp = sp; pending = .stop; continue }
                        if !sendNotCacheable {
                            let litArray = fetch(fp[FrameSlot.method], CodeLayout.literals)
                            fillInlineCache(litArray, lit + 1, cacheEpochBits | 1, newMethod)
                        }
                    }

                // The commonest SmallInteger operations each have their own case (no second dispatch);
                // comparisons branch directly when a conditional jump follows.
                case .sendAdd:
                    if let r = smallNumberArithmetic(sp[-1], sp.pointee, .sendAdd) { sp -= 1; sp.pointee = r; ip += 1; continue }
                    arithmeticSend = true
                case .sendSub:
                    if let r = smallNumberArithmetic(sp[-1], sp.pointee, .sendSub) { sp -= 1; sp.pointee = r; ip += 1; continue }
                    arithmeticSend = true
                case .sendMul:
                    if let r = smallNumberArithmetic(sp[-1], sp.pointee, .sendMul) { sp -= 1; sp.pointee = r; ip += 1; continue }
                    arithmeticSend = true
                case .sendLess:
                    let a = sp[-1], b = sp.pointee
                    if a & b & 1 != 0 { pushCondition(Int64(bitPattern: a) < Int64(bitPattern: b), &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) < smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendGreater:
                    let a = sp[-1], b = sp.pointee
                    if a & b & 1 != 0 { pushCondition(Int64(bitPattern: a) > Int64(bitPattern: b), &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) > smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendLessEq:
                    let a = sp[-1], b = sp.pointee
                    if a & b & 1 != 0 { pushCondition(Int64(bitPattern: a) <= Int64(bitPattern: b), &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) <= smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendGreaterEq:
                    let a = sp[-1], b = sp.pointee
                    if a & b & 1 != 0 { pushCondition(Int64(bitPattern: a) >= Int64(bitPattern: b), &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) >= smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendEq:
                    let a = sp[-1], b = sp.pointee
                    // Character>>= is identity (Characters are immediate).
                    if a & b & 1 != 0 || a & Tag.mask == Tag.character { pushCondition(a == b, &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) == smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendNotEq:
                    let a = sp[-1], b = sp.pointee
                    // Character>>= is identity (Characters are immediate).
                    if a & b & 1 != 0 || a & Tag.mask == Tag.character { pushCondition(a != b, &sp, &ip, trueO, falseO); continue }
                    if isSmallFloat(a) && isSmallFloat(b) {
                        pushCondition(smallFloatValue(a) != smallFloatValue(b), &sp, &ip, trueO, falseO); continue
                    }
                    arithmeticSend = true
                case .sendDivide, .sendMod, .sendIntDiv, .sendBitAnd, .sendBitOr, .sendBitXor, .sendBitShift:
                    let a = sp[-1], b = sp.pointee
                    if a & b & 1 != 0, let r = smallIntegerArithmetic(op, a, b) {
                        sp -= 1; sp.pointee = r; ip += 1; continue
                    }
                    arithmeticSend = true
                case .sendIdentical, .sendNotIdentical:
                    let a = sp[-1], b = sp.pointee
                    if a == b || !forwardersMayBeReferenced {
                        pushCondition((a == b) == (op == .sendIdentical), &sp, &ip, trueO, falseO); continue
                    }
                    // Unequal oops while forwarders may be referenced: compared out of the loop.
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    self.sp = sp; self.hdr = fp
                    pending = identityThroughForwarders(op == .sendIdentical)
                    continue
                case .sendIsNil:
                    pushTest(sp.pointee == nilO, &sp, &ip, trueO, falseO); continue
                case .sendNotNil:
                    pushTest(sp.pointee != nilO, &sp, &ip, trueO, falseO); continue
                case .sendClass:
                    let o = sp.pointee
                    if !isGhost(o) { sp.pointee = classOf(o); ip += 1; continue }
                    // A ghost: the send loads it (or signals why it cannot be loaded).
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = 0
                    selector = specialSelector(op)
                    (newMethod, sp, nargs) = findMethod(VM.ghostClassIndex, selector, sp, nargs)
                case .sendAt:
                    let r = sp[-1], i = sp.pointee
                    if isSmallInt(i) && isPointer(r) {
                        let index = intValue(i), receiverClass = classIndexOfHeader(headerOf(r))
                        if receiverClass == arrayIndex {
                            if index >= 1 && index <= numSlotsOf(r) { sp -= 1; sp.pointee = fetch(r, index - 1); ip += 1; continue }
                        } else if receiverClass == byteStringIndex {
                            if index >= 1 && index <= byteCountOf(r) {
                                sp -= 1; sp.pointee = charOop(UInt32(bytesOf(r)[index - 1])); ip += 1; continue
                            }
                        }
                    }
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = 1; selector = specialSelector(op)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(r), selector, sp, nargs)
                // The value is not pushed when the store into an Array succeeds.
                case .pushTempAtPutPop:
                    let v = fp[Int(Int8(bitPattern: ip[1]))]
                    if storeIntoArray(sp[-1], at: sp.pointee, v) { sp -= 2; ip += 4; continue }
                    sp += 1; sp.pointee = v; ip += 2; continue
                case .pushFalseAtPutPop:
                    if storeIntoArray(sp[-1], at: sp.pointee, falseO) { sp -= 2; ip += 3; continue }
                    sp += 1; sp.pointee = falseO; ip += 1; continue
                case .sendAtPut, .atPutPop:
                    let r = sp[-2]
                    if storeIntoArray(r, at: sp[-1], sp.pointee) {
                        if op == .atPutPop { sp -= 3; ip += 2 } else { sp[-2] = sp.pointee; sp -= 2; ip += 1 }
                        continue
                    }
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = 2; selector = specialSelector(.sendAtPut)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(r), selector, sp, nargs)
                case .sendValue, .sendValue1:
                    // Closures are activated right here: no lookup, no primitive dispatch.
                    let n = op == .sendValue1 ? 1 : 0
                    let closure = sp[-n]
                    if isPointer(closure) && classIndexOfHeader(headerOf(closure)) == blockClosureIndex
                        && fetch(closure, ClosureLayout.numArgs) == intOop(n),
                       let (newFp, newSP) = pushBlockFrame(closure, nargs: n, sp: sp, fp: fp, limit: loopStackLimit) {
                        fp[FrameSlot.savedIP] = ipOop(ip + 1)
                        fp = newFp
                        sp = newSP
                        lits = words(fetch(fp[FrameSlot.method], CodeLayout.literals)) + 1
                        rcvr = fp[FrameSlot.receiver]
                        ip = ipPointer(fp[FrameSlot.savedIP])
                        safepointCountdown &-= 1
                        if safepointCountdown <= 0 {
                            safepointCountdown = 1024
                            self.sp = sp; self.hdr = fp
                            pending = safepoint()
                        }
                        continue
                    }
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = n
                    selector = specialSelector(op)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(closure), selector, sp, nargs)
                case .sendSize:
                    let r = sp.pointee
                    if isPointer(r) {
                        let receiverClass = classIndexOfHeader(headerOf(r))
                        if receiverClass == arrayIndex { sp.pointee = intOop(numSlotsOf(r)); ip += 1; continue }
                        if receiverClass == byteStringIndex { sp.pointee = intOop(byteCountOf(r)); ip += 1; continue }
                    }
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = 0
                    selector = specialSelector(op)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(sp[-nargs]), selector, sp, nargs)
                }
                if arithmeticSend {
                    // The SmallInteger path was tried in the case: floats get theirs, else a real send.
                    let a = sp[-1], b = sp.pointee
                    if isSmallFloat(a) || isSmallFloat(b), let r = floatArithmetic(op, a, b) {
                        sp -= 1; sp.pointee = r; ip += 1; continue
                    }
                    ip += 1
                    fp[FrameSlot.savedIP] = ipOop(ip)
                    nargs = 1
                    selector = specialSelector(op)
                    (newMethod, sp, nargs) = findMethod(classIndexOf(a), selector, sp, nargs)
                }
                if newMethod == 0 { self.sp = sp; pending = .stop; continue }
            }

            // MARK: Activation tail: run the primitive, or build a frame for the method.
            // Most methods have no primitive: one comparison (a method's slots are trusted, see
            // `freezeCode`, but a non-SmallInteger still never reaches the primitive table).
            let prim = fetch(newMethod, CodeLayout.primitive)
            if _slowPath(prim != intOop(0)) && isSmallInt(prim) {
                if prim >= intOop(QuickMethod.returnSelf) {
                    if answerQuickly(prim, &sp, nargs, trueO, falseO, nilO) { continue }
                } else {
                    self.sp = sp; self.hdr = fp
                    let answer = answerPrimitive(intValue(prim), sp, nargs)
                    if PrimitiveAnswer.isValue(answer) { sp -= nargs; sp.pointee = answer; continue }
                    switch answer == PrimitiveAnswer.failed ? .fail : otherPrimitive(intValue(prim), nargs: nargs, method: newMethod) {
                    case .value(let result):
                        sp -= nargs; sp.pointee = result
                        continue
                    case .fail:
                        // A ghost among the operands: load them and try the primitive again.
                        if let work = retryPrimitiveWithGhosts(intValue(prim), nargs: nargs, method: newMethod) {
                            pending = work
                            continue
                        }
                    case .next(let work):
                        pending = work
                        continue
                    }
                }
            }
            let frameSize = intValue(fetch(newMethod, CodeLayout.frameSize))
            let newFp = sp + 1
            // Compared as addresses: in this large function the generic pointer `>=` may be left out of line.
            if UInt(bitPattern: newFp + Frame.headerSize + frameSize) >= UInt(bitPattern: loopStackLimit) {
                self.sp = sp; self.hdr = fp
                pending = stackOverflow(nargs: nargs)
                continue
            }
            let numTemps = intValue(fetch(newMethod, CodeLayout.numTemps))
            ip = bytesOf(fetch(newMethod, CodeLayout.bytecodes))
            newFp[FrameSlot.caller] = addressOop(fp)
            newFp[FrameSlot.savedIP] = ipOop(ip)
            newFp[FrameSlot.method] = newMethod
            newFp[FrameSlot.context] = nilO
            newFp[FrameSlot.closure] = nilO
            let receiverSlot = sp - nargs
            let receiver = receiverSlot.pointee
            newFp[FrameSlot.receiver] = receiver
            newFp[FrameSlot.resultSlot] = addressOop(receiverSlot)
            sp = newFp + (Frame.headerSize - 1)
            var temps = numTemps
            while temps > 0 { sp += 1; sp.pointee = nilO; temps &-= 1 }
            fp = newFp
            lits = words(fetch(newMethod, CodeLayout.literals)) + 1
            rcvr = receiver
            // Every 1024th activation, and the first after a scavenge became pending, is a safepoint.
            safepointCountdown &-= 1
            if safepointCountdown <= 0 {
                safepointCountdown = 1024
                self.sp = sp; self.hdr = fp
                pending = safepoint()
            }
        }
    }

    /// Whether `o` has a slot at `index` (an instruction's operand, below 256): the header's slot count
    /// tells unless it is the overflow mark, 255.
    @_transparent func hasInstVar(_ o: Oop, _ index: Int) -> Bool {
        isPointer(o) && (UInt64(index) < headerOf(o) >> Header.slotsShift || index < numSlotsOf(o))
    }

    /// After a primitive failed: if ghosts or forwarders are among its receiver and arguments
    /// (`self.sp`), loads the ghosts, replaces the forwarders by their objects and runs it again. Nil
    /// when there were none or it failed again (its fallback code runs); else what the interpreter does
    /// next: go on after its result, or send `objectFault:` when the ghosts cannot be loaded.
    @inline(never)
    func retryPrimitiveWithGhosts(_ n: Int, nargs: Int, method: Oop) -> Next? {
        guard unloadedOperands(sp, nargs) else { return nil }
        let ghosts = ghostOperands(sp, nargs)
        guard ghosts.isEmpty || faultIn(ghosts) else {
            if let (resend, newSP, _) = replaceByResend(sp, nargs, selector: fetch(method, CodeLayout.selector),
                                                           lookupClass: methodClassOf(method)) {
                sp = newSP
                return .send(selector: fetch(resend, CodeLayout.selector), numArgs: 1)
            }
            guard let selector = replaceByObjectFault(sp, nargs) else { return terminateActiveProcess() }
            sp -= nargs - 1
            return .send(selector: selector, numArgs: 1)
        }
        followForwarderOperands(sp, nargs)
        switch primitive(n, nargs: nargs, method: method) {
        case .value(let result):
            sp -= nargs
            sp.pointee = result
            return .resume
        case .fail: return nil
        case .next(let work): return work
        }
    }

    /// Pushes a comparison's Boolean, or, when a forward conditional jump follows, takes or skips
    /// that jump at once (the Boolean is never materialised).
    @_transparent func pushCondition(_ condition: Bool, _ sp: inout UnsafeMutablePointer<Oop>,
                                     _ ip: inout UnsafeMutablePointer<UInt8>, _ trueO: Oop, _ falseO: Oop) {
        let next = ip[1]
        if next == Opcode.jumpIfFalse.rawValue || next == Opcode.jumpIfTrue.rawValue {
            let offset = Int(Int16(bitPattern: UInt16(ip[2]) | UInt16(ip[3]) << 8))
            if offset >= 0 {
                sp -= 2
                ip += condition == (next == Opcode.jumpIfTrue.rawValue) ? 4 + offset : 4
                return
            }
        }
        sp -= 1; sp.pointee = condition ? trueO : falseO; ip += 1
    }

    /// Counts a backward jump; true when this one must stop at a safepoint (every 1024th, or a
    /// scavenge is pending: `gcPending` ends the countdown).
    @_transparent func safepointDue(_ countdown: inout Int) -> Bool {
        countdown &-= 1
        guard countdown <= 0 else { return false }
        countdown = 1024
        return true
    }

    /// Saves the registers and runs the safepoint; what the loop does next.
    @inline(never) func safepoint(_ fp: UnsafeMutablePointer<Oop>, _ ip: UnsafeMutablePointer<UInt8>,
                                  _ sp: UnsafeMutablePointer<Oop>) -> Next {
        fp[FrameSlot.savedIP] = ipOop(ip)
        self.sp = sp; self.hdr = fp
        return safepoint()
    }

    /// Takes the jump instruction `k` bytes after `ip` (its offset counts from its end). True when it
    /// went backward and a safepoint is due.
    @_transparent func jump(at k: Int, _ ip: inout UnsafeMutablePointer<UInt8>, _ countdown: inout Int) -> Bool {
        let offset = jumpOffset(ip + k + 1)
        ip += k + 3 + offset
        return offset < 0 && safepointDue(&countdown)
    }

    /// The signed 16-bit little-endian jump offset at `p`, read as one word (assembled from its two bytes,
    /// it took five more instructions in `jump(at:)`).
    @_transparent func jumpOffset(_ p: UnsafeMutablePointer<UInt8>) -> Int {
        Int(Int16(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: Int16.self)))
    }

    /// A fused store whose `popStoreTemp` was itself fused with the `jump` after it (`popStoreTempJump`,
    /// 5 bytes in): takes that jump (a loop's closing jump, usually) without dispatching it.
    @_transparent func jumpAfterStore(_ ip: inout UnsafeMutablePointer<UInt8>, _ countdown: inout Int) -> Bool {
        jump(at: 7, &ip, &countdown)
    }

    /// `pushCondition` for a test of one value (`isNil`, `notNil`): it replaces the value.
    @_transparent func pushTest(_ condition: Bool, _ sp: inout UnsafeMutablePointer<Oop>,
                                _ ip: inout UnsafeMutablePointer<UInt8>, _ trueO: Oop, _ falseO: Oop) {
        sp += 1
        pushCondition(condition, &sp, &ip, trueO, falseO)
    }

    @inline(__always) var arrayClassIndex: Int { hashOf(roots[Root.classArray.rawValue]) }

    @inline(__always) func specialSelector(_ op: Opcode) -> Oop {
        fetch(roots[Root.specialSelectors.rawValue], Int(op.rawValue - Opcode.sendAdd.rawValue))
    }
}
