// Primitives on objects: indexing, instantiation, identity, become:, enumeration, copying, strings.

extension VM {
    /// `basicAt:` over the indexable part of any object.
    func indexedAt(_ o: Oop, _ index: Oop, asCharacter: Bool = false) -> Oop? {
        guard isPointer(o), isSmallInt(index) else { return nil }
        let i = intValue(index) - 1
        guard i >= 0 && i < indexableSize(o) else { return nil }
        let format = formatOf(o)
        switch format {
        case Format.indexable: return asCharacter ? nil : fetch(o, i)
        case Format.fixedIndexable, Format.weak:
            return asCharacter ? nil : fetch(o, fixedFieldCount(of: o) + i)
        case Format.words64: return asCharacter ? nil : newInteger(BigInt(words(o)[1 + i]))
        case 10, 11:
            let v = words32Of(o)[i]
            return asCharacter ? charOop(v) : intOop(Int(v))
        case 16...23:
            let v = bytesOf(o)[i]
            return asCharacter ? charOop(UInt32(v)) : intOop(Int(v))
        default: return nil
        }
    }

    func indexedAtPut(_ o: Oop, _ index: Oop, _ value: Oop, asCharacter: Bool = false) -> Oop? {
        guard isPointer(o), isSmallInt(index), headerOf(o) & Header.immutableBit == 0 else { return nil }
        let i = intValue(index) - 1
        guard i >= 0 && i < indexableSize(o) else { return nil }
        let format = formatOf(o)
        if Format.isPointers(format) {
            if asCharacter { return nil }
            let fixed = format == Format.indexable ? 0 : fixedFieldCount(of: o)
            store(o, fixed + i, value)
            return value
        }
        let code: Int
        if asCharacter {
            guard isCharacter(value) else { return nil }
            code = Int(charValue(value))
        } else if format == Format.words64 {
            guard let v = bigIntValue(value), v >= 0, let w = UInt64(exactly: v) else { return nil }
            words(o)[1 + i] = w
            noteChanged(o)
            return value
        } else {
            guard isSmallInt(value) else { return nil }
            code = intValue(value)
        }
        switch format {
        case 10, 11:
            guard code >= 0 && code <= 0xFFFF_FFFF else { return nil }
            words32Of(o)[i] = UInt32(code)
        case 16...23:
            guard code >= 0 && code <= 255 else { return nil }
            bytesOf(o)[i] = UInt8(code)
        default: return nil
        }
        noteChanged(o)
        return value
    }

    /// `instVarAt:` — fixed fields first, then indexable ones.
    func instVarAt(_ o: Oop, _ index: Oop) -> Oop? {
        guard isPointer(o), isSmallInt(index) else { return nil }
        let i = intValue(index)
        let format = formatOf(o)
        let fixed = Format.isPointers(format) ? (format == Format.indexable ? 0 : fixedFieldCount(of: o)) : 0
        if i >= 1 && i <= fixed { return fetch(o, i - 1) }
        return indexedAt(o, intOop(i - fixed))
    }

    func instVarAtPut(_ o: Oop, _ index: Oop, _ value: Oop) -> Oop? {
        guard isPointer(o), isSmallInt(index), headerOf(o) & Header.immutableBit == 0 else { return nil }
        let i = intValue(index)
        let format = formatOf(o)
        let fixed = Format.isPointers(format) ? (format == Format.indexable ? 0 : fixedFieldCount(of: o)) : 0
        if i >= 1 && i <= fixed {
            guard fixedFieldMayHold(o, i - 1, value) else { return nil }
            store(o, i - 1, value)
            return value
        }
        return indexedAtPut(o, intOop(i - fixed), value)
    }

    /// `basicNew` of a class whose instances have named slots only (the commonest `new`), with fewer
    /// tests than `instantiate`; nil for any other receiver, which `basicNew` then handles.
    @inline(__always) func newInstanceWithNamedSlots(_ cls: Oop) -> Oop? {
        guard isPointer(cls) else { return nil }
        let header = headerOf(cls)
        // A class with a format slot: ghosts and forwarders do not have the pointers format.
        guard Format.isPointers(Int((header >> Header.formatShift) & 31)),
              header >> Header.slotsShift > UInt64(ClassLayout.format) else { return nil }
        let format = fetch(cls, ClassLayout.format)
        let index = Int((header >> Header.hashShift) & Header.hashMask)
        guard isSmallInt(format), (intValue(format) >> 16) & 31 <= Format.fixed,
              index < classTableCount, classTable[index] == cls else { return nil }
        // Instances of metaclasses and of Metaclass get class indices: `basicNew` makes those.
        let metaclass = root(.classMetaclass)
        guard cls != metaclass, classTable[classIndexOfHeader(header)] != metaclass else { return nil }
        let fixed = intValue(format) & 0xFFFF
        return allocate(classIndex: index, format: fixed == 0 ? Format.empty : Format.fixed, numSlots: fixed, fill: nilObj)
    }

    func basicNew(_ cls: Oop, size: Oop?) -> Oop? {
        guard isPointer(cls), numSlotsOf(cls) > ClassLayout.format else { return nil }
        var n = 0
        if let size {
            guard isSmallInt(size), intValue(size) >= 0 else { return nil }
            n = intValue(size)
        }
        guard let o = instantiate(cls, indexable: n) else { return nil }
        // A new class (or metaclass) gets its class-table index now, so its hash is its index.
        let metaclass = root(.classMetaclass)
        if classOf(cls) == metaclass || cls == metaclass { _ = indexOfClass(o) }
        return o
    }

    func shallowCopy(_ o: Oop) -> Oop? {
        guard isPointer(o) else { return o }
        // A ghost or forwarder fails: the interpreter loads or follows it and runs the primitive again.
        if isGhost(o) || isForwarder(o) { return nil }
        let n = numSlotsOf(o)
        let h = handle(o)
        defer { releaseHandles(to: h) }
        let format = formatOf(o)
        guard let copy = allocate(classIndex: classIndexOf(o), format: format, numSlots: n,
                                  fill: Format.isPointers(format) ? nilObj : 0) else { return nil }
        let src = handleValue(h)
        if Format.isPointers(format) {
            for i in 0..<n { store(copy, i, fetch(src, i)) }
        } else {
            (words(copy) + 1).update(from: words(src) + 1, count: n)
        }
        return copy
    }

    /// `atAllPut:` of an Array-like object (indexable pointers, weak ones excepted): every indexed slot
    /// holds `value`. One loop without a barrier per slot, unless an old object receives a young value.
    func fillIndexedSlots(_ o: Oop, with value: Oop) -> Oop? {
        guard isPointer(o), headerOf(o) & Header.immutableBit == 0 else { return nil }
        let format = formatOf(o)
        guard format == Format.indexable || format == Format.fixedIndexable else { return nil }
        let fixed = format == Format.indexable ? 0 : fixedFieldCount(of: o)
        let count = numSlotsOf(o) - fixed
        guard count > 0 else { return o }
        if isOld(o) && isPointer(value) && isYoung(value) {
            for i in fixed..<fixed + count { store(o, i, value) }
        } else {
            (words(o) + 1 + fixed).update(repeating: value, count: count)
            if isOld(o) { noteChanged(o) }
        }
        return o
    }

    /// `replaceFrom:to:with:startingAt:` between objects of the same kind.
    func replace(_ dst: Oop, _ start: Oop, _ stop: Oop, _ src: Oop, _ srcStart: Oop) -> Oop? {
        guard isPointer(dst), isPointer(src), isSmallInt(start), isSmallInt(stop), isSmallInt(srcStart),
              headerOf(dst) & Header.immutableBit == 0 else { return nil }
        let a = intValue(start), b = intValue(stop), s = intValue(srcStart)
        let count = b - a + 1
        if count == 0 { return dst }
        guard count > 0, a >= 1, s >= 1, b <= indexableSize(dst), s + count - 1 <= indexableSize(src) else { return nil }
        let df = formatOf(dst), sf = formatOf(src)
        if Format.isPointers(df) && Format.isPointers(sf) {
            let dFixed = df == Format.indexable ? 0 : fixedFieldCount(of: dst)
            let sFixed = sf == Format.indexable ? 0 : fixedFieldCount(of: src)
            let forward = dst != src || a <= s
            for k in 0..<count {
                let j = forward ? k : count - 1 - k
                store(dst, dFixed + a - 1 + j, fetch(src, sFixed + s - 1 + j))
            }
        } else if Format.isBytes(df) && Format.isBytes(sf) {
            memmove(bytesOf(dst) + a - 1, bytesOf(src) + s - 1, count)
        } else if Format.isWords32(df) && Format.isWords32(sf) {
            memmove(words32Of(dst) + a - 1, words32Of(src) + s - 1, count * 4)
        } else if Format.isWords32(df) && Format.isBytes(sf) {
            for k in 0..<count { words32Of(dst)[a - 1 + k] = UInt32(bytesOf(src)[s - 1 + k]) }
        } else if df == Format.words64 && sf == Format.words64 {
            memmove(words(dst) + a, words(src) + s, count * 8)
        } else {
            return nil
        }
        noteChanged(dst)
        return dst
    }

    func becomePrimitive(_ a: Oop, _ b: Oop, twoWay: Bool, elementwise: Bool) -> Bool {
        var from: [Oop] = [a], to: [Oop] = [b]
        if elementwise {
            guard isPointer(a), isPointer(b), formatOf(a) == Format.indexable, formatOf(b) == Format.indexable,
                  indexableSize(a) == indexableSize(b) else { return false }
            from = (0..<indexableSize(a)).map { fetch(a, $0) }
            to = (0..<indexableSize(b)).map { fetch(b, $0) }
        }
        let forbidden: Set<Oop> = [nilObj, trueObj, falseObj]
        for o in from + to where isImmediate(o) || forbidden.contains(o) || headerOf(o) & Header.immutableBit != 0 {
            return false
        }
        // Ghosts are loaded first: the image session moves OIDs along with identities.
        let ghosts = (from + to).filter(isGhost)
        if !ghosts.isEmpty && !faultIn(ghosts) { return false }
        // Small ghosts loaded are forwarders: their objects change identity (`become` replaces
        // references to forwarders as it goes).
        from = from.map(followed)
        to = to.map(followed)
        for (a, b) in zip(from, to) where !mayReplace(a, by: b) || (twoWay && !mayReplace(b, by: a)) { return false }
        // One way from an object of the image to another: records not loaded refer to the one replaced
        // by its OID, so every object is loaded first for the become to reach them (false if that
        // failed: `faultError`; nothing changed).
        if !twoWay, zip(from, to).contains(where: { isPersistent($0.0) && isPersistent($0.1) }), !loadEveryObject() { return false }
        if let more = identitiesWillChange?(from, to, twoWay), !more.isEmpty, !twoWay {
            from += more.map(\.0)
            to += more.map(\.1)
        }
        // One way, the object referred to instead takes the identity hash of the one it replaces (as
        // Pharo's `becomeForward:` does), so that hashed collections still find it: a class migrating
        // its instances keeps their hashes. Not a class's: its hash is its class index.
        let hashes = twoWay ? [] : from.map { isRegisteredClass($0) ? nil : Optional(hashOf($0)) }
        let pairs = become(from, to, twoWay: twoWay)
        for ((_, new), hash) in zip(pairs, hashes) {
            guard let hash, !isRegisteredClass(new), hashOf(new) != hash else { continue }
            words(new).pointee = headerOf(new) & ~(Header.hashMask << Header.hashShift) | UInt64(hash) << Header.hashShift
            noteChanged(new)
        }
        identitiesChanged?(pairs, twoWay)
        invalidateMethodCaches()
        return true
    }

    /// Whether `o` is the class registered at the class index its identity hash names.
    private func isRegisteredClass(_ o: Oop) -> Bool {
        let h = hashOf(o)
        return h < classTableCount && classTable[h] == o
    }

    // MARK: Strings

    func stringCompare(_ a: Oop, _ b: Oop) -> Int? {
        guard let x = codePoints(a), let y = codePoints(b) else { return nil }
        for (c, d) in zip(x, y) where c != d { return c < d ? -1 : 1 }
        return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
    }

    func utf8Encode(_ o: Oop) -> Oop? {
        guard let s = stringValue(o) else { return nil }
        return newBytes(Array(s.utf8), root: .classByteArray)
    }

    func utf8Decode(_ o: Oop) -> Oop? {
        guard isPointer(o), Format.isBytes(formatOf(o)) else { return nil }
        return newString(String(decoding: byteArrayContents(o), as: UTF8.self))
    }

    /// Arguments a selector takes: keywords count colons, binary selectors take one.
    func selectorArity(_ sel: Oop) -> Int? {
        guard let cps = codePoints(sel), let first = cps.first else { return nil }
        let colons = cps.filter { $0 == 58 }.count
        if colons > 0 { return colons }
        if let c = Unicode.Scalar(first), CharacterSet.letters.contains(c) || c == "_" { return 0 }
        return 1
    }
}

import BigInt
import Foundation
