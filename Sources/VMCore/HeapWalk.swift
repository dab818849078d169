// Whole-heap operations: become:, allInstances, someObject/nextObject.

extension VM {
    /// Walks every object in old space (call after `scavenge(tenureAll: true)`).
    func forEachOldObject(_ body: (Oop) -> Void) {
        var scan = oldStart
        while scan < oldTop {
            let o = objectAt(scan)
            scan += UInt64(objectBytes(o))
            body(o)
        }
    }

    /// A debugging aid (tests): walks old space object by object and answers the first thing wrong — a
    /// walk that does not end at the top, an object whose class index names no class, a reference into
    /// old space that is not to an object the walk found — or nil.
    func oldSpaceProblem() -> String? {
        var objects = Set<Oop>()
        var scan = oldStart
        while scan < oldTop {
            let o = objectAt(scan)
            let ci = classIndexOfHeader(headerOf(o))
            guard ci < classTableCount && (classTable[ci] != 0 || VM.isUnloadedClassIndex(ci)) else {
                return "the object at \(o - oldStart) has class index \(ci)"
            }
            objects.insert(o)
            scan += UInt64(objectBytes(o))
        }
        guard scan == oldTop else { return "the walk ends \(scan - oldTop) bytes past the top" }
        for o in objects {
            let p = words(o) + 1
            for i in 0..<tracedSlotCount(o, format: formatOf(o)) where isPointer(p[i]) && isOld(p[i]) && !objects.contains(p[i]) {
                return "slot \(i) of the object at \(o - oldStart) refers to no object (\(p[i] - oldStart))"
            }
        }
        return nil
    }

    /// Replaces references: each `from[i]` by `to[i]`, and (two-way) each `to[i]` by `from[i]`.
    /// Notes as changed every persistent object whose slots changed, and every persistent instance of
    /// a class whose class-table entry changed (its record names its class). Answers the pairs as they
    /// are now (a young object was made old first, and moved).
    @discardableResult
    public func become(_ from: [Oop], _ to: [Oop], twoWay: Bool) -> [(from: Oop, to: Oop)] {
        withFramesHoldingPCs { replaceReferences(from, to, twoWay: twoWay) }
    }

    private func replaceReferences(_ from: [Oop], _ to: [Oop], twoWay: Bool) -> [(from: Oop, to: Oop)] {
        let mark = handleMark
        let fromH = from.map { handle($0) }, toH = to.map { handle($0) }
        scavenge(tenureAll: true)       // moves objects: read them back from their handles
        var map: [Oop: Oop] = [:]
        let pairs = Array(zip(fromH.map(handleValue), toH.map(handleValue)))
        for (a, b) in pairs {
            map[a] = b
            if twoWay { map[b] = a }
        }
        releaseHandles(to: mark)
        // References to forwarders become references to their objects first (and are then replaced).
        let snap = forwardersMayBeReferenced
        @inline(__always) func replace(_ p: UnsafeMutablePointer<Oop>) -> Bool {
            var v = p.pointee
            guard isPointer(v) else { return false }
            if snap && isForwarder(v) { v = fetch(v, 0); p.pointee = v }
            guard let w = map[v] else { return false }
            p.pointee = w
            return true
        }
        // Class-table entries are roots: an instance of a class that became another class now
        // belongs to that class, as in Spur.
        var reclassed = Set<Int>()
        let table = classTable, tableEnd = classTable + classTableCount
        forEachRootSlot { p in
            if replace(p) && p >= table && p < tableEnd { reclassed.insert(p - table) }
        }
        let codeClasses = [classIndex(.classCompiledMethod), classIndex(.classCompiledBlock)]
        var persistentCode: [Oop] = []
        forEachOldObject { o in
            let h = headerOf(o), ci = classIndexOfHeader(h)
            if !reclassed.isEmpty && reclassed.contains(ci) { noteChanged(o) }
            guard formatOf(o) <= Format.weak else { return }
            let p = words(o) + 1
            var changed = false
            for i in 0..<numSlotsOf(o) where replace(p + i) { changed = true }
            if changed { noteChanged(o) }
            if h & Header.persistentBit != 0 && codeClasses.contains(ci) { persistentCode.append(o) }
        }
        noteChangedCode(persistentCode)
        flushMethodCache()
        return pairs.map { (from: $0.0, to: $0.1) }
    }

    /// Before the heap is enumerated object by object (`someObject`): every object of the image is
    /// loaded, so that enumerating it finds what it would find had the image been read whole (false if
    /// that failed: `faultError`).
    func loadEveryObject() -> Bool {
        guard let loadAllObjects, let problem = loadAllObjects() else { return true }
        faultError = problem
        faultFailures &+= 1
        return false
    }

    /// The instances of a class the image holds that memory does not hold loaded (ghosts), without
    /// loading them or anything else (false if that failed: `faultError`).
    func storedInstances(of cls: Oop, into instances: inout [Oop]) -> Bool {
        guard let storedInstances else { return true }
        switch storedInstances(cls) {
        case let .success(ghosts):
            instances = ghosts
            return true
        case let .failure(problem):
            faultError = problem.text
            faultFailures &+= 1
            return false
        }
    }

    public func allInstances(ofClassIndex index: Int) -> [Oop] {
        scavenge(tenureAll: true)
        var result: [Oop] = []
        forEachOldObject { o in
            if classIndexOfHeader(headerOf(o)) == index { result.append(o) }
        }
        return result
    }

    /// The first object of the heap (enumeration with `nextObject` covers old space after a tenuring scavenge).
    /// Forwarders are not objects of the program: the enumeration passes them by.
    public func firstObject() -> Oop? {
        scavenge(tenureAll: true)
        guard oldTop > oldStart else { return nil }
        let first = objectAt(oldStart)
        return isForwarder(first) ? objectAfter(first) : first
    }

    public func objectAfter(_ o: Oop) -> Oop? {
        guard isOld(o) else { return nil }
        var current = o
        while true {
            let next = (hasOverflowWord(current) ? current - 8 : current) + UInt64(objectBytes(current))
            guard next < oldTop else { return nil }
            current = objectAt(next)
            if !isForwarder(current) { return current }
        }
    }
}

/// Why the instances of a class in an image could not be found or made ghosts.
public struct ImageInstancesProblem: Error {
    public let text: String
    public init(_ text: String) { self.text = text }
}
