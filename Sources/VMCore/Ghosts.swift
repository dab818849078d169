// Ghosts: objects of the image not read yet. A ghost has its object's real size and identity hash, so
// that loading it fills it in place and every reference to it is already right.
//
// A ghost's header holds the class index `VM.ghostClassIndex` and the format `Format.ghost`; its first
// word holds the object's OID (as a SmallInteger), its second (if it has one) its class's OID, its
// other slots nil. The class index makes every
// send to a ghost miss the inline and global caches and arrive in `findMethodSlowly`, which has the
// host load it (`faultHandler`) and looks the message up again: the fast paths cost nothing. The
// format is one no primitive accepts, so a primitive given a ghost fails, and the interpreter then
// loads the ghosts among the operands and runs the primitive again. Swift code that reads an
// object's contents calls `ensureLoaded` first (fetchSlot, codePoints, className, lookup, …).
//
// Loading never collects garbage (objects are filled in place and new ghosts are allocated in old
// space), so raw oops held across a fault stay valid. The host loads more than it was asked for —
// what the VM reads without sending (a loaded object's class; a method's bytecodes, literal frame
// and literals; a closure's block, receiver and copied values) — so that code the VM runs and classes
// it reads never hold ghosts where it looks (Docs/VM.md, "Ghosts").

extension VM {
    /// The class-table index every ghost's header holds; its entry is the `Ghost` class (not saved).
    public static let ghostClassIndex = 7

    @inline(__always) public func isGhost(_ o: Oop) -> Bool {
        isPointer(o) && o != 0 && classIndexOfHeader(headerOf(o)) == VM.ghostClassIndex
    }

    /// The OID a ghost stands for.
    public func ghostOID(_ ghost: Oop) -> UInt64 { words(ghost)[1] >> 3 }

    /// Allocates a ghost in old space for the object `oid` of `words` slots (pointers) or 64-bit words
    /// (bits), identity hash `hash` and class `classOID` (kept if it has room: `ghostClassOID`); nil
    /// when the heap limit is reached. The ghost of an object of more than `smallGhostWords` words is
    /// small: two words, the OID and (in one SmallInteger) the class OID and the object's size; loading
    /// it makes a forwarder of it (Forwarders.swift). Smaller objects get a ghost of their size, filled in
    /// place.
    public func allocateGhost(oid: UInt64, hash: Int, words count: Int, classOID: UInt64 = 0) -> Oop? {
        let saved = bootstrapping
        bootstrapping = true
        defer { bootstrapping = saved }
        let small = count > VM.smallGhostWords
        guard let o = allocate(classIndex: VM.ghostClassIndex, format: Format.ghost, numSlots: small ? VM.smallGhostWords : count,
                               fill: nilObj, hash: hash)
        else { return nil }
        words(o)[1] = oid << 3 | Tag.smallInteger
        let keptClass = classOID < VM.ghostClassOIDLimit ? classOID : 0
        if small {
            words(o)[2] = (keptClass | UInt64(min(count, VM.ghostSizeLimit)) << VM.ghostSizeShift) << 3 | Tag.smallInteger
        } else if count >= 2 && keptClass != 0 {
            words(o)[2] = keptClass << 3 | Tag.smallInteger
        }
        return o
    }

    /// A small ghost's second slot holds the class OID in its low 40 bits and the object's size in words
    /// (at most `ghostSizeLimit`) above them; a ghost of its object's size holds the class OID alone.
    static let ghostSizeShift: UInt64 = 40
    static let ghostClassOIDLimit: UInt64 = 1 << ghostSizeShift
    public static let ghostSizeLimit = (1 << 20) - 1

    /// The OID of a ghost's class, if the ghost has room to keep it (2 slots or more).
    public func ghostClassOID(_ ghost: Oop) -> UInt64? {
        guard numSlotsOf(ghost) >= 2, isSmallInt(words(ghost)[2]) else { return nil }
        let oid = (words(ghost)[2] >> 3) & (VM.ghostClassOIDLimit - 1)
        return oid == 0 ? nil : oid
    }

    /// Whether a ghost is smaller than its object (loading it makes a forwarder).
    public func isSmallGhost(_ ghost: Oop) -> Bool {
        numSlotsOf(ghost) == VM.smallGhostWords && isSmallInt(words(ghost)[2]) && words(ghost)[2] >> (3 + VM.ghostSizeShift) != 0
    }

    /// The size in words of the object a ghost stands for (at most `ghostSizeLimit` for a small ghost).
    public func ghostObjectWords(_ ghost: Oop) -> Int {
        isSmallGhost(ghost) ? Int(words(ghost)[2] >> (3 + VM.ghostSizeShift)) : numSlotsOf(ghost)
    }

    /// Whether `ghost` can stand for an object of `count` words (its size, or small for a bigger one).
    public func ghostFits(_ ghost: Oop, words count: Int) -> Bool {
        count > VM.smallGhostWords
            ? isSmallGhost(ghost) && ghostObjectWords(ghost) == min(count, VM.ghostSizeLimit) || numSlotsOf(ghost) == count
            : numSlotsOf(ghost) == count
    }

    /// The ghosts of at most `maxWords` words among the `count` objects that follow `o` in old space,
    /// nearest first. Ghosts made together (the objects one object refers to) lie together there and
    /// tend to be used together.
    public func ghosts(after o: Oop, within count: Int, maxWords: Int) -> [Oop] {
        var found: [Oop] = []
        var current = o
        for _ in 0..<count {
            guard let next = objectAfter(current) else { break }
            if isGhost(next) && ghostObjectWords(next) <= maxWords { found.append(next) }
            current = next
        }
        return found
    }

    /// Whether `o` (a ghost or not) is a class: classes are in the class table at their identity hash.
    public func isClass(_ o: Oop) -> Bool {
        guard isPointer(o), o != 0 else { return false }
        let h = hashOf(o)
        return h < classTableCount && classTable[h] == o
    }

    /// Old-space bytes `allocateGhost` would take for `count` words (checked before a batch is loaded).
    public func ghostBytes(words count: Int) -> Int {
        count > VM.smallGhostWords ? (VM.smallGhostWords + 1) * 8 : (max(count, 1) + 1) * 8
    }

    /// Old-space bytes an object of `count` words takes (checked before a batch is loaded).
    public func loadedObjectBytes(words count: Int) -> Int { (max(count, 1) + 1 + (count >= 255 ? 1 : 0)) * 8 }

    /// Whether `bytes` more fit in old space now.
    public func oldSpaceHasRoom(for bytes: Int) -> Bool { oldTop + UInt64(bytes) <= oldLimit }

    /// Has the next safepoint run a full collection (a fault found no room: evicting may make some).
    public func collectSoon() {
        fullGCPending = true
        gcPending = true
    }

    /// Called by the fault handler when the objects asked for do not fit until a full collection has
    /// evicted some: it runs soon, and the send that needed them is sent again after it.
    public func faultFoundNoRoom() {
        collectSoon()
        faultNeedsRoom = true
    }

    /// Bytes of old space in use.
    public var oldSpaceBytes: Int { Int(oldTop - oldStart) }

    /// The room a fault keeps free when it loads more than it was asked for: a quarter of old space, the
    /// part above the level at which a full collection runs (and evicts).
    public var oldSpaceReserve: Int { Int(oldLimit - oldStart) / 4 }

    /// Makes a ghost the object it stands for: its class index and format are written into its header
    /// (identity hash and size stay), its slots set to nil (pointers) or its words to zero (bits), ready
    /// to be filled with `setImageSlot` / `setImageBytes`. It counts as loaded recently (Eviction.swift).
    public func materializeGhost(_ ghost: Oop, classIndex: Int, format: Int) {
        let h = headerOf(ghost) & ~(Header.classIndexMask | 31 << Header.formatShift)
        words(ghost).pointee = h | UInt64(classIndex) | UInt64(format) << Header.formatShift | Header.recentBit
        (words(ghost) + 1).update(repeating: Format.isPointers(format) ? nilObj : 0, count: max(numSlotsOf(ghost), 1))
    }

    /// The object to fill for a ghost being loaded as an object of `count` words (slots, or 64-bit words
    /// of bits): the ghost itself made that object when it has its size (`materializeGhost`), else a new
    /// object in old space with its identity hash, the ghost a forwarder to it. Nil when the heap is full.
    public func materialize(_ ghost: Oop, classIndex: Int, format: Int, words count: Int) -> Oop? {
        if !isSmallGhost(ghost) || numSlotsOf(ghost) == count {
            materializeGhost(ghost, classIndex: classIndex, format: format)
            return ghost
        }
        let pointers = Format.isPointers(format)
        guard let o = allocateImageObject(classIndex: classIndex, format: format, hash: hashOf(ghost),
                                          slotCount: pointers ? count : 0, byteCount: pointers ? 0 : count * 8) else { return nil }
        forward(ghost, to: o)
        return o
    }

    /// Loads `o` if it is a ghost; false if it is one and loading it failed (`faultError` says why).
    /// A small ghost becomes a forwarder: read the object through `loaded` instead.
    @discardableResult @inline(__always)
    public func ensureLoaded(_ o: Oop) -> Bool {
        isGhost(o) ? faultIn([o]) : true
    }

    /// Has the host load these ghosts (in place); false if it could not (`faultError` says why).
    @inline(never)
    public func faultIn(_ ghosts: [Oop]) -> Bool {
        guard let faultHandler else {
            noteFaultFailure("this object space has no image to load object \(ghosts.first.map(ghostOID) ?? 0) from")
            return false
        }
        faultNeedsRoom = false
        if let problem = faultHandler(ghosts) {
            noteFaultFailure(problem)
            return false
        }
        return true
    }

    private func noteFaultFailure(_ problem: String) {
        faultError = problem
        faultFailures &+= 1
    }

    /// The ghosts among a send's receiver and arguments (the top `nargs + 1` stack slots).
    @inline(__always)
    func ghostOperands(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int) -> [Oop] {
        var any = false
        for i in 0...nargs where isGhost(sp[i - nargs]) { any = true }
        return any ? (0...nargs).map { sp[$0 - nargs] }.filter(isGhost) : []
    }

    /// Whether a ghost or a forwarder is among a send's receiver and arguments.
    func unloadedOperands(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int) -> Bool {
        for i in 0...nargs {
            let o = sp[i - nargs]
            if isPointer(o) && o != 0 && VM.isUnloadedClassIndex(classIndexOfHeader(headerOf(o))) { return true }
        }
        return false
    }

    /// `Ghost`, the class at `ghostClassIndex`: no methods, no superclass, no instance variables, an
    /// instance of `Object class`; made anew in each object space (an image does not keep it).
    public func installGhostClass() {
        guard classTable[VM.ghostClassIndex] == 0 else { return }
        let saved = bootstrapping
        bootstrapping = true
        defer { bootstrapping = saved }
        let meta = classOf(root(.classObject))
        guard let cls = allocate(classIndex: hashOf(meta), format: Format.fixed, numSlots: ClassLayout.classSize, fill: nilObj),
              let dict = instantiate(root(.classMethodDictionary)), let array = newArray(8), let name = newString("Ghost")
        else { return }
        store(dict, DictLayout.tally, intOop(0))
        store(dict, DictLayout.array, array)
        store(cls, ClassLayout.methodDict, dict)
        store(cls, ClassLayout.format, intOop(Format.fixed << 16))
        store(cls, ClassLayout.instanceVariables, newArray(0) ?? nilObj)
        store(cls, ClassLayout.name, name)
        classTable[VM.ghostClassIndex] = cls
    }
}
