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
        withFramesHoldingPCs { collectAndCompact() }
    }

    private func collectAndCompact() {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { fullGCNanos += DispatchTime.now().uptimeNanoseconds - started }
        scavenge(tenureAll: true)
        for i in 0..<rememberedCount { clearHeaderBits(remembered[i], Header.rememberedBit) }
        rememberedCount = 0
        var weak = OopStack()
        var live = markLiveObjects(weak: &weak)
        if let reloadable = reloadableOID {
            // Old space is filling: evict what was loaded before the last eviction, then if that is not
            // enough what was loaded since (Eviction.swift).
            var includingRecent = false
            while live > evictionLevel {
                let (evicted, keptRecent) = evictLoadedObjects(includingRecent: includingRecent, reloadableOID: reloadable)
                if evicted > 0 {
                    evictions += 1
                    weak.count = 0
                    live = markLiveObjects(weak: &weak)
                }
                if includingRecent || keptRecent == 0 { break }
                includingRecent = true
            }
        }
        clearUnmarkedWeakReferences(weak)
        weak.release()
        forwardersMayBeReferenced = false
        let newTop = computeForwardingAddresses()
        updatePointers()
        reportMoves()
        slideObjects()
        flushMethodCache()
        clearCards(upTo: oldTop)
        oldTop = newTop
        if let table = forwardTable { madvise(table, oldReserved / 2, MADV_DONTNEED) }
        fullGCThreshold = nextFullGCThreshold()
        fullGCPending = false
        fullGCCount += 1
        // Old space is not low any more (evicting made room, say): nothing to signal.
        if oldTop < oldLimit - (oldLimit - oldStart) / 16 { lowSpaceSignalled = false; lowSpacePending = false }
    }

    /// The next full collection runs when old space has doubled since this one, or fills three quarters
    /// of its limit (then an image's objects can be evicted); when more than that is live, half-way to it.
    func nextFullGCThreshold() -> UInt64 {
        let live = oldTop - oldStart, size = oldLimit - oldStart, high = size / 4 * 3
        let next = max(live * 2, 64 << 20)
        if next <= high { return oldStart + next }
        if live < high { return oldStart + high }
        return oldStart + (live < size ? live + (size - live) / 2 : live)     // past the limit: tenuring went on
    }

    /// Marks what the roots reach, and what the host keeps besides; answers the bytes marked.
    private func markLiveObjects(weak: inout OopStack) -> UInt64 {
        var roots: [Oop] = []
        forEachRootSlot { slot in
            slot.pointee = followed(slot.pointee)
            roots.append(slot.pointee)
        }
        var live = mark(from: roots, weak: &weak)
        if let retain = retainUnreached {
            let kept = retain { o in headerOf(o) & Header.markedBit != 0 }
            if !kept.isEmpty { live += mark(from: kept, weak: &weak) }
        }
        return live
    }

    /// Marks what `roots` reach (old space only: the young space was emptied first); answers the bytes
    /// newly marked.
    private func mark(from roots: [Oop], weak: inout OopStack) -> UInt64 {
        var stack = OopStack()
        defer { stack.release() }
        var live: UInt64 = 0
        func mark(_ o: Oop) {
            if isPointer(o) && o >= oldStart && o < oldTop && headerOf(o) & Header.markedBit == 0 {
                setHeaderBits(o, Header.markedBit)
                live &+= UInt64(objectBytes(o))
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
            for i in 0..<n {
                // A reference to a forwarder becomes one to its object: the forwarder is garbage then.
                let v = p[i]
                if isPointer(v) && v >= oldStart && v < oldTop && classIndexOfHeader(headerOf(v)) == VM.forwarderClassIndex {
                    p[i] = fetch(v, 0)
                }
                mark(p[i])
            }
        }
        return live
    }

    private func clearUnmarkedWeakReferences(_ weak: OopStack) {
        for k in 0..<weak.count {
            let o = weak.base[k]
            let p = words(o) + 1
            for i in tracedSlotCount(o, format: Format.weak)..<numSlotsOf(o) {
                if isForwarder(p[i]) { p[i] = fetch(p[i], 0) }
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
