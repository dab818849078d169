// Eviction: when old space fills, a full collection turns loaded objects of the image back into ghosts
// in place, so that what only they referred to becomes garbage and is reclaimed; anything evicted is
// loaded again from its record when it is next used (Docs/VM.md, "Eviction").
//
// An evicted object keeps its address, identity hash and OID: every reference to it stays right and
// it is loaded again as a ghost that was never loaded — so `==`, `identityHash` and the fast paths need
// nothing new. An object of four words or more shrinks to a small ghost (loaded again through a
// forwarder), the rest of its words garbage; and everything it alone reached is reclaimed too (for a
// collection, its elements and theirs). An object reclaimed that way has no reference left in memory;
// the records that refer to it name its OID, and loading one of them makes it a ghost again with the
// identity hash its record keeps.
//
// Only objects whose record is exactly what memory holds are evicted: persistent, not changed since the
// last commit (the dirty bit), and reloadable as they are (the host says so: `reloadableOID`). Objects
// the VM reads without sending to them stay loaded (they are pinned for the duration of the eviction):
// what the roots and host handles refer to, classes and what they refer to, compiled code and its
// literals, closures, contexts, processes and the scheduler's lists, method dictionaries with their
// associations, and on every stack frame its receiver (when it has named instance variables or the
// frame's code reads them) and its temp vectors. Objects loaded since the previous eviction are kept
// unless keeping them is not enough.

extension VM {
    /// Live bytes above which a full collection evicts: half of old space.
    var evictionLevel: UInt64 { (oldLimit - oldStart) / 2 }

    /// Turns evictable objects into ghosts (those loaded since the last eviction too with
    /// `includingRecent`) and answers how many, and how many recent ones it kept; the marks of the
    /// collection that called it are cleared when any was evicted, so that it marks again. Every
    /// object's recent bit is cleared.
    func evictLoadedObjects(includingRecent: Bool, reloadableOID: (Oop) -> UInt64?) -> (evicted: Int, keptRecent: Int) {
        let readDirectly = [Root.classCompiledMethod, .classCompiledBlock, .classMethodDictionary, .classBlockClosure,
                            .classContext, .classProcess, .classSemaphore, .classLinkedList, .classProcessorScheduler,
                            .classMessage].map(classIndex)
        pinWhatTheVMReads(readDirectly)
        var victims: [(Oop, UInt64)] = []
        var keptRecent = 0
        forEachOldObject { o in
            let h = headerOf(o)
            guard h & (Header.markedBit | Header.persistentBit | Header.dirtyBit | Header.immutableBit | Header.pinnedBit)
                    == Header.markedBit | Header.persistentBit else { return }
            let format = Int((h >> Header.formatShift) & 31)
            let pointers = format >= Format.fixed && format <= Format.fixedIndexable
            guard pointers || format >= Format.words64, !readDirectly.contains(classIndexOfHeader(h)), !isClass(o),
                  canShrink(o) || pointers && refersToAnythingCollectable(o) else { return }
            if h & Header.recentBit != 0 && !includingRecent { keptRecent += 1; return }
            if let oid = reloadableOID(o) { victims.append((o, oid)) }
        }
        for (o, oid) in victims { turnIntoGhost(o, oid: oid) }
        let cleared = Header.pinnedBit | Header.recentBit | (victims.isEmpty ? 0 : Header.markedBit)
        forEachOldObject { if headerOf($0) & cleared != 0 { clearHeaderBits($0, cleared) } }
        evictedObjects += victims.count
        return (victims.count, keptRecent)
    }

    /// Whether a slot of `o` refers to an object that evicting `o` could free: not nil, true or false,
    /// not pinned. Evicting an object that refers to none would reclaim nothing (it keeps its size).
    private func refersToAnythingCollectable(_ o: Oop) -> Bool {
        let p = words(o) + 1
        let nilO = nilObj, trueO = trueObj, falseO = falseObj
        for i in 0..<numSlotsOf(o) {
            let v = p[i]
            if isPointer(v) && v >= oldStart && v < oldTop && v != nilO && v != trueO && v != falseO
                && headerOf(v) & Header.pinnedBit == 0 { return true }
        }
        return false
    }

    /// Whether evicting `o` shrinks it to a small ghost (its other words become garbage): it is bigger
    /// than a small ghost by two words at least.
    private func canShrink(_ o: Oop) -> Bool { numSlotsOf(o) >= VM.smallGhostWords + 2 }

    /// Makes a loaded object the ghost it was: its header names the Ghost class and format (identity
    /// hash and persistence stay). An object that can shrink becomes a small ghost (OID, then its size)
    /// followed by garbage that the compaction frees; any other keeps its size, its first slot holding
    /// its OID and the others nil.
    ///
    /// An object of 255 slots or more has an overflow word before its header, and its header must stay
    /// where it is (it is the object's oop). Its small ghost keeps that word, which now counts 2 slots:
    /// the header's count stays the overflow mark, so the heap walk reads the ghost as any object with
    /// an overflow word (4 words: overflow word, header, OID, size) and every walker stays as it is. Such
    /// a ghost, and the forwarder it may become, are the only objects whose overflow word counts fewer
    /// than 255 slots. The only code that trusts a header's 255 alone is the interpreter's access to the
    /// instance variables of a frame's receiver (`hasInstVar`), and a receiver whose code reads its
    /// instance variables is never evicted (`pinWhatTheCodeReads`).
    /// With or without an overflow word, the garbage after the ghost's header and two slots is `n - 2`
    /// words, where `n` is the object's slot count.
    func turnIntoGhost(_ o: Oop, oid: UInt64) {
        let n = numSlotsOf(o)
        if canShrink(o) {
            let overflow = hasOverflowWord(o)
            let kept = headerOf(o) & (Header.hashMask << Header.hashShift | Header.persistentBit)
            let count = overflow ? Header.overflowSlots : UInt64(VM.smallGhostWords)
            words(o).pointee = kept | UInt64(VM.ghostClassIndex) | UInt64(Format.ghost) << Header.formatShift | count << Header.slotsShift
            if overflow { words(o)[-1] = UInt64(VM.smallGhostWords) | Header.overflowSlots << Header.slotsShift }
            words(o)[1] = oid << 3 | Tag.smallInteger
            words(o)[2] = (UInt64(min(n, VM.ghostSizeLimit)) << VM.ghostSizeShift) << 3 | Tag.smallInteger
            fillWithGarbage(o + UInt64(VM.smallGhostWords + 1) * 8, words: n - VM.smallGhostWords)
            return
        }
        let kept = headerOf(o) & (Header.hashMask << Header.hashShift | Header.slotsMask | Header.persistentBit)
        words(o).pointee = kept | UInt64(VM.ghostClassIndex) | UInt64(Format.ghost) << Header.formatShift
        words(o)[1] = oid << 3 | Tag.smallInteger
        if n > 1 { (words(o) + 2).update(repeating: nilObj, count: n - 1) }
    }

    /// Makes the `count` words (2 or more) at `address` garbage the heap walk reads as objects of bytes,
    /// unmarked: the compaction frees them. Each has an overflow word only if it has 255 slots or more.
    private func fillWithGarbage(_ address: UInt64, words count: Int) {
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address)).unsafelyUnwrapped
        if count <= 255 {
            p.pointee = Header.make(classIndex: 0, format: Format.bytes, hash: 0, numSlots: count - 1)
        } else if count == 256 {
            // With an overflow word it would have 254 slots, without one 255: two objects instead.
            fillWithGarbage(address, words: 2)
            fillWithGarbage(address + 16, words: 254)
        } else {
            p.pointee = UInt64(count - 2) | Header.overflowSlots << Header.slotsShift
            p[1] = Header.make(classIndex: 0, format: Format.bytes, hash: 0, numSlots: count - 2)
        }
    }

    // MARK: What stays loaded

    /// Sets the pinned bit of every object the VM reads without sending to it (see the file's comment).
    /// `readDirectly`: the class indexes of compiled methods, compiled blocks, method dictionaries, then
    /// the other classes whose instances the VM reads directly; those instances, and classes, are never
    /// evicted themselves.
    private func pinWhatTheVMReads(_ readDirectly: [Int]) {
        for i in 0..<Root.allCases.count {
            pin(roots[i])
            pinReferents(roots[i])
        }
        for i in 0..<handleCount { pin(handles[i]) }
        for (index, stack) in stacks.enumerated() where stack.inUse {
            let active = index == activeStackIndex
            let top = active ? sp : stack.sp, frame = active ? hdr : stack.hdr
            if frame == nil || !pinFrames(from: frame, base: stack.base, top: top) {
                var p = stack.base
                while p <= top { pin(p.pointee); p += 1 }
            }
        }
        let method = readDirectly[0], block = readDirectly[1], dictionary = readDirectly[2]
        let readWhole = readDirectly.dropFirst(3)
        forEachOldObject { o in
            let ci = classIndexOfHeader(headerOf(o))
            if ci == VM.ghostClassIndex { return }
            if ci == method || ci == block {
                pinReferents(o)
                if numSlotsOf(o) > CodeLayout.literals { pinReferents(fetch(o, CodeLayout.literals)) }
            } else if ci == dictionary {
                pinReferents(o)
                if numSlotsOf(o) > DictLayout.array { pinReferents(fetch(o, DictLayout.array)) }
            } else if readWhole.contains(ci) || isClass(o) {
                pinReferents(o)
            }
        }
    }

    @inline(__always) private func pin(_ o: Oop) {
        if isPointer(o) && o >= oldStart && o < oldTop { setHeaderBits(o, Header.pinnedBit) }
    }

    private func pinReferents(_ o: Oop) {
        guard isPointer(o) && o >= oldStart && o < oldTop else { return }
        let format = formatOf(o)
        guard Format.isPointers(format) else { return }
        let p = words(o) + 1
        for i in 0..<tracedSlotCount(o, format: format) { pin(p[i]) }
    }

    /// Pins, in each frame from `frame` down, what the frame's code reads directly: its receiver's
    /// named instance variables, its temp vectors (found from its bytecodes), its method, closure and
    /// context. False if the frames do not chain as they should (the caller then pins the whole stack).
    private func pinFrames(from frame: UnsafeMutablePointer<UInt64>?, base: UnsafeMutablePointer<UInt64>,
                           top: UnsafeMutablePointer<UInt64>) -> Bool {
        var f = frame
        while let fp = f {
            guard fp >= base && fp + Frame.headerSize - 1 <= top else { return false }
            let receiver = fp[FrameSlot.receiver]
            if isPointer(receiver) && receiver >= oldStart && receiver < oldTop {
                let format = formatOf(receiver)
                if format == Format.fixed || format == Format.fixedIndexable || format == Format.weak { pin(receiver) }
            }
            pin(fp[FrameSlot.method])
            pin(fp[FrameSlot.closure])
            pin(fp[FrameSlot.context])
            guard pinWhatTheCodeReads(of: fp, top: top) else { return false }
            let caller = fp[FrameSlot.caller]
            if caller == FrameSlot.bottomFrame { return true }
            guard isSmallInt(caller) else { return false }
            let next = oopAddress(caller)
            guard next < fp else { return false }
            f = next
        }
        return true
    }

    /// Pins the temp vectors the frame's code reads (`pushRemoteTemp` and the stores name their frame
    /// slot), and its receiver if the code reads or stores the receiver's instance variables: those
    /// bytecodes trust the header's slot count, so they must never meet a ghost (of an object with an
    /// overflow word, whose header counts 255 slots for its 2: see `turnIntoGhost`).
    private func pinWhatTheCodeReads(of fp: UnsafeMutablePointer<UInt64>, top: UnsafeMutablePointer<UInt64>) -> Bool {
        let code = fp[FrameSlot.method]
        guard isPointer(code), code != 0, !isGhost(code), numSlotsOf(code) > CodeLayout.bytecodes else { return false }
        let bytecodes = fetch(code, CodeLayout.bytecodes)
        guard isPointer(bytecodes), bytecodes != 0, Format.isBytes(formatOf(bytecodes)) else { return false }
        let bytes = bytesOf(bytecodes), count = numSlotsOf(bytecodes) * 8 - (formatOf(bytecodes) & 7)
        var i = 0
        while i < count {
            guard let op = Opcode(rawValue: bytes[i]) else { return false }
            if op == .pushRemoteTemp || op == .storeRemoteTemp || op == .popStoreRemoteTemp, i + 2 < count {
                let slot = fp + Int(Int8(bitPattern: bytes[i + 2]))
                if slot <= top { pin(slot.pointee) }
            } else if op.accessesInstanceVariable {
                pin(fp[FrameSlot.receiver])
            }
            i += op.length
        }
        return true
    }
}

extension Opcode {
    /// Whether the instruction reads or stores an instance variable of the receiver.
    var accessesInstanceVariable: Bool {
        switch self {
        case .pushInstVar, .storeInstVar, .popStoreInstVar, .pushInstVarTemp, .instVarAtTemp, .incrementInstVar,
             .branchInstVarInt8, .pushInstVarInstVar: return true
        default: return false
        }
    }
}
