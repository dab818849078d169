// The primitive dispatcher: receiver and arguments are on the stack (`self.sp`), results replace them.

import Foundation

extension VM {
    /// Runs primitive `n`: a value primitive (ValuePrimitives.swift) or one of the others.
    func primitive(_ n: Int, nargs: Int, method: Oop) -> PrimitiveOutcome {
        let answer = answerPrimitive(n, sp, nargs)
        if answer != PrimitiveAnswer.notHere { return answer == PrimitiveAnswer.failed ? .fail : .value(answer) }
        return otherPrimitive(n, nargs: nargs, method: method)
    }

    /// The primitives that are not value primitives: they rearrange the stack, frames or processes, or
    /// move objects.
    func otherPrimitive(_ n: Int, nargs: Int, method: Oop) -> PrimitiveOutcome {
        let rcvr = sp[-nargs]
        // value, value:, … value:value:value:value: (201-205), the commonest of these, before anything else.
        if n &- 201 == nargs && nargs < 5 {
            guard isPointer(rcvr), classIndexOf(rcvr) == classIndex(.classBlockClosure) else { return .fail }
            return activateBlock(rcvr, nargs: nargs)
        }
        let arg0 = nargs >= 1 ? sp[1 - nargs] : 0
        let arg1 = nargs >= 2 ? sp[2 - nargs] : 0
        switch n {
        case 201...205: return .fail        // with another number of arguments
        case 116:
            // The interpreter reloads its copy of the cache epoch.
            invalidateMethodCaches()
            sp -= nargs
            return .next(.resume)
        // These move objects or rewrite references: the interpreter must reload its registers.
        case 126...131, 138, 140, 141:
            // A forwarder fails: the interpreter replaces it by its object and runs the primitive again.
            if isForwarder(rcvr) || isForwarder(arg0) { return .fail }
            let failures = faultFailures
            guard let value = heapPrimitive(n, nargs: nargs, rcvr: rcvr, arg0: arg0) else {
                return faultFailures != failures ? objectFaultInstead(nargs: nargs) : .fail
            }
            sp -= nargs
            sp.pointee = value
            return .next(.resume)
        case 142 where nargs == 0:
            guard isPointer(rcvr), !isForwarder(rcvr), indexOfClass(rcvr) != nil else { return .fail }
            switch storedInstanceCount?(rcvr) ?? .success(0) {
            case let .success(count): return .value(intOop(count))
            case let .failure(problem):
                faultError = problem.text
                faultFailures &+= 1
                return objectFaultInstead(nargs: nargs)
            }
        default:
            return controlPrimitive(n, nargs: nargs, rcvr: rcvr, arg0: arg0, arg1: arg1, method: method)
        }
    }

    /// A primitive that could not read the image (`faultError` says why): `Processor objectFault: why`
    /// is sent instead of running the fallback code.
    private func objectFaultInstead(nargs: Int) -> PrimitiveOutcome {
        guard let selector = replaceByObjectFault(sp, nargs) else { return .next(terminateActiveProcess()) }
        sp -= nargs - 1
        return .next(.send(selector: selector, numArgs: 1))
    }

    /// Primitives that collect garbage or exchange identities; the answer is read after the heap changed.
    private func heapPrimitive(_ n: Int, nargs: Int, rcvr: Oop, arg0: Oop) -> Oop? {
        let failures = faultFailures
        if let value = heapPrimitiveOnce(n, nargs: nargs, rcvr: rcvr, arg0: arg0) { return value }
        // Objects of the image it had to load did not fit (the loader asked for a collection): a full
        // collection evicts those loaded earlier and unchanged, then it runs once more. These primitives
        // may collect (the interpreter reloads its registers after them).
        guard faultFailures != failures, fullGCPending, (126...129).contains(n) || n == 138 || n == 140 else { return nil }
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        let receiver = handle(rcvr), argument = handle(arg0)
        fullGC()
        return heapPrimitiveOnce(n, nargs: nargs, rcvr: handleValue(receiver), arg0: handleValue(argument))
    }

    private func heapPrimitiveOnce(_ n: Int, nargs: Int, rcvr: Oop, arg0: Oop) -> Oop? {
        switch n {
        case 126, 127, 128, 129:
            guard nargs == 1 else { return nil }
            return becomePrimitive(rcvr, arg0, twoWay: n == 126 || n == 128, elementwise: n <= 127) ? sp[-nargs] : nil
        case 130: fullGC(); return intOop(oldTop < oldLimit ? Int(oldLimit - oldTop) : 0)
        case 131: scavenge(); return intOop(Int(edenEnd - edenTop))
        case 138:
            guard loadEveryObject() else { return nil }
            return firstObject() ?? nilObj
        case 140:
            // Those in memory, and the ghosts of those the image holds (ghosts are old: a scavenge keeps them).
            var stored: [Oop] = []
            guard nargs == 0, isPointer(rcvr), let index = indexOfClass(rcvr), storedInstances(of: rcvr, into: &stored) else { return nil }
            return newArray(allInstances(ofClassIndex: index) + stored)
        case 141:
            // Only those in memory: objects of an image not loaded yet are left out (and not loaded).
            guard nargs == 0, isPointer(rcvr), let index = indexOfClass(rcvr) else { return nil }
            return newArray(allInstances(ofClassIndex: index))
        default: return nil
        }
    }
}
