// Names seen from code: global, class-pool and workspace bindings, and class reflection the host needs.

extension VM {
    public func globalValue(_ name: String) -> Oop? {
        guard let sym = intern(name), root(.smalltalk) != 0,
              let assoc = identityDictionaryLookup(root(.smalltalk), sym) else { return nil }
        return followed(fetch(assoc, AssocLayout.value))
    }

    /// The Association for a variable name seen from a class: class pools up the chain, Smalltalk,
    /// then Undeclared (where it is created if missing).
    public func resolveBinding(_ name: String, in cls: Oop) -> Oop? {
        guard let sym = intern(name) else { return nil }
        // A dictionary whose objects could not be loaded must not make the name look undeclared.
        let failures = faultFailures
        defer {
            if faultFailures != failures { lastInstallError = "cannot look up \(name): \(faultError ?? "an object could not be loaded")" }
        }
        var c = instanceSide(cls)
        var depth = 0
        while c != nilObj && isPointer(c) && depth < 10_000 {
            guard let loadedClass = loaded(c) else { break }
            c = loadedClass
            if numSlotsOf(c) > ClassLayout.classPool {
                let pool = fetch(c, ClassLayout.classPool)
                if isPointer(pool) && pool != nilObj, let a = identityDictionaryLookup(pool, sym) { return a }
            }
            c = fetch(c, ClassLayout.superclass)
            depth += 1
        }
        if let a = identityDictionaryLookup(root(.smalltalk), sym) { return a }
        if faultFailures != failures { return nil }
        // Lowercase names can only come from workspace do-its: they live in the workspace.
        let undeclared = name.first?.isLowercase == true ? workspace() : root(.undeclared)
        guard undeclared != 0 && undeclared != nilObj else { return nil }
        if let a = identityDictionaryLookup(undeclared, sym) { return a }
        let h = handle(undeclared)
        defer { releaseHandles(to: h) }
        guard let a = newAssociation(sym, nilObj) else { return nil }
        identityDictionaryAdd(handleValue(h), a)
        return identityDictionaryLookup(handleValue(h), sym)
    }

    /// Whether `name` is no global, only a variable of Undeclared (code referred to it before it was
    /// defined, or assigned it without defining it).
    public func isUndeclared(_ name: String) -> Bool {
        guard let sym = intern(name), identityDictionaryLookup(root(.smalltalk), sym) == nil else { return false }
        let undeclared = root(.undeclared)
        return undeclared != 0 && undeclared != nilObj && identityDictionaryLookup(undeclared, sym) != nil
    }

    /// The dictionary of workspace variables (REPL do-its), made on first use.
    func workspace() -> Oop {
        if root(.workspace) == 0 || root(.workspace) == nilObj,
           let dict = instantiate(root(.classIdentityDictionary)) {
            store(dict, DictLayout.tally, intOop(0))
            setRoot(.workspace, dict)
        }
        return root(.workspace)
    }

    /// For a metaclass, its sole instance; otherwise the class itself.
    public func instanceSide(_ cls: Oop) -> Oop {
        if classOf(cls) == root(.classMetaclass) { return fetchSlot(cls, ClassLayout.soleInstance) }
        return cls
    }

    /// Instance variable names from the root class down.
    public func allInstVarNames(_ cls: Oop) -> [String] {
        var chain: [Oop] = []
        var c = cls
        while c != nilObj && isPointer(c) && chain.count < 10_000 { chain.append(c); c = fetchSlot(c, ClassLayout.superclass) }
        var names: [String] = []
        for k in chain.reversed() {
            let ivars = fetchSlot(k, ClassLayout.instanceVariables)
            guard isPointer(ivars) && ivars != nilObj else { continue }
            for i in 0..<indexableSize(ivars) { names.append(stringValue(fetchSlot(ivars, i)) ?? "?") }
        }
        return names
    }

}

extension VM {
    /// `Foo` or `Foo class`.
    public func className(_ cls: Oop) -> String {
        guard isPointer(cls), let cls = loaded(cls) else { return "?" }
        if classOf(cls) == root(.classMetaclass) { return className(fetch(cls, ClassLayout.soleInstance)) + " class" }
        guard numSlotsOf(cls) > ClassLayout.name else { return "?" }
        return stringValue(fetch(cls, ClassLayout.name)) ?? "?"
    }

    /// Records a method's category in the class's organization (selector → category string).
    public func classify(_ selector: Oop, as category: String, in cls: Oop) {
        let mark = handleMark
        let clsH = handle(cls), selH = handle(selector)
        defer { releaseHandles(to: mark) }
        guard let cat = newString(category), let assoc = newAssociation(handleValue(selH), cat) else { return }
        let org = fetchSlot(handleValue(clsH), ClassLayout.organization)
        if isPointer(org) && org != nilObj && classIndexOf(org) == classIndex(.classIdentityDictionary) {
            identityDictionaryAdd(org, assoc)
        }
    }
}

extension VM {
    /// Whether the class's own method dictionary has this selector.
    public func includesSelector(_ cls: Oop, _ selector: String) -> Bool {
        guard let sel = findSymbol(VM.codePoints(of: selector)) else { return false }
        let dict = fetchSlot(cls, ClassLayout.methodDict)
        return isPointer(dict) && dict != nilObj && identityDictionaryLookup(dict, sel) != nil
    }
}
