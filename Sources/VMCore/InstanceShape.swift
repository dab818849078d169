// What the slots of a class's instances hold: the image records it for each class version, so that an
// object stored with an older version of its class can be migrated when it is loaded (Docs/Store.md,
// "Class shapes").

extension VM {
    /// The instance format of `cls` (its format >> 16) and the names of its instances' named slots,
    /// inherited ones first. With `loading` false nothing is loaded: nil when the class, a superclass,
    /// an instance-variable Array or a name in it is a ghost (or the class is malformed).
    public func instanceShape(ofClass cls: Oop, loading: Bool) -> (format: Int, names: [String])? {
        func usable(_ o: inout Oop) -> Bool {
            guard isPointer(o) && o != 0 else { return false }
            if loading { guard let object = loaded(o) else { return false }; o = object } else { o = followed(o) }
            return !isGhost(o) && Format.isPointers(formatOf(o))
        }
        var cls = cls
        guard usable(&cls), numSlotsOf(cls) > ClassLayout.instanceVariables else { return nil }
        let format = fetch(cls, ClassLayout.format)
        guard isSmallInt(format) else { return nil }
        var chain: [Oop] = []
        var c = cls
        while c != nilObj {
            guard usable(&c), numSlotsOf(c) > ClassLayout.instanceVariables, chain.count < 10_000 else { return nil }
            chain.append(c)
            c = fetch(c, ClassLayout.superclass)
        }
        var names: [String] = []
        for k in chain.reversed() {
            var ivars = fetch(k, ClassLayout.instanceVariables)
            if ivars == nilObj { continue }
            guard usable(&ivars) else { return nil }
            for i in 0..<numSlotsOf(ivars) {
                let name = followed(fetch(ivars, i))
                guard isPointer(name), loading ? ensureLoaded(name) : !isGhost(name), let text = stringValue(name) else { return nil }
                names.append(text)
            }
        }
        let instanceFormat = (intValue(format) >> 16) & 31
        guard intValue(format) & 0xFFFF == names.count || instanceFormat >= Format.words64 else { return nil }
        return (instanceFormat, names)
    }
}

extension VM {
    /// The class registered at class index `index` (whose identity hash is `index`), or nil.
    public func registeredClass(at index: Int) -> Oop? {
        guard index > 0, index < classTableCount, index != VM.ghostClassIndex else { return nil }
        let cls = classTable[index]
        return cls != 0 && hashOf(cls) == index ? cls : nil
    }
}
