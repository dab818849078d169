// Object memory: regions, allocation, the write barrier, the class table and host handles.

import Foundation

extension VM {
    func setUpMemory() throws {
        let eden = UInt64(config.edenBytes), surv = UInt64(config.survivorBytes)
        let newBytes = Int(eden + 2 * surv)
        let newBase = UInt64(UInt(bitPattern: VM.mapOrDie(newBytes)))
        newStart = newBase; newEnd = newBase + UInt64(newBytes)
        edenStart = newBase; edenTop = newBase; edenEnd = newBase + eden
        edenLimit = edenEnd - min(eden / 8, 256 << 10)
        fullEdenLimit = edenLimit
        survivorBytes = surv
        pastStart = edenEnd; pastTop = pastStart
        futureStart = edenEnd + surv; futureTop = futureStart
        oldReserved = config.heapLimitBytes + Int(VM.tenuringReserveScavenges) * newBytes
        oldStart = UInt64(UInt(bitPattern: VM.mapOrDie(oldReserved)))
        oldTop = oldStart
        oldLimit = oldStart + UInt64(config.heapLimitBytes)
        oldEnd = oldStart + UInt64(oldReserved)
        fullGCThreshold = nextFullGCThreshold()
        setUpCards()
    }

    // MARK: Allocation

    @inline(__always) func nextHash() -> Int {
        hashState = hashState &* 6364136223846793005 &+ 1442695040888963407
        let h = Int((hashState >> 33) & Header.hashMask)
        return h == 0 ? 1 : h
    }

    /// Allocates an object with every slot set to `fill` (nil for pointers, 0 for bits).
    /// Never collects: past the eden limit it flags a scavenge for the next safepoint; when eden is
    /// full it allocates in old space; nil only when the heap limit is reached.
    @inline(__always)
    public func allocate(classIndex: Int, format: Int, numSlots: Int, fill: Oop, hash: Int = 0) -> Oop? {
        // An object occupies at least 16 bytes (the scavenger forwards through slot 0) but its header
        // records its true slot count, which may be 0.
        let overflow = numSlots >= 255
        let bytes = UInt64((max(numSlots, 1) + 1 + (overflow ? 1 : 0)) * 8)
        var start: UInt64
        if bootstrapping {
            guard let s = allocateOld(bytes) else { return nil }
            start = s
        } else if edenTop + bytes <= edenLimit && bytes < 64 << 10 {
            start = edenTop; edenTop += bytes
        } else if edenTop + bytes <= edenEnd && bytes < 64 << 10 {
            start = edenTop; edenTop += bytes      // the reserve past the limit: collect soon
            gcPending = true
        } else {
            guard let s = allocateOld(bytes) else { return nil }
            start = s
            gcPending = true
        }
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(start)).unsafelyUnwrapped
        var obj = p
        if overflow { p.pointee = UInt64(numSlots) | (Header.overflowSlots << Header.slotsShift); obj = p + 1 }
        obj.pointee = Header.make(classIndex: classIndex, format: format, hash: hash == 0 ? nextHash() : hash, numSlots: numSlots)
        (obj + 1).initialize(repeating: fill, count: max(numSlots, 1))
        return UInt64(UInt(bitPattern: obj))
    }

    func allocateOld(_ bytes: UInt64) -> UInt64? {
        if oldTop + bytes > lowSpaceLevel {
            noteLowSpace()
            if oldTop + bytes > oldLimit { return nil }
        }
        let s = oldTop
        oldTop += bytes
        if oldTop > fullGCThreshold { fullGCPending = true; gcPending = true }
        return s
    }

    /// Old space is nearly full past this (1/64 of the heap limit left).
    var lowSpaceLevel: UInt64 { oldLimit - (oldLimit - oldStart) / 64 }

    /// Old space is nearly full: a full collection runs first (the threshold may lie past the limit),
    /// and lowSpace is signalled only if old space is still nearly full after it.
    func noteLowSpace() {
        if !lowSpaceSignalled { fullGCPending = true }
        lowSpacePending = true
        gcPending = true
    }

    /// How many scavenges' worth of tenuring (each at most the young space) old space keeps room for
    /// past the heap limit. The safepoint ends the active process when a full collection leaves less
    /// than `tenuringReserveScavenges - 1` of them (`heapExhausted`): scavenges outside safepoints
    /// (`become`, moving classes) come one at a time between safepoints.
    static let tenuringReserveScavenges: UInt64 = 4

    /// Whether old space has grown so far into the tenuring reserve that the next scavenges might not fit.
    var heapExhausted: Bool { oldTop > oldLimit + (newEnd - newStart) }

    // MARK: Spaces and the write barrier

    @inline(__always) func isYoung(_ o: Oop) -> Bool { o >= newStart && o < newEnd }
    @inline(__always) func isOld(_ o: Oop) -> Bool { o >= oldStart && o < oldTop }

    /// Every pointer store into a heap object goes through here: it remembers old objects that
    /// point to young ones (and marks the slot's card, Cards.swift), and notes changes to persistent
    /// objects (which are all old) for the store (`noteChanged`, Docs/VM.md). A young object costs
    /// one range test.
    @inline(__always) public func store(_ obj: Oop, _ i: Int, _ value: Oop) {
        let slot = words(obj) + 1 + i
        slot.pointee = value
        if obj >= oldStart && obj < oldEnd {
            if isPointer(value) && value >= newStart && value < newEnd { remember(obj, slot: slot) }
            noteChanged(obj)
        }
    }

    /// Fills an inline cache (the two literal-frame slots after a send's selector): a store, but not
    /// a change of the object, since images do not keep inline caches (`imageLiterals`).
    @inline(__always) func fillInlineCache(_ literals: Oop, _ i: Int, _ key: Oop, _ method: Oop) {
        words(literals)[1 + i] = key
        words(literals)[2 + i] = method
        if literals >= oldStart && literals < oldEnd && isPointer(method) && method >= newStart && method < newEnd {
            remember(literals, slot: words(literals) + 2 + i)
        }
    }

    /// An old object received a young pointer in `slot`: its card is marked (a single byte store, cheaper
    /// than asking whether the object is large enough to be scanned by card) and the object remembered.
    @inline(__always) func remember(_ obj: Oop, slot: UnsafeMutablePointer<Oop>) {
        card(UInt64(UInt(bitPattern: slot))).pointee = 1
        remember(obj)
    }

    @inline(__always) func remember(_ obj: Oop) {
        if words(obj).pointee & Header.rememberedBit == 0 { addToRememberedSet(obj) }
    }

    /// The rare half of `remember`, out of line so that the interpreter's stores stay small.
    @inline(never) private func addToRememberedSet(_ obj: Oop) {
        setHeaderBits(obj, Header.rememberedBit)
        if rememberedCount == rememberedCapacity {
            let bigger = UnsafeMutablePointer<Oop>.allocate(capacity: rememberedCapacity * 2)
            bigger.moveInitialize(from: remembered, count: rememberedCount)
            remembered.deallocate()
            remembered = bigger; rememberedCapacity *= 2
        }
        remembered[rememberedCount] = obj
        rememberedCount += 1
    }

    // MARK: Classes

    @inline(__always) public func classIndexOf(_ o: Oop) -> Int {
        let tag = o & Tag.mask
        return tag != 0 ? Int(tag) : classIndexOfHeader(headerOf(o))
    }
    /// The class of `o`; a ghost is loaded first (if that fails, the answer is the `Ghost` class), a
    /// forwarder followed.
    @inline(__always) public func classOf(_ o: Oop) -> Oop {
        let index = classIndexOf(o)
        if VM.isUnloadedClassIndex(index) { return classOfUnloaded(o) }
        return classTable[index]
    }

    @inline(never) private func classOfUnloaded(_ o: Oop) -> Oop {
        classTable[classIndexOf(loaded(o) ?? o)]
    }
    @inline(__always) public func classAt(_ index: Int) -> Oop { classTable[index] }

    /// Reserves a class-table index for a class object: the first after the table's last entry and
    /// not below `classIndexFloor`.
    public func newClassIndex() -> Int? {
        let index = max(classTableCount, classIndexFloor)
        guard index < VM.classTableCapacity else { return nil }
        for i in classTableCount..<index { classTable[i] = 0 }
        classTableCount = index + 1
        return index
    }
    public func setClass(_ cls: Oop, at index: Int) { classTable[index] = cls }

    /// The class-table index of a class object (its identity hash), registering it if needed.
    public func indexOfClass(_ cls: Oop) -> Int? {
        if isForwarder(cls) { return nil }
        let h = hashOf(cls)
        if h < classTableCount && classTable[h] == cls { return h }
        guard let index = newClassIndex() else { return nil }
        words(cls).pointee = (headerOf(cls) & ~(Header.hashMask << Header.hashShift)) | (UInt64(index) << Header.hashShift)
        noteChanged(cls)
        classTable[index] = cls
        return index
    }

    // MARK: Host handles (roots held by Swift code)

    /// Keeps `o` alive and up to date across collections until `releaseHandles(to:)`.
    public func handle(_ o: Oop) -> Int {
        if handleCount == handleCapacity {
            let bigger = UnsafeMutablePointer<Oop>.allocate(capacity: handleCapacity * 2)
            bigger.moveInitialize(from: handles, count: handleCount)
            handles.deallocate(); handles = bigger; handleCapacity *= 2
        }
        handles[handleCount] = o
        handleCount += 1
        return handleCount - 1
    }
    public func handleValue(_ h: Int) -> Oop { handles[h] }
    public func releaseHandles(to mark: Int) { handleCount = mark }
    public var handleMark: Int { handleCount }
}
