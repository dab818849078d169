// Quick methods: accessors, setters and constant methods run at the send, without a frame.
//
// Installation recognises the bytecode shapes below and records them in the method's primitive
// field, numbered as in Squeak/Pharo (256 ^self, 257 ^true, 258 ^false, 259 ^nil, 260-263 ^-1...2,
// 264-519 ^instVar) plus setters (520-775: `x: v  x := v`, answering self). Explicit primitives
// are 1-255, so the ranges never meet. A quick method whose receiver lacks the instance variable
// (a method installed in the wrong class) falls back to running its bytecodes, which report it.

enum QuickMethod {
    static let returnSelf = 256, returnTrue = 257, returnFalse = 258, returnNil = 259
    static let returnMinusOne = 260, returnTwo = 263
    static let returnInstVar = 264, setInstVar = 520

    /// The quick primitive number for a method's code, or 0 when it is not one of the shapes.
    static func number(for bytecodes: [UInt8], numArgs: Int, numTemps: Int) -> Int {
        guard numTemps == 0, bytecodes.count <= 6, let code = Instruction.decode(bytecodes) else { return 0 }
        let ops = code.map(\.opcode)
        if numArgs == 0 {
            if ops == [.returnSelf] || ops == [.pushSelf, .returnTop] { return returnSelf }
            guard ops.count == 2, ops[1] == .returnTop else { return 0 }
            switch ops[0] {
            case .pushTrue: return returnTrue
            case .pushFalse: return returnFalse
            case .pushNil: return returnNil
            case .pushInt8 where (-1...2).contains(code[0].a): return returnMinusOne + 1 + code[0].a
            case .pushInstVar: return returnInstVar + code[0].a
            default: return 0
            }
        }
        if numArgs == 1, ops.count >= 3, ops[0] == .pushTemp, code[0].a == -1, ops[1] == .popStoreInstVar,
           Array(ops[2...]) == [.returnSelf] || Array(ops[2...]) == [.pushSelf, .returnTop] {
            return setInstVar + code[1].a
        }
        return 0
    }
}

extension VM {
    /// Answers a quick method's send — receiver and `nargs` arguments on the stack — without a frame;
    /// false when the receiver lacks the instance variable (the method's code then runs and reports it).
    @_transparent
    func answerQuickly(_ prim: Oop, _ sp: inout UnsafeMutablePointer<Oop>, _ nargs: Int,
                       _ trueO: Oop, _ falseO: Oop, _ nilO: Oop) -> Bool {
        let receiverSlot = sp - nargs
        let r = receiverSlot.pointee
        // Getters, the commonest, first: one subtraction and one comparison pick them out.
        let getterIndex = (prim &- intOop(QuickMethod.returnInstVar)) >> 3
        if getterIndex < UInt64(QuickMethod.setInstVar - QuickMethod.returnInstVar) {
            guard hasInstVar(r, Int(getterIndex)) else { return false }
            sp.pointee = fetch(r, Int(getterIndex))
            return true
        }
        if prim < intOop(QuickMethod.returnInstVar) {
            sp = receiverSlot
            sp.pointee = prim == intOop(QuickMethod.returnSelf) ? r
                : prim == intOop(QuickMethod.returnTrue) ? trueO
                : prim == intOop(QuickMethod.returnFalse) ? falseO
                : prim == intOop(QuickMethod.returnNil) ? nilO
                : intOop(intValue(prim) &- (QuickMethod.returnMinusOne &+ 1))
            return true
        }
        let index = intValue(prim) &- QuickMethod.setInstVar
        guard hasInstVar(r, index) else { return false }
        store(r, index, sp.pointee)
        sp = receiverSlot
        return true
    }

    /// The value a getter answers for `r`, given what a send site's inline cache holds for `r`'s class
    /// (`entry`); nil for any other method or when `r` lacks the variable. (A method is cached as its
    /// heap address, which never falls in the getters' range.)
    @_transparent func getterValue(_ entry: Oop, _ r: Oop) -> Oop? {
        let getterIndex = (entry &- intOop(QuickMethod.returnInstVar)) >> 3
        guard getterIndex < UInt64(QuickMethod.setInstVar - QuickMethod.returnInstVar),
              hasInstVar(r, Int(getterIndex)) else { return nil }
        return fetch(r, Int(getterIndex))
    }

    /// The index of the variable a setter stores for `r`, given what a send site's inline cache holds for
    /// `r`'s class (`entry`); nil for any other method or when `r` lacks the variable.
    @_transparent func setterIndex(_ entry: Oop, _ r: Oop) -> Int? {
        let index = (entry &- intOop(QuickMethod.setInstVar)) >> 3
        guard index < 256, hasInstVar(r, Int(index)) else { return nil }
        return Int(index)
    }

    /// What a send site's inline cache keeps for a method: a quick method's primitive number, so that
    /// a hit answers it without reading the method; any other method itself.
    @inline(__always) func inlineCacheEntry(_ method: Oop) -> Oop {
        let prim = fetch(method, CodeLayout.primitive)
        return isSmallInt(prim) && prim >= intOop(QuickMethod.returnSelf) ? prim : method
    }
}
