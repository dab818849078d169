// Giving class-table entries back: an abort forgets the classes made since the last commit, and their
// class indices must not stay taken (nor be taken twice when another session committed a class there).

extension VM {
    /// Moves the classes registered at `indices` to new class indices: their instances' headers and
    /// their identity hashes change with them. Answers old index → new index (the heap limit of the
    /// class table may leave some where they are).
    @discardableResult
    public func moveClasses(from indices: [Int]) -> [Int: Int] {
        scavenge(tenureAll: true)
        var moves: [Int: Int] = [:]
        for i in indices {
            guard let cls = registeredClass(at: i), let new = newClassIndex() else { continue }
            moves[i] = new
            words(cls).pointee = headerOf(cls) & ~(Header.hashMask << Header.hashShift) | UInt64(new) << Header.hashShift
            classTable[new] = cls
            classTable[i] = 0
        }
        if moves.isEmpty { return moves }
        forEachOldObject { o in
            let h = headerOf(o)
            if let new = moves[classIndexOfHeader(h)] {
                words(o).pointee = h & ~Header.classIndexMask | UInt64(new)
            }
        }
        invalidateMethodCaches()
        flushMethodCache()
        return moves
    }

    /// Empties the class-table entries among `indices` that no object needs: no instance of the class
    /// registered there exists, other than classes among them (a class's metaclass is needed while the
    /// class is). Then the table ends after its last entry in use, but not before `floor`. Call after a
    /// full collection, so that garbage does not count. Answers the indices emptied.
    @discardableResult
    public func releaseClassIndices(_ indices: Set<Int>, floor: Int) -> Set<Int> {
        let candidates = indices.filter { $0 > VM.ghostClassIndex && $0 < classTableCount && classTable[$0] != 0 }
        if candidates.isEmpty { return [] }
        scavenge(tenureAll: true)
        let classes = Set(candidates.map { classTable[$0] })
        var used = Set<Int>()
        forEachOldObject { o in
            let index = classIndexOfHeader(headerOf(o))
            if candidates.contains(index) && !classes.contains(o) { used.insert(index) }
        }
        var work = Array(used)
        while let i = work.popLast() {
            let meta = classIndexOfHeader(headerOf(classTable[i]))
            if candidates.contains(meta) && used.insert(meta).inserted { work.append(meta) }
        }
        let released = candidates.subtracting(used)
        for i in released { classTable[i] = 0 }
        while classTableCount > max(floor, VM.ghostClassIndex + 1) && classTable[classTableCount - 1] == 0 { classTableCount -= 1 }
        invalidateMethodCaches()
        flushMethodCache()
        return released
    }
}

extension VM {
    /// How many class-table entries there are (used or empty).
    public var classTableSize: Int { classTableCount }

    /// The class-table entry at `index` (0 when empty): a class, or a class that replaced it (`become`).
    public func classTableEntry(_ index: Int) -> Oop { index >= 0 && index < classTableCount ? classTable[index] : 0 }
}
