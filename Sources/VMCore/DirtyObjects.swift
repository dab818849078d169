// Persistent objects and the dirty list: which objects have a record in the image, and which of them
// changed since the last commit or abort (so that a commit costs what changed, not the heap).

extension VM {
    /// Notes a change to `o`: when it is persistent and not dirty yet, sets its dirty bit and appends
    /// it to the dirty list. Every store into an old object calls this (through the write barrier);
    /// so must every primitive that changes an object's bytes, words, slots or header in place, and the
    /// host when it gives an object another record (an image session moving OIDs after `become:`).
    @inline(__always) public func noteChanged(_ o: Oop) {
        if headerOf(o) & (Header.persistentBit | Header.dirtyBit) == Header.persistentBit { markDirty(o) }
    }

    @inline(never) private func markDirty(_ o: Oop) {
        setHeaderBits(o, Header.dirtyBit)
        dirty.push(o)
    }

    /// `o` has a record in the image from now on (an old object: persistent objects never move
    /// except by a full collection, which keeps the dirty list up to date).
    public func makePersistent(_ o: Oop) {
        assert(isOld(o), "only old objects can be persistent")
        setHeaderBits(o, Header.persistentBit)
    }

    /// `o` no longer has a record of its own (a commit that gave it an OID failed, or an abort
    /// replaced it). It stays on the dirty list, if it is on it, until the list is cleared.
    public func makeTransient(_ o: Oop) { clearHeaderBits(o, Header.persistentBit) }

    public func isPersistent(_ o: Oop) -> Bool { isPointer(o) && headerOf(o) & Header.persistentBit != 0 }

    /// The persistent objects changed since the list was last cleared, each once.
    public var changedObjects: [Oop] {
        var changed: [Oop] = []
        changed.reserveCapacity(dirty.count)
        for i in 0..<dirty.count where headerOf(dirty.base[i]) & Header.persistentBit != 0 { changed.append(dirty.base[i]) }
        return changed
    }

    /// After a commit wrote the changes, or an abort undid them: nothing is dirty.
    public func clearChangedObjects() {
        for i in 0..<dirty.count { clearHeaderBits(dirty.base[i], Header.dirtyBit) }
        dirty.count = 0
    }

    /// A full collection moves the dirty list along with the objects (`newAddress` nil: garbage).
    func forwardChangedObjects(_ newAddress: (Oop) -> Oop?) {
        var kept = 0
        for i in 0..<dirty.count {
            if let moved = newAddress(dirty.base[i]) { dirty.base[kept] = moved; kept += 1 }
        }
        dirty.count = kept
    }

    /// After `become`: compiled code whose literal frame changed is noted too, so that a commit can
    /// save that frame without its inline caches (they are found from the code's bytecodes).
    func noteChangedCode(_ code: [Oop]) {
        for c in code where numSlotsOf(c) > CodeLayout.literals {
            let literals = fetch(c, CodeLayout.literals)
            if isPointer(literals) && headerOf(literals) & Header.dirtyBit != 0 { noteChanged(c) }
        }
    }
}
