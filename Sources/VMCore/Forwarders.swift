// Forwarders (Spur's): a small ghost that was loaded. A ghost of an object bigger than two words is
// only as big as a ghost needs (OID, class OID), so loading it allocates the object elsewhere (old
// space, never collecting) and turns the ghost into a forwarder to it; every reference to the ghost now
// reaches the object through it (Docs/VM.md, "Ghosts").
//
// A forwarder's header holds the class index `VM.forwarderClassIndex` (no class has it) and the format
// `Format.forwarder` (no primitive accepts it), its identity hash and slot count stay the ghost's; its
// first slot holds the object. As for ghosts, the class index makes every send to a forwarder miss the
// caches and reach `findMethodSlowly`, which follows it (and replaces the receiver); a primitive fails
// on it and the interpreter follows the forwarders among the operands and runs it again; Swift code that
// reads an object's contents follows it (`loaded`). `==` answers true for a forwarder and its object:
// the comparison pays only when the oops differ and a forwarder was made since the last full collection
// (`identical`). The full collection replaces every reference to a forwarder by its
// object (the forwarder is then garbage), and so does `become:` as it walks the heap; the scavenger
// does not look for them.

extension VM {
    /// The class-table index of forwarders' headers: reserved, no class has it.
    public static let forwarderClassIndex = 6

    /// Objects bigger than this many words get a ghost of this many words (OID, class OID and size).
    public static let smallGhostWords = 2

    @inline(__always) public func isForwarder(_ o: Oop) -> Bool {
        isPointer(o) && o != 0 && classIndexOfHeader(headerOf(o)) == VM.forwarderClassIndex
    }

    /// Whether a header's class index is a ghost's or a forwarder's (adjacent: one comparison tests both).
    @inline(__always) static func isUnloadedClassIndex(_ index: Int) -> Bool {
        UInt(bitPattern: index &- VM.forwarderClassIndex) <= 1
    }

    /// The object a forwarder stands for; anything else is itself.
    @inline(__always) public func followed(_ o: Oop) -> Oop {
        isForwarder(o) ? fetch(o, 0) : o
    }

    /// The object to read for `o`: `o` itself, the object of a forwarder, or of a ghost once loaded (nil
    /// if that failed: `faultError` says why).
    @inline(__always) public func loaded(_ o: Oop) -> Oop? {
        if !isPointer(o) || o == 0 { return o }
        var object = o
        var ci = classIndexOfHeader(headerOf(object))
        if ci == VM.forwarderClassIndex {
            object = fetch(object, 0)
            ci = classIndexOfHeader(headerOf(object))
        }
        if ci != VM.ghostClassIndex { return object }
        return loadGhost(object)
    }

    @inline(never) private func loadGhost(_ ghost: Oop) -> Oop? {
        guard faultIn([ghost]) else { return nil }
        return followed(ghost)
    }

    /// Turns a small ghost into a forwarder to `target`, the object just allocated for it. The roots,
    /// the class table and the host handles that named the ghost name the object from now on.
    public func forward(_ ghost: Oop, to target: Oop) {
        let kept = headerOf(ghost) & (Header.hashMask << Header.hashShift | Header.slotsMask)
        words(ghost).pointee = kept | UInt64(VM.forwarderClassIndex) | UInt64(Format.forwarder) << Header.formatShift
        words(ghost)[1] = target
        if numSlotsOf(ghost) > 1 { (words(ghost) + 2).update(repeating: nilObj, count: numSlotsOf(ghost) - 1) }
        let h = hashOf(ghost)
        if h < classTableCount && classTable[h] == ghost { classTable[h] = target }
        for i in 0..<Root.allCases.count where roots[i] == ghost { roots[i] = target }
        for i in 0..<handleCount where handles[i] == ghost { handles[i] = target }
        forwardersMade &+= 1
        forwardersMayBeReferenced = true
    }

    /// Replaces the forwarders among the slots of `o` (an old object the VM reads directly) by their
    /// objects. Not a change: the references name the same objects.
    public func replaceForwarders(in o: Oop) {
        guard isPointer(o), o != 0, Format.isPointers(formatOf(o)) else { return }
        let p = words(o) + 1
        for i in 0..<numSlotsOf(o) where isForwarder(p[i]) { p[i] = fetch(p[i], 0) }
    }

    /// The `==` (or `~~`) bytecode at the saved instruction pointer on unequal oops while forwarders may be
    /// referenced: its Boolean replaces the two operands, and the interpreter goes on after it.
    @inline(never)
    func identityThroughForwarders(_ identical: Bool) -> Next {
        let same = followedOopsAreIdentical(sp[-1], sp.pointee)
        sp -= 1
        sp.pointee = same == identical ? trueObj : falseObj
        hdr[FrameSlot.savedIP] = ipOop(ipPointer(hdr[FrameSlot.savedIP]) + 1)
        return .resume
    }

    @inline(never)
    private func followedOopsAreIdentical(_ a: Oop, _ b: Oop) -> Bool {
        guard isPointer(a) && isPointer(b) && a != 0 && b != 0 else { return false }
        let x = followed(a), y = followed(b)
        return (x != a || y != b) && x == y
    }

    /// `a == b` as Smalltalk sees it: also true for a forwarder and its object (or two forwarders to it).
    /// Only after a forwarder was made since the last full collection is there anything to follow: until
    /// then unequal oops cost one test of a flag, with no call.
    @inline(__always) public func identical(_ a: Oop, _ b: Oop) -> Bool {
        a == b || forwardersMayBeReferenced && followedOopsAreIdentical(a, b)
    }

    /// Replaces the forwarders among a send's receiver and arguments (the top `nargs + 1` stack slots)
    /// by their objects.
    func followForwarderOperands(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int) {
        for i in 0...nargs where isForwarder(sp[i - nargs]) { sp[i - nargs] = fetch(sp[i - nargs], 0) }
    }

    /// How many forwarders the objects of old space refer to (a debugging aid: 0 after a full collection).
    public func referencesToForwarders() -> Int {
        scavenge(tenureAll: true)
        var count = 0
        forEachRootSlot { if isForwarder($0.pointee) { count += 1 } }
        forEachOldObject { o in
            let format = formatOf(o)
            guard Format.isPointers(format) || format == Format.ghost else { return }
            let p = words(o) + 1
            for i in 0..<numSlotsOf(o) where isForwarder(p[i]) { count += 1 }
        }
        return count
    }

    /// Forwarders in old space (referred to or not: garbage ones remain until a full collection).
    public func forwarderCount() -> Int {
        var count = 0
        forEachOldObject { if classIndexOfHeader(headerOf($0)) == VM.forwarderClassIndex { count += 1 } }
        return count
    }
}

