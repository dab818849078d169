// The old-space collector: mark from the roots, then slide live objects down (Lisp-2 compaction
// with forwarding addresses kept in a side table, so headers and identity hashes never change).

import Foundation

/// A growable stack of oops in raw memory (no ARC, no bounds checks in the loop).
struct OopStack {
    var base = UnsafeMutablePointer<Oop>.allocate(capacity: 4096)
    var count = 0, capacity = 4096
    mutating func push(_ o: Oop) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<Oop>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: base, count: count)
            base.deallocate(); base = bigger; capacity *= 2
        }
        base[count] = o; count += 1
    }
    mutating func pop() -> Oop? { if count == 0 { return nil }; count -= 1; return base[count] }
    func release() { base.deallocate() }
}

extension VM {
    /// A full collection: empties young space into old space, then marks and compacts old space.
    public func fullGC() {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { fullGCNanos += DispatchTime.now().uptimeNanoseconds - started }
        scavenge(tenureAll: true)
        for i in 0..<rememberedCount { clearHeaderBits(remembered[i], Header.rememberedBit) }
        rememberedCount = 0
        var weak = OopStack()
        markFromRoots(weak: &weak)
        if let retain = retainUnreached {
            let kept = retain { o in headerOf(o) & Header.markedBit != 0 }
            if !kept.isEmpty { mark(from: kept, weak: &weak) }
        }
        clearUnmarkedWeakReferences(weak)
        weak.release()
        let newTop = computeForwardingAddresses()
        updatePointers()
        reportMoves()
        slideObjects()
        flushMethodCache()
        clearCards(upTo: oldTop)
        oldTop = newTop
        if let table = forwardTable { madvise(table, oldReserved / 2, MADV_DONTNEED) }
        let live = oldTop - oldStart
        fullGCThreshold = min(oldEnd, oldStart + max(live * 2, 64 << 20))
        fullGCPending = false
        fullGCCount += 1
        if oldTop < oldEnd - (oldEnd - oldStart) / 16 { lowSpaceSignalled = false }
    }

    private func markFromRoots(weak: inout OopStack) {
        var roots: [Oop] = []
        forEachRootSlot { roots.append($0.pointee) }
        mark(from: roots, weak: &weak)
    }

    /// Marks what `roots` reach (old space only: the young space was emptied first).
    private func mark(from roots: [Oop], weak: inout OopStack) {
        var stack = OopStack()
        defer { stack.release() }
        func mark(_ o: Oop) {
            if isPointer(o) && o >= oldStart && o < oldTop && headerOf(o) & Header.markedBit == 0 {
                setHeaderBits(o, Header.markedBit)
                stack.push(o)
            }
        }
        for r in roots { mark(r) }
        while let o = stack.pop() {
            let format = formatOf(o)
            if !Format.isTraced(format) { continue }
            if format == Format.weak { weak.push(o) }
            // A class is reachable from its instances.
            mark(classTable[classIndexOfHeader(headerOf(o))])
            let n = tracedSlotCount(o, format: format)
            let p = words(o) + 1
            for i in 0..<n { mark(p[i]) }
        }
    }

    private func clearUnmarkedWeakReferences(_ weak: OopStack) {
        for k in 0..<weak.count {
            let o = weak.base[k]
            let p = words(o) + 1
            for i in tracedSlotCount(o, format: Format.weak)..<numSlotsOf(o) {
                let v = p[i]
                if isPointer(v) && v >= oldStart && v < oldTop && headerOf(v) & Header.markedBit == 0 { p[i] = nilObj; noteChanged(o) }
            }
        }
    }

    @inline(__always) private func forwardSlot(_ o: Oop) -> UnsafeMutablePointer<UInt64> {
        forwardTable.unsafelyUnwrapped + Int((o - oldStart) >> 4)
    }

    private func computeForwardingAddresses() -> UInt64 {
        if forwardTable == nil {
            forwardTable = VM.mapOrDie(oldReserved / 2).assumingMemoryBound(to: UInt64.self)
        }
        var scan = oldStart, free = oldStart
        while scan < oldTop {
            let o = objectAt(scan)
            let bytes = UInt64(objectBytes(o))
            if headerOf(o) & Header.markedBit != 0 {
                forwardSlot(o).pointee = free + (o - scan)
                free += bytes
            }
            scan += bytes
        }
        return free
    }

    @inline(__always) private func forwarded(_ v: Oop) -> Oop {
        (isPointer(v) && v >= oldStart && v < oldTop) ? forwardSlot(v).pointee : v
    }

    private func updatePointers() {
        forEachRootSlot { $0.pointee = forwarded($0.pointee) }
        var scan = oldStart
        while scan < oldTop {
            let o = objectAt(scan)
            if headerOf(o) & Header.markedBit != 0 {
                let format = formatOf(o)
                if Format.isTraced(format) {
                    let p = words(o) + 1
                    for i in 0..<numSlotsOf(o) { p[i] = forwarded(p[i]) }
                }
            }
            scan += UInt64(objectBytes(o))
        }
    }

    /// Tells the dirty list and the host where each old object will be (nil: it is garbage), before
    /// objects slide.
    private func reportMoves() {
        func newAddress(_ o: Oop) -> Oop? {
            guard isPointer(o), o >= oldStart, o < oldTop, headerOf(o) & Header.markedBit != 0 else { return nil }
            return forwardSlot(o).pointee
        }
        forwardChangedObjects(newAddress)
        objectsMoved?(newAddress)
    }

    private func slideObjects() {
        var scan = oldStart
        while scan < oldTop {
            let o = objectAt(scan)
            let bytes = objectBytes(o)
            if headerOf(o) & Header.markedBit != 0 {
                clearHeaderBits(o, Header.markedBit)
                let dest = forwardSlot(o).pointee - (o - scan)
                if dest != scan {
                    memmove(UnsafeMutableRawPointer(bitPattern: UInt(dest))!,
                            UnsafeRawPointer(bitPattern: UInt(scan))!, bytes)
                }
            }
            scan += UInt64(bytes)
        }
    }
}
