// Saving and opening an object space: what the image writer reads from the VM and how the image
// reader rebuilds one. The store itself lives outside VMCore (LivingObjects/ImagePersistence.swift).

import Foundation

/// An object's contents as the image keeps them.
public enum ImageContents {
    /// Pointer objects: VM values (references are oops).
    case slots([Oop])
    /// Byte and word objects: their bytes, unused trailing bytes left out.
    case bytes([UInt8])
}

/// The VM state that is not in any object: roots, the class table, the identity-hash generator
/// and the inline-cache epoch.
public struct ImageSpecials {
    /// Every `Root`, in order; 0 becomes nil.
    public var roots: [Oop]
    /// Class-table entries 0..<count; empty entries are nil.
    public var classTable: [Oop]
    public var hashState: UInt64
    public var cacheEpoch: UInt64

    public init(roots: [Oop], classTable: [Oop], hashState: UInt64, cacheEpoch: UInt64) {
        self.roots = roots; self.classTable = classTable; self.hashState = hashState; self.cacheEpoch = cacheEpoch
    }
}

extension VM {
    // MARK: Saving

    /// Makes every object old (so addresses stay put until the next full collection, which reports
    /// moves through `objectsMoved`) and answers the roots to save. Processes and evaluation results
    /// are not part of an image. May run in the middle of an evaluation (a commit from Smalltalk):
    /// the interpreter must then reload its registers.
    public func prepareImageSave() throws -> ImageSpecials {
        scavenge(tenureAll: true)
        return imageSpecials()
    }

    /// The roots and class table to save, as they are now (`prepareImageSave` without making every
    /// object old first: only objects that are to get an OID must be old).
    public func imageSpecials() -> ImageSpecials {
        var saved = (0..<Root.allCases.count).map { roots[$0] == 0 ? nilObj : roots[$0] }
        saved[Root.evalProcess.rawValue] = nilObj
        saved[Root.evalResult.rawValue] = nilObj
        // The Ghost class is made anew by each object space: it is not saved. Nor is an entry whose class
        // has another index: a class that `become` replaced (redefined) leaves its index to the class
        // that replaced it, for its instances in memory; stored ones are migrated when they load.
        let table = (0..<classTableCount).map { i -> Oop in
            let cls = classTable[i]
            return cls == 0 || i == VM.ghostClassIndex || hashOf(cls) != i ? nilObj : cls
        }
        return ImageSpecials(roots: saved, classTable: table, hashState: hashState, cacheEpoch: cacheEpochBits)
    }

    /// The words `imageSpecials` reads, as they are now: the roots (but those of the running
    /// evaluation, which are not saved), the size of the class table, its entries. While these words
    /// stay the same, so does what `imageSpecials` answers as long as no object in it changes its
    /// record's identity (a collection moving one changes the words that refer to it; a class changing
    /// index changes its entries), so a commit can tell cheaply that the roots and class table are as
    /// it last saved them (`imageSpecialsAre`).
    public func imageSpecialsWords() -> [Oop] {
        let count = Root.allCases.count
        var result = [Oop](repeating: 0, count: count + 1 + classTableCount)
        result.withUnsafeMutableBufferPointer { w in
            for i in 0..<count { w[i] = roots[i] }
            w[Root.evalProcess.rawValue] = 0
            w[Root.evalResult.rawValue] = 0
            w[count] = UInt64(classTableCount)
            (w.baseAddress! + count + 1).update(from: classTable, count: classTableCount)
        }
        return result
    }

    /// Whether `imageSpecialsWords` would answer `words` now.
    public func imageSpecialsAre(_ words: [Oop]) -> Bool {
        let count = Root.allCases.count
        guard words.count == count + 1 + classTableCount, words[count] == UInt64(classTableCount) else { return false }
        return words.withUnsafeBufferPointer { w in
            for i in 0..<count where w[i] != roots[i] && i != Root.evalProcess.rawValue && i != Root.evalResult.rawValue {
                return false
            }
            return memcmp(w.baseAddress! + count + 1, classTable, classTableCount * 8) == 0
        }
    }

    /// Whether `o` is in the young space: it must be made old (`prepareImageSave`) before it gets an OID.
    public func isYoungObject(_ o: Oop) -> Bool { isPointer(o) && isYoung(o) }

    /// Full collections so far: addresses of old objects are stable while this does not change.
    public var fullCollections: Int { fullGCCount }

    public func imageHeader(of o: Oop) -> (classIndex: Int, format: Int, hash: Int) {
        (classIndexOfHeader(headerOf(o)), formatOf(o), hashOf(o))
    }

    /// The contents to save. Process stacks live outside the heap and are not saved (see
    /// `liveProcessState`): the image keeps a quiescent version of the running processes' state.
    public func imageContents(of o: Oop) -> ImageContents {
        let format = formatOf(o), n = numSlotsOf(o)
        guard Format.isPointers(format) else {
            let byteCount: Int
            if Format.isBytes(format) { byteCount = n * 8 - (format & 7) }
            else if Format.isWords32(format) { byteCount = n * 8 - (format & 1) * 4 }
            else { byteCount = n * 8 }
            return .bytes(Array(UnsafeBufferPointer(start: bytesOf(o), count: max(0, byteCount))))
        }
        var slots = Array(UnsafeBufferPointer(start: words(o) + 1, count: n))
        // A reference to a forwarder is one to its object (which has the OID).
        if forwardersMayBeReferenced {
            for i in slots.indices where isForwarder(slots[i]) { slots[i] = fetch(slots[i], 0) }
        }
        switch liveProcessState(o) {
        case nil: break
        case .process?:
            for i in [ProcessLayout.nextLink, ProcessLayout.suspendedContext, ProcessLayout.myList, ProcessLayout.stackId] {
                slots[i] = nilObj
            }
        case .processList?: slots[ListLayout.firstLink] = nilObj; slots[ListLayout.lastLink] = nilObj
        case .marriedContext?: slots[ContextLayout.frame] = nilObj; slots[ContextLayout.pc] = nilObj
        case .scheduler?: slots[SchedulerLayout.activeProcess] = nilObj
        }
        return .slots(slots)
    }

    /// The kinds of object whose live state is the running processes' and is not saved as it is:
    /// a process that has a stack is saved terminated, a process list holding processes empty, a
    /// context married to a frame dead, and the scheduler with no active process.
    public enum LiveProcessState { case process, processList, marriedContext, scheduler }

    /// What part of the running processes' state `o` is, if any (an abort leaves such objects alone).
    public func liveProcessState(_ o: Oop) -> LiveProcessState? {
        guard isPointer(o), Format.isPointers(formatOf(o)) else { return nil }
        let ci = classIndexOfHeader(headerOf(o)), n = numSlotsOf(o)
        if o == scheduler { return n > SchedulerLayout.activeProcess ? .scheduler : nil }
        if ci == classIndex(.classProcess) {
            return n >= ProcessLayout.size && stackIndex(ofProcess: o) != nil ? .process : nil
        }
        if ci == classIndex(.classLinkedList) || ci == classIndex(.classSemaphore) {
            guard n >= 2 else { return nil }
            let first = fetch(o, ListLayout.firstLink)
            return isPointer(first) && first != nilObj && classIndexOf(first) == classIndex(.classProcess) ? .processList : nil
        }
        if ci == classIndex(.classContext) {
            return n >= ContextLayout.size && isSmallInt(fetch(o, ContextLayout.frame)) ? .marriedContext : nil
        }
        return nil
    }

    /// The literal frame of compiled code as an image keeps it: the two inline-cache slots after each
    /// send's selector and each float block's program slot are empty, so running code does not change
    /// what is saved. Nil for other objects.
    public func imageLiterals(of code: Oop) -> (literals: Oop, contents: ImageContents)? {
        guard isPointer(code) else { return nil }
        let ci = classIndexOfHeader(headerOf(code))
        guard ci == classIndex(.classCompiledMethod) || ci == classIndex(.classCompiledBlock),
              numSlotsOf(code) > CodeLayout.literals else { return nil }
        let literals = fetch(code, CodeLayout.literals), bytecodes = fetch(code, CodeLayout.bytecodes)
        guard isPointer(literals), Format.isPointers(formatOf(literals)), isPointer(bytecodes), Format.isBytes(formatOf(bytecodes)),
              case .slots(var slots) = imageContents(of: literals), case .bytes(let bytes) = imageContents(of: bytecodes) else { return nil }
        var pc = 0
        while pc < bytes.count, let op = Opcode(rawValue: bytes[pc]) {
            if op == .send || op == .superSend, pc + 2 < bytes.count {
                let lit = Int(bytes[pc + 1]) | Int(bytes[pc + 2]) << 8
                if lit + 2 < slots.count { slots[lit + 1] = nilObj; slots[lit + 2] = nilObj }
            }
            if op == .floatBlock, pc + 2 < bytes.count {
                let lit = Int(bytes[pc + 1]) | Int(bytes[pc + 2]) << 8
                if lit < slots.count { slots[lit] = nilObj }
            }
            pc += op.length
        }
        return (literals, .slots(slots))
    }

    // MARK: Opening

    /// Allocates one object of an image in old space, its slots nil (pointers) or zero (bits).
    /// `byteCount` is used by non-pointer formats; nil when the heap limit is reached.
    public func allocateImageObject(classIndex: Int, format: Int, hash: Int, slotCount: Int, byteCount: Int) -> Oop? {
        let pointers = Format.isPointers(format)
        let n = pointers ? slotCount : (byteCount + 7) / 8
        let saved = bootstrapping
        bootstrapping = true
        defer { bootstrapping = saved }
        guard let o = allocate(classIndex: classIndex, format: format, numSlots: n, fill: pointers ? nilObj : 0, hash: hash)
        else { return nil }
        setHeaderBits(o, Header.recentBit)
        return o
    }

    /// Sets a slot of an object being loaded (old space). Its referents are persistent, so old, and the
    /// change is the image's own: no dirty bit. Were one young, the object is remembered all the same.
    public func setImageSlot(_ o: Oop, _ i: Int, _ value: Oop) {
        let slot = words(o) + 1 + i
        slot.pointee = value
        if isPointer(value) && isYoung(value) && o >= oldStart && o < oldEnd { remember(o, slot: slot) }
    }

    /// Copies bytes into an object being loaded, at a byte offset (the caller checks the size).
    public func setImageBytes(_ o: Oop, at offset: Int = 0, _ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        UnsafeMutableRawPointer(bytesOf(o) + offset).copyMemory(from: source, byteCount: bytes.count)
    }

    /// The object's slot count as allocated (checks a loaded record against its object).
    public func imageSlotCount(_ o: Oop) -> Int { numSlotsOf(o) }

    /// How many slots of the object hold values (objects or immediates): all of a pointer object's, none
    /// of a byte or word object's (whose slots `fetchSlot` would read as raw words).
    public func valueSlotCount(_ o: Oop) -> Int { Format.isPointers(formatOf(o)) ? numSlotsOf(o) : 0 }

    /// Installs the roots and class table of an opened image. Every class must have its class index
    /// as identity hash; every inline cache saved with the image is made stale.
    public func installImageSpecials(_ specials: ImageSpecials) throws {
        guard specials.roots.count == Root.allCases.count else {
            throw VMError.badImage("it has \(specials.roots.count) VM roots, this VM has \(Root.allCases.count)")
        }
        guard specials.classTable.count >= 8, specials.classTable.count <= VM.classTableCapacity else {
            throw VMError.badImage("a class table of \(specials.classTable.count) entries")
        }
        for (i, r) in specials.roots.enumerated() { roots[i] = r }
        evalProcess = 0; evalResult = 0
        let nilOop = roots[Root.nilObject.rawValue]
        for (i, cls) in specials.classTable.enumerated() {
            if cls == nilOop || i == 0 { classTable[i] = 0; continue }
            guard isPointer(cls), hashOf(cls) == i, i != VM.ghostClassIndex else {
                throw VMError.badImage("class-table entry \(i) is not a class with that index")
            }
            classTable[i] = cls
        }
        classTableCount = specials.classTable.count
        hashState = specials.hashState
        cacheEpochBits = specials.cacheEpoch
        invalidateMethodCaches()
        flushMethodCache()
    }

    // MARK: Aborting

    /// After an abort put back the committed versions of objects: installs the roots and class-table
    /// entries of the committed state. The running processes' roots stay, and so does a class-table
    /// entry the committed state leaves empty (a class made since may still have instances). Every
    /// method cache is made stale: method dictionaries may have changed.
    public func refreshImageSpecials(roots newRoots: [Oop], classTable newTable: [Oop]) throws {
        guard newRoots.count == Root.allCases.count else {
            throw VMError.badImage("it has \(newRoots.count) VM roots, this VM has \(Root.allCases.count)")
        }
        guard newTable.count <= VM.classTableCapacity else { throw VMError.badImage("a class table of \(newTable.count) entries") }
        for (i, cls) in newTable.enumerated() where i > 0 && cls != nilObj {
            guard isPointer(cls), hashOf(cls) == i, i != VM.ghostClassIndex else {
                throw VMError.badImage("class-table entry \(i) is not a class with that index")
            }
        }
        let running: Set<Root> = [.processor, .evalProcess, .evalResult]
        for (i, r) in newRoots.enumerated() where !running.contains(Root(rawValue: i)!) {
            if r == nilObj && roots[i] == 0 { continue }
            roots[i] = r
        }
        if newTable.count > classTableCount {
            for i in classTableCount..<newTable.count { classTable[i] = 0 }
            classTableCount = newTable.count
        }
        for (i, cls) in newTable.enumerated() where i > 0 && cls != nilObj { classTable[i] = cls }
        invalidateMethodCaches()
        flushMethodCache()
    }
}
