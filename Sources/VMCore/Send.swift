// Method lookup (global cache, method dictionaries), doesNotUnderstand:, closures and contexts.

extension VM {
    /// Finds the method for `selector` in the class with this index (global cache first). On failure the
    /// stack is rewritten for `doesNotUnderstand:` (and `sendNotCacheable` set). Registers travel by value,
    /// so the interpreter can keep them in machine registers. The method is 0 when nothing can be sent.
    @inline(__always)
    func findMethod(_ classIndex: Int, _ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        sendNotCacheable = false
        let entry = methodCache + (((classIndex &* 31) ^ hashOf(selector)) & (VM.methodCacheEntries - 1)) * 3
        if entry[0] == selector && entry[1] == UInt64(classIndex) | cacheEpochBits { return (entry[2], sp, nargs) }
        return findMethodSlowly(classIndex, selector, sp, nargs)
    }

    @inline(never)
    private func findMethodSlowly(_ classIndex: Int, _ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        if classIndex == VM.ghostClassIndex { return findMethodForGhost(selector, sp, nargs) }
        if classIndex == VM.forwarderClassIndex { return findMethodForForwarder(selector, sp, nargs) }
        let failures = faultFailures
        if let m = lookup(classTable[classIndex], selector) {
            let entry = methodCache + (((classIndex &* 31) ^ hashOf(selector)) & (VM.methodCacheEntries - 1)) * 3
            entry[0] = selector; entry[1] = UInt64(classIndex) | cacheEpochBits; entry[2] = m
            return (m, sp, nargs)
        }
        if faultFailures != failures { return objectFault(sp, nargs, resending: selector) }
        return doesNotUnderstand(classTable[classIndex], selector, sp, nargs)
    }

    /// A send to a ghost: load it, then look the message up in its real class. The send site saw the
    /// ghost's class index, so it must not cache the answer.
    private func findMethodForGhost(_ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        let receiver = sp[-nargs]
        guard faultIn([receiver]) else { return objectFault(sp, nargs, resending: selector) }
        // A small ghost is a forwarder now: the method runs with its object as receiver.
        sp[-nargs] = followed(receiver)
        let found = findMethod(classIndexOf(sp[-nargs]), selector, sp, nargs)
        sendNotCacheable = true
        return found
    }

    /// A send to a forwarder: its object replaces it as receiver and the message is looked up in its
    /// class. The send site saw the forwarder's class index, so it must not cache the answer.
    private func findMethodForForwarder(_ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        sp[-nargs] = fetch(sp[-nargs], 0)
        let found = findMethod(classIndexOf(sp[-nargs]), selector, sp, nargs)
        sendNotCacheable = true
        return found
    }

    /// Lookup starting at a given class (super sends, `perform:withArguments:inSuperclass:`).
    @inline(never)
    func findMethod(from cls: Oop, _ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        sendNotCacheable = false
        let failures = faultFailures
        guard let receiver = loaded(sp[-nargs]) else { return objectFault(sp, nargs, resending: selector, from: cls) }
        sp[-nargs] = receiver
        if let m = lookup(cls, selector) { return (m, sp, nargs) }
        if faultFailures != failures { return objectFault(sp, nargs, resending: selector, from: cls) }
        return doesNotUnderstand(cls, selector, sp, nargs)
    }

    /// Looks `selector` up from the class `start` up its superclasses. Classes, method dictionaries and
    /// the method found are loaded if they are ghosts; nil if the selector is not found or one of them
    /// cannot be loaded (then `faultFailures` has grown).
    public func lookup(_ start: Oop, _ selector: Oop) -> Oop? {
        var cls = start
        var depth = 0
        while cls != nilObj && cls != 0 && isPointer(cls) && depth < 10_000 {
            guard let loadedClass = loaded(cls), Format.isPointers(formatOf(loadedClass)),
                  numSlotsOf(loadedClass) > ClassLayout.methodDict else { return nil }
            cls = loadedClass
            let dict = fetch(cls, ClassLayout.methodDict)
            if isPointer(dict) && dict != nilObj, let assoc = identityDictionaryLookup(dict, selector) {
                // Anything but an installed CompiledMethod in a method dictionary is not understood: only
                // the installer's validated code is frozen (a `CompiledMethod new` or a copy is not).
                guard isPointer(fetch(assoc, AssocLayout.value)), let method = loaded(fetch(assoc, AssocLayout.value)),
                      classIndexOf(method) == classIndex(.classCompiledMethod),
                      headerOf(method) & Header.immutableBit != 0 else { return nil }
                if method != fetch(assoc, AssocLayout.value) { words(assoc)[1 + AssocLayout.value] = method }
                return method
            }
            let superclass = fetch(cls, ClassLayout.superclass)
            if isForwarder(superclass) { words(cls)[1 + ClassLayout.superclass] = fetch(superclass, 0) }
            cls = followed(superclass)
            depth += 1
        }
        return nil
    }

    /// A ghost the send of `selector` needs cannot be loaded: the send is made again after a full
    /// collection if it did not fit (ObjectFaultResend.swift), else it becomes `Processor objectFault:
    /// why` (the kernel signals ObjectFault, an Error).
    private func objectFault(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int, resending selector: Oop, from cls: Oop = 0)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        if let resend = replaceByResend(sp, nargs, selector: selector, lookupClass: cls) { return resend }
        self.sp = sp
        let selector = replaceByObjectFault(sp, nargs)
        guard let selector, let handler = lookup(classOf(root(.processor)), selector) else {
            if selector != nil { writeErr("VM: \(faultError ?? "an object of the image cannot be loaded")\n") }
            evalFailed = true; evalDone = true
            return (0, sp, nargs)
        }
        sendNotCacheable = true
        return (handler, sp - nargs + 1, 1)
    }

    /// Replaces a send's receiver and arguments on the stack by `Processor` and a String saying why a
    /// ghost could not be loaded; answers the selector `objectFault:`. Nil, after saying why on stderr,
    /// when out of memory or when handling this fault would nest too deep (ObjectFaultNesting.swift):
    /// the caller stops the process.
    func replaceByObjectFault(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int) -> Oop? {
        let why = faultError ?? "an object of the image cannot be loaded"
        guard let selector = intern("objectFault:"), let text = newString(why) else {
            writeErr("VM: \(why)\nVM: out of memory while reporting it\n")
            return nil
        }
        guard admitObjectFault(receiverSlot: sp - nargs, selector: selector) else {
            writeErr("VM: \(why)\nVM: the code that handles this error cannot be loaded either "
                     + "(\(VM.objectFaultNestingLimit) object faults nested): the process is stopped\n")
            return nil
        }
        sp[-nargs] = root(.processor)
        sp[1 - nargs] = text
        return selector
    }

    /// Replaces the arguments on the stack by a Message and answers `doesNotUnderstand:`, looked up
    /// from `cls`, else (a super send from a class at the top of its chain, whose superclass is nil)
    /// from the receiver's class.
    private func doesNotUnderstand(_ cls: Oop, _ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int) {
        let dnu = root(.selDoesNotUnderstand)
        guard let handler = lookup(cls, dnu) ?? lookup(classOf(sp[-nargs]), dnu), selector != dnu else {
            writeErr("VM: \(stringValue(selector) ?? "?") not understood and no doesNotUnderstand: handler\n")
            evalFailed = true; evalDone = true
            return (0, sp, nargs)
        }
        guard let message = newMessage(selector, sp, nargs, lookupClass: cls) else {
            writeErr("VM: out of memory while sending doesNotUnderstand:\n")
            evalFailed = true; evalDone = true
            return (0, sp, nargs)
        }
        let newSP = sp - nargs + 1
        newSP.pointee = message
        sendNotCacheable = true
        return (handler, newSP, 1)
    }

    /// A Message of `selector` with the top `nargs` stack slots as its arguments (the stack is `sp`,
    /// whose slots stay roots while it allocates); nil when out of memory.
    func newMessage(_ selector: Oop, _ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int, lookupClass: Oop) -> Oop? {
        self.sp = sp
        guard let args = newArray(nargs), let message = instantiate(root(.classMessage)) else { return nil }
        for i in 0..<nargs { store(args, i, sp[i - nargs + 1]) }
        store(message, MessageLayout.selector, selector)
        store(message, MessageLayout.arguments, args)
        store(message, MessageLayout.lookupClass, lookupClass)
        return message
    }

    /// The class a method (or the method a block belongs to) was compiled in.
    func methodClassOf(_ code: Oop) -> Oop {
        var m = code
        while classIndexOf(m) == classIndex(.classCompiledBlock) { m = fetch(m, CodeLayout.outerCode) }
        return fetch(m, CodeLayout.methodClass)
    }

    // MARK: Closures

    /// A BlockClosure for the CompiledBlock; its copied values are the top `numCopied` stack slots.
    func makeClosure(_ block: Oop, _ fp: UnsafeMutablePointer<UInt64>, _ sp: UnsafeMutablePointer<UInt64>) -> Oop? {
        let copied = intValue(fetch(block, CodeLayout.numCopied))
        var outer = nilObj
        if fetch(block, CodeLayout.needsHomeContext) == trueObj {
            let closure = fp[FrameSlot.closure]
            outer = closure == nilObj ? materialize(fp) : fetch(closure, ClosureLayout.outerContext)
        }
        let h = handleMark
        let outerH = handle(outer), blockH = handle(block)
        let index = classIndex(.classBlockClosure)
        guard let c = allocate(classIndex: index, format: Format.fixedIndexable,
                               numSlots: ClosureLayout.fixedSize + copied, fill: nilObj) else { return nil }
        store(c, ClosureLayout.outerContext, handleValue(outerH))
        store(c, ClosureLayout.compiledBlock, handleValue(blockH))
        store(c, ClosureLayout.numArgs, fetch(handleValue(blockH), CodeLayout.numArgs))
        store(c, ClosureLayout.receiver, fp[FrameSlot.receiver])
        for i in 0..<copied { store(c, ClosureLayout.fixedSize + i, sp[i - copied + 1]) }
        releaseHandles(to: h)
        return c
    }

    /// Activates a closure whose receiver slot and arguments are on the stack (`self.sp`). Only
    /// primitives call it, while the interpreter runs: `loopStackLimit` is the active stack's limit.
    func activateBlock(_ closure: Oop, nargs: Int) -> PrimitiveOutcome {
        guard fetch(closure, ClosureLayout.numArgs) == intOop(nargs) else { return .fail }
        guard let (newFp, newSP) = pushBlockFrame(closure, nargs: nargs, sp: sp, fp: hdr, limit: loopStackLimit) else {
            return .next(stackOverflow(nargs: nargs))
        }
        sp = newSP
        hdr = newFp
        return .next(.resume)
    }

    /// Builds the frame of a closure activation above `sp` (receiver slot and arguments already pushed,
    /// argument count already checked): answers the new frame and stack pointer, or nil if it does not fit.
    @inline(__always)
    func pushBlockFrame(_ closure: Oop, nargs: Int, sp: UnsafeMutablePointer<UInt64>, fp: UnsafeMutablePointer<UInt64>,
                        limit: UnsafeMutablePointer<UInt64>) -> (UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt64>)? {
        let block = fetch(closure, ClosureLayout.compiledBlock)
        let copied = intValue(fetch(block, CodeLayout.numCopied))
        let temps = intValue(fetch(block, CodeLayout.numTemps))
        let newFp = sp + 1
        if newFp + Frame.headerSize + intValue(fetch(block, CodeLayout.frameSize)) + copied >= limit { return nil }
        newFp[FrameSlot.caller] = addressOop(fp)
        newFp[FrameSlot.savedIP] = ipOop(bytesOf(fetch(block, CodeLayout.bytecodes)))
        newFp[FrameSlot.method] = block
        newFp[FrameSlot.context] = nilObj
        newFp[FrameSlot.closure] = closure
        newFp[FrameSlot.receiver] = fetch(closure, ClosureLayout.receiver)
        newFp[FrameSlot.resultSlot] = addressOop(sp - nargs)
        var p = newFp + Frame.headerSize
        for i in 0..<copied { p.pointee = fetch(closure, ClosureLayout.fixedSize + i); p += 1 }
        for _ in 0..<temps { p.pointee = nilObj; p += 1 }
        return (newFp, p - 1)
    }

    // MARK: Contexts

    /// The Context married to this frame (made on first request).
    func materialize(_ frame: UnsafeMutablePointer<UInt64>) -> Oop {
        let existing = frame[FrameSlot.context]
        if existing != nilObj { return existing }
        guard let ctx = allocate(classIndex: classIndex(.classContext), format: Format.fixed,
                                 numSlots: ContextLayout.size, fill: nilObj) else { return nilObj }
        store(ctx, ContextLayout.method, frame[FrameSlot.method])
        store(ctx, ContextLayout.closureOrNil, frame[FrameSlot.closure])
        store(ctx, ContextLayout.receiver, frame[FrameSlot.receiver])
        store(ctx, ContextLayout.frame, addressOop(frame))
        frame[FrameSlot.context] = ctx
        frame[FrameSlot.resultSlot] |= FrameSlot.slowReturn
        return ctx
    }

    /// The frame is gone: its context becomes dead.
    @inline(__always) func widow(_ ctx: Oop) {
        store(ctx, ContextLayout.frame, nilObj)
        store(ctx, ContextLayout.pc, nilObj)
        store(ctx, ContextLayout.sender, nilObj)
    }

    /// The live frame of a married context, or nil. The frame must lie in a live stack and name this
    /// context, so a context whose fields a program changed can never point the VM at wild memory.
    func frameOf(_ ctx: Oop) -> UnsafeMutablePointer<UInt64>? {
        guard isPointer(ctx), classIndexOf(ctx) == classIndex(.classContext) else { return nil }
        let f = fetch(ctx, ContextLayout.frame)
        guard isSmallInt(f) else { return nil }
        let frame = oopAddress(f)
        for s in stacks where s.inUse && frame >= s.base && frame + Frame.headerSize <= s.end {
            return frame[FrameSlot.context] == ctx ? frame : nil
        }
        return nil
    }

    @inline(__always) func callerOf(_ frame: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64>? {
        let c = frame[FrameSlot.caller]
        return c == FrameSlot.bottomFrame ? nil : oopAddress(c)
    }

    func primitiveNumberOf(_ frame: UnsafeMutablePointer<UInt64>) -> Int {
        let m = frame[FrameSlot.method]
        guard classIndexOf(m) == classIndex(.classCompiledMethod) else { return 0 }
        let p = fetch(m, CodeLayout.primitive)
        return isSmallInt(p) ? intValue(p) : 0
    }

    /// Discards frames from `top` down to (not including) `stop`, killing their contexts.
    func discardFrames(from top: UnsafeMutablePointer<UInt64>, to stop: UnsafeMutablePointer<UInt64>?) {
        var f: UnsafeMutablePointer<UInt64>? = top
        while let frame = f, frame != stop {
            let ctx = frame[FrameSlot.context]
            if ctx != nilObj { widow(ctx) }
            f = callerOf(frame)
        }
    }

    /// Pops the frame `frame` (already dead) and delivers `value` to its caller.
    func returnFrom(_ frame: UnsafeMutablePointer<UInt64>, value: Oop) -> Next {
        let ctx = frame[FrameSlot.context]
        if ctx != nilObj { widow(ctx) }
        guard let caller = callerOf(frame) else {
            hdr = frame
            return processFinished(value)
        }
        let rs = frame[FrameSlot.resultSlot]
        let slot = oopAddress(rs)
        if rs & FrameSlot.discardResult == 0 { slot.pointee = value }
        sp = slot
        hdr = caller
        return .resume
    }

    /// `^ value` inside a block: return from the home method, unless it is dead or unwinding is needed.
    func nonLocalReturn(_ value: Oop) -> Next {
        let closure = hdr[FrameSlot.closure]
        let home = closure == nilObj ? nilObj : fetch(closure, ClosureLayout.outerContext)
        let h = handleMark
        _ = handle(value)
        defer { releaseHandles(to: h) }
        guard let homeFrame = frameOf(home) else { return cannotReturn(value) }
        var f: UnsafeMutablePointer<UInt64>? = callerOf(hdr)
        var unwind: UnsafeMutablePointer<UInt64>? = nil
        while let frame = f, frame != homeFrame {
            if unwind == nil && primitiveNumberOf(frame) == 198 { unwind = frame }
            f = callerOf(frame)
        }
        if f == nil { return cannotReturn(value) }     // home is not on this process's stack
        if let unwindFrame = unwind {
            let me = materialize(hdr)
            let unwindCtx = materialize(unwindFrame)
            sp += 1; sp.pointee = me
            sp += 1; sp.pointee = handleValue(h)
            sp += 1; sp.pointee = unwindCtx
            return .send(selector: root(.selAboutToReturn), numArgs: 2)
        }
        discardFrames(from: hdr, to: homeFrame)
        return returnFrom(homeFrame, value: handleValue(h))
    }

    private func cannotReturn(_ value: Oop) -> Next {
        let me = materialize(hdr)
        sp += 1; sp.pointee = me
        sp += 1; sp.pointee = value
        return .send(selector: root(.selCannotReturn), numArgs: 1)
    }

    /// The send did not fit: send `stackOverflow` to its receiver instead, using the reserve.
    func stackOverflow(nargs: Int) -> Next {
        var stack = stacks[activeStackIndex]
        if stack.overflowed {
            writeErr("VM: stack overflow while handling a stack overflow; ending the process\n")
            return terminateActiveProcess()
        }
        stack.overflowed = true
        stack.limit = stack.end
        stacks[activeStackIndex] = stack
        sp -= nargs
        return .send(selector: root(.selStackOverflow), numArgs: 0)
    }

    /// A method touched an instance variable its receiver does not have (the class's shape was changed
    /// behind the compiler's back): end the process with a clear message rather than touch memory.
    func badInstanceVariable(_ fp: UnsafeMutablePointer<UInt64>, _ ip: UnsafeMutablePointer<UInt8>, _ sp: UnsafeMutablePointer<UInt64>) -> Next {
        fp[FrameSlot.savedIP] = ipOop(ip)
        self.sp = sp; self.hdr = fp
        let method = fp[FrameSlot.method]
        writeErr("VM: \(className(methodClassOf(method))) code reads or writes an instance variable that a \(className(classOf(fp[FrameSlot.receiver]))) does not have (its class changed shape without recompiling); ending the process\n")
        return terminateActiveProcess()
    }

    func outOfMemory(_ fp: UnsafeMutablePointer<UInt64>, _ ip: UnsafeMutablePointer<UInt8>, _ sp: UnsafeMutablePointer<UInt64>) -> Next {
        fp[FrameSlot.savedIP] = ipOop(ip)
        self.sp = sp; self.hdr = fp
        writeErr("VM: out of memory\n")
        return terminateActiveProcess()
    }
}
