// Primitives that change what runs next: perform, block evaluation, processes, contexts, compilation.

import Foundation

extension VM {
    func controlPrimitive(_ n: Int, nargs: Int, rcvr: Oop, arg0: Oop, arg1: Oop, method: Oop) -> PrimitiveOutcome {
        switch n {
        case 83 where nargs >= 1:
            guard isSymbol(arg0), selectorArity(arg0) == nargs - 1 else { return .fail }
            let base = sp - nargs
            for i in 1..<nargs { base[i] = base[i + 1] }
            sp -= 1
            return .next(.send(selector: arg0, numArgs: nargs - 1))
        case 84 where nargs == 2, 100 where nargs == 3:
            guard isSymbol(arg0), isPointer(arg1), classIndexOf(arg1) == arrayClassIndex,
                  selectorArity(arg0) == indexableSize(arg1) else { return .fail }
            let lookupClass = n == 100 ? sp.pointee : 0
            // nil ends every superclass chain, but is no class to look a method up in.
            if n == 100 && (lookupClass == nilObj || !inherits(classOf(rcvr), from: lookupClass)) { return .fail }
            let args = arg1
            let count = indexableSize(args)
            if sp - nargs + 1 + count >= stacks[activeStackIndex].limit { return .fail }
            sp -= nargs
            for i in 0..<count { sp += 1; sp.pointee = fetch(args, i) }
            return .next(n == 100 ? .superSend(selector: arg0, numArgs: count, lookupClass: lookupClass)
                                  : .send(selector: arg0, numArgs: count))
        case 206 where nargs == 1:
            guard isPointer(rcvr), classIndexOf(rcvr) == classIndex(.classBlockClosure),
                  isPointer(arg0), classIndexOf(arg0) == arrayClassIndex,
                  fetch(rcvr, ClosureLayout.numArgs) == intOop(indexableSize(arg0)) else { return .fail }
            let count = indexableSize(arg0)
            if sp + count >= stacks[activeStackIndex].limit { return .fail }
            sp -= 1
            for i in 0..<count { sp += 1; sp.pointee = fetch(arg0, i) }
            return activateBlock(rcvr, nargs: count)
        case 85 where nargs == 0:
            guard isSemaphore(rcvr) else { return .fail }
            signalSemaphore(rcvr, preempt: true)
            return .next(.resume)
        case 86 where nargs == 0:
            guard isSemaphore(rcvr) else { return .fail }
            let excess = fetch(rcvr, ListLayout.excessSignals)
            if isSmallInt(excess) && intValue(excess) > 0 {
                store(rcvr, ListLayout.excessSignals, intOop(intValue(excess) - 1))
                return .value(rcvr)
            }
            addLast(rcvr, activeProcess)
            return .next(switchToNext())
        case 87 where nargs == 0:
            guard isProcess(rcvr), stackIndex(ofProcess: rcvr) != nil, rcvr != activeProcess,
                  fetch(rcvr, ProcessLayout.myList) == nilObj else { return .fail }
            sp -= nargs; sp.pointee = rcvr
            return .next(resume(rcvr))
        case 88 where nargs == 0:
            guard isProcess(rcvr) else { return .fail }
            if rcvr == activeProcess {
                sp.pointee = nilObj
                return .next(switchToNext())
            }
            let list = fetch(rcvr, ProcessLayout.myList)
            if list != nilObj { remove(rcvr, from: list) }
            return .value(list)
        case 167:
            let active = activeProcess
            guard let list = runList(priority: priorityOf(active)), !listIsEmpty(list) else { return .value(rcvr) }
            addLast(list, active)
            return .next(switchToNext())
        case 169 where nargs == 1:
            return interruptProcess(rcvr, with: arg0)
        case 185:
            return .next(terminateActiveProcess())
        case 189 where nargs == 0:
            guard isPointer(rcvr), classIndexOf(rcvr) == classIndex(.classBlockClosure),
                  fetch(rcvr, ClosureLayout.numArgs) == intOop(0) else { return .fail }
            let block = fetch(rcvr, ClosureLayout.compiledBlock)
            return newProcess(receiver: rcvr, args: [], code: block, closure: rcvr, priority: priorityOf(activeProcess))
                .map { .value($0) } ?? .fail
        case 113:
            quitRequested = isSmallInt(arg0) ? intValue(arg0) : 0
            evalDone = true
            return .next(.stop)
        case 135: return .value(intOop(Int(millisecondClock())))
        case 137:
            var tv = timeval()
            gettimeofday(&tv, nil)
            return .value(intOop(Int(tv.tv_sec) * 1_000_000 + Int(tv.tv_usec)))
        case 136 where nargs == 2:
            if arg0 == nilObj { timerDeadline = 0; setRoot(.timerSemaphore, nilObj); return .value(rcvr) }
            guard isSemaphore(arg0), isSmallInt(arg1) else { return .fail }
            setRoot(.timerSemaphore, arg0)
            timerDeadline = UInt64(max(1, intValue(arg1)))
            return .value(rcvr)
        case 195...220:
            return contextPrimitive(n, nargs: nargs, rcvr: rcvr, arg0: arg0, arg1: arg1)
        default:
            return systemPrimitive(n, nargs: nargs, rcvr: rcvr, arg0: arg0, arg1: arg1)
        }
    }

    /// Whether `cls` is `ancestor` or one of its subclasses (a super send starts its lookup there).
    func inherits(_ cls: Oop, from ancestor: Oop) -> Bool {
        var c = cls
        for _ in 0..<10_000 {
            if c == ancestor { return true }
            guard isPointer(c), c != nilObj, let loadedClass = loaded(c), Format.isPointers(formatOf(loadedClass)),
                  numSlotsOf(loadedClass) > ClassLayout.superclass else { return false }
            c = followed(fetch(loadedClass, ClassLayout.superclass))
        }
        return false
    }

    // With all their slots: a program may have changed the class's format since they were made.
    func isSemaphore(_ o: Oop) -> Bool {
        isPointer(o) && classIndexOf(o) == classIndex(.classSemaphore) && numSlotsOf(o) > ListLayout.excessSignals
    }
    func isProcess(_ o: Oop) -> Bool {
        isPointer(o) && classIndexOf(o) == classIndex(.classProcess) && numSlotsOf(o) >= ProcessLayout.size
    }

    /// `aProcess interruptWith: aBlock`: the process runs the block on top of its stack, then continues.
    /// Fails if the block's frame does not fit below the stack's limit (interrupts pile up until the
    /// process runs).
    private func interruptProcess(_ process: Oop, with block: Oop) -> PrimitiveOutcome {
        guard isProcess(process), let index = stackIndex(ofProcess: process),
              isPointer(block), classIndexOf(block) == classIndex(.classBlockClosure),
              fetch(block, ClosureLayout.numArgs) == intOop(0) else { return .fail }
        if process == activeProcess { return .fail }
        let code = fetch(block, ClosureLayout.compiledBlock)
        let frame = stacks[index].sp + 2
        let frameEnd = frame + Frame.headerSize + intValue(fetch(code, CodeLayout.frameSize))
            + intValue(fetch(code, CodeLayout.numCopied))
        if frameEnd >= stacks[index].limit { return .fail }
        onStack(index) {
            let top = sp
            sp += 1; sp.pointee = block
            _ = pushFrame(method: code, closure: block, receiverSlot: sp, nargs: 0, resultSlot: addressOop(top) | FrameSlot.discardResult)
        }
        return .value(process)
    }

    // MARK: Contexts

    private func contextPrimitive(_ n: Int, nargs: Int, rcvr: Oop, arg0: Oop, arg1: Oop) -> PrimitiveOutcome {
        if n == 220 {
            guard isProcess(rcvr), let index = stackIndex(ofProcess: rcvr) else { return .value(nilObj) }
            if rcvr == activeProcess { return .value(materialize(hdr)) }
            return .value(stacks[index].hdr.map { materialize($0) } ?? nilObj)
        }
        guard isPointer(rcvr), classIndexOf(rcvr) == classIndex(.classContext) else { return .fail }
        let frame = frameOf(rcvr)
        switch n {
        case 219: return .value(bool(frame == nil))
        case 212:
            guard let f = frame else { return .value(fetch(rcvr, ContextLayout.sender)) }
            return .value(callerOf(f).map { materialize($0) } ?? nilObj)
        case 213:
            guard let f = frame else { return .value(nilObj) }
            return .value(intOop(framePC(f)))
        case 217, 218:
            guard let f = frame, isSmallInt(arg0) else { return .fail }
            guard let slot = tempSlot(f, intValue(arg0)) else { return .fail }
            if n == 217 { return .value(slot.pointee) }
            slot.pointee = arg1
            return .value(arg1)
        case 197:
            var f = frame
            while let cur = f {
                if primitiveNumberOf(cur) == 199 { return .value(materialize(cur)) }
                f = callerOf(cur)
            }
            return .value(nilObj)
        case 195:
            guard let start = frame else { return .value(nilObj) }
            let stop = frameOf(arg0)
            var f = callerOf(start)
            while let cur = f, cur != stop {
                if primitiveNumberOf(cur) == 198 { return .value(materialize(cur)) }
                f = callerOf(cur)
            }
            return .value(nilObj)
        case 214:
            // `primReturn: value`: the receiver (the active frame or one of its callers) returns value
            // to its caller, every frame above it dying. For a frame at the bottom of its stack (a do-it
            // the host called), after the unwind blocks ran in Smalltalk (`return:through:`).
            guard nargs == 1, let target = frame, isOnActiveStack(target) else { return .fail }
            var f: UnsafeMutablePointer<UInt64>? = hdr
            while let cur = f, cur != target { f = callerOf(cur) }
            guard f == target else { return .fail }
            discardFrames(from: hdr, to: target)
            return .next(returnFrom(target, value: arg0))
        case 196:
            guard let me = frame, let target = frameOf(arg0) else { return .fail }
            // `target` must be below `me` on the active process's stack.
            var above = me
            var f = callerOf(me)
            while let cur = f, cur != target { above = cur; f = callerOf(cur) }
            guard f == target, isOnActiveStack(me) else { return .fail }
            if above != me {
                discardFrames(from: callerOf(me)!, to: target)
                // `me` takes over the answer's destination; its own married context stays its own.
                let married = me[FrameSlot.resultSlot] & FrameSlot.slowReturn
                me[FrameSlot.resultSlot] = above[FrameSlot.resultSlot] & ~FrameSlot.slowReturn | married
                me[FrameSlot.caller] = addressOop(target)
            }
            return .value(rcvr)
        default:
            return .fail
        }
    }

    private func isOnActiveStack(_ frame: UnsafeMutablePointer<UInt64>) -> Bool {
        guard activeStackIndex >= 0 else { return false }
        let s = stacks[activeStackIndex]
        return frame >= s.base && frame <= sp
    }

    /// Temp `i` (1-based: arguments, then locals) of a live frame.
    func tempSlot(_ f: UnsafeMutablePointer<UInt64>, _ i: Int) -> UnsafeMutablePointer<UInt64>? {
        let code = f[FrameSlot.method]
        let numArgs = intValue(fetch(code, CodeLayout.numArgs))
        var locals = intValue(fetch(code, CodeLayout.numTemps))
        if classIndexOf(code) == classIndex(.classCompiledBlock) { locals += intValue(fetch(code, CodeLayout.numCopied)) }
        if i >= 1 && i <= numArgs { return f + (i - 1 - numArgs) }
        if i > numArgs && i <= numArgs + locals { return f + Frame.headerSize + (i - numArgs - 1) }
        return nil
    }
}
