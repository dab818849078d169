// The primitive dispatcher: receiver and arguments are on the stack (`self.sp`), results replace them.

import Foundation

extension VM {
    func primitive(_ n: Int, nargs: Int, method: Oop) -> PrimitiveOutcome {
        let rcvr = sp[-nargs]
        let arg0 = nargs >= 1 ? sp[1 - nargs] : 0
        let arg1 = nargs >= 2 ? sp[2 - nargs] : 0
        @inline(__always) func result(_ o: Oop?) -> PrimitiveOutcome { o.map { .value($0) } ?? .fail }
        switch n {
        case 1...38 where nargs == 1: return result(arithmeticPrimitive(n, rcvr, arg0))
        case 39 where nargs == 1: return result(integerPrintString(rcvr, base: arg0))
        case 40, 51...53, 55...59, 161: return result(nargs == 0 ? numericUnaryPrimitive(n, rcvr) : nil)
        case 41...50 where nargs == 1: return result(arithmeticPrimitive(n, rcvr, arg0))
        case 54 where nargs == 1: return result(floatTimesTwoPower(rcvr, arg0))
        case 162 where nargs == 1: return result(readFloat(arg0))

        case 60 where nargs == 1: return result(indexedAt(rcvr, arg0))
        case 61 where nargs == 2: return result(indexedAtPut(rcvr, arg0, arg1))
        case 62 where nargs == 0: return isPointer(rcvr) ? .value(intOop(indexableSize(rcvr))) : .value(intOop(0))
        case 63 where nargs == 1: return result(indexedAt(rcvr, arg0, asCharacter: true))
        case 64 where nargs == 2: return isSymbol(rcvr) ? .fail : result(indexedAtPut(rcvr, arg0, arg1, asCharacter: true))
        case 70 where nargs == 0: return result(basicNew(rcvr, size: nil))
        case 71 where nargs == 1: return result(basicNew(rcvr, size: arg0))
        case 73 where nargs == 1: return result(instVarAt(rcvr, arg0))
        case 74 where nargs == 2: return result(instVarAtPut(rcvr, arg0, arg1))
        case 75 where nargs == 0: return .value(intOop(identityHashValue(rcvr)))
        case 105 where nargs == 4: return result(replace(rcvr, arg0, arg1, sp[3 - nargs], sp[4 - nargs]))
        case 147 where nargs == 0: return .value(bool(isClassTheVMKnows(rcvr)))
        case 149 where nargs == 1: return result(setClassFormat(rcvr, arg0))
        case 145 where nargs == 1: return result(fillIndexedSlots(rcvr, with: arg0))
        case 110 where nargs == 1: return .value(bool(identical(rcvr, arg0)))
        case 111 where nargs == 0: return .value(classOf(rcvr))
        case 116:
            // The interpreter reloads its copy of the cache epoch.
            invalidateMethodCaches()
            sp -= nargs
            return .next(.resume)
        case 120 where nargs == 1:
            guard isSmallInt(arg0), intValue(arg0) >= 0, intValue(arg0) <= 0x10FFFF else { return .fail }
            return .value(charOop(UInt32(intValue(arg0))))
        case 121 where nargs == 0: return isCharacter(rcvr) ? .value(intOop(Int(charValue(rcvr)))) : .fail
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
        case 139 where nargs == 0: return .value(objectAfter(rcvr) ?? intOop(0))
        case 142 where nargs == 0:
            guard isPointer(rcvr), !isForwarder(rcvr), indexOfClass(rcvr) != nil else { return .fail }
            switch storedInstanceCount?(rcvr) ?? .success(0) {
            case let .success(count): return .value(intOop(count))
            case let .failure(problem):
                faultError = problem.text
                faultFailures &+= 1
                return objectFaultInstead(nargs: nargs)
            }
        case 148 where nargs == 0: return result(shallowCopy(rcvr))
        case 170 where nargs == 1:
            guard isString(rcvr), !isGhost(arg0), !isForwarder(arg0) else { return .fail }
            guard isString(arg0) else { return .value(falseObj) }
            return .value(bool(stringCompare(rcvr, arg0) == 0))
        case 171 where nargs == 0: return codePoints(rcvr).map { .value(intOop(VM.stringHash($0))) } ?? .fail
        case 172 where nargs == 1: return stringCompare(rcvr, arg0).map { .value(intOop($0)) } ?? .fail
        case 173 where nargs == 0: return result(codePoints(rcvr).flatMap { intern(codePoints: $0) })
        case 174 where nargs == 0: return codePoints(rcvr).map { .value(findSymbol($0) ?? nilObj) } ?? .fail
        case 163 where nargs == 0: return result(utf8Encode(rcvr))
        case 164 where nargs == 0: return result(utf8Decode(rcvr))
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
        switch n {
        case 126, 127, 128, 129:
            guard nargs == 1 else { return nil }
            return becomePrimitive(rcvr, arg0, twoWay: n == 126 || n == 128, elementwise: n <= 127) ? sp[-nargs] : nil
        case 130: fullGC(); return intOop(Int(oldEnd - oldTop))
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
