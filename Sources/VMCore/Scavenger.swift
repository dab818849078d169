// The young-space collector: Cheney copying between survivor spaces, tenuring second-time survivors.

import Foundation

extension VM {
    @inline(__always) private func inFromSpace(_ o: Oop) -> Bool {
        isPointer(o) && o >= newStart && o < newEnd && !(o >= futureStart && o < futureStart + survivorBytes)
    }

    /// Copies a young object out of eden/past space (once) and answers its new address.
    @inline(__always) private func evacuate(_ o: Oop, tenureAll: Bool) -> Oop {
        let h = headerOf(o)
        if h & Header.markedBit != 0 { return fetch(o, 0) }   // already forwarded
        let bytes = UInt64(objectBytes(o))
        let overflow = hasOverflowWord(o)
        let src = overflow ? o - 8 : o
        var dest: UInt64
        let survivedBefore = o >= pastStart && o < pastStart + survivorBytes
        if !tenureAll && !survivedBefore && futureTop + bytes <= futureStart + survivorBytes {
            dest = futureTop; futureTop += bytes
        } else {
            // Tenuring may go past the heap limit into the reserve kept for it (Memory.swift,
            // `tenuringReserveScavenges`); the safepoint after the scavenge deals with that.
            if oldTop + bytes > oldEnd { fatalError("heap limit exhausted while tenuring") }
            dest = oldTop; oldTop += bytes
            bytesTenured += bytes
        }
        UnsafeMutableRawPointer(bitPattern: UInt(dest))!.copyMemory(
            from: UnsafeRawPointer(bitPattern: UInt(src))!, byteCount: Int(bytes))
        let newOop = overflow ? dest + 8 : dest
        words(o).pointee = h | Header.markedBit
        words(o)[1] = newOop
        return newOop
    }

    /// Updates the young references in an object's traced slots; answers whether any remain young.
    @inline(__always) private func scavengeSlots(_ o: Oop, tenureAll: Bool, weak: inout [Oop]) -> Bool {
        let format = formatOf(o)
        if !Format.isTraced(format) { return false }
        if format == Format.weak { weak.append(o) }
        let n = tracedSlotCount(o, format: format)
        let p = words(o) + 1
        var young = false
        for i in 0..<n {
            let v = p[i]
            if inFromSpace(v) { p[i] = evacuate(v, tenureAll: tenureAll) }
            if isPointer(p[i]) && p[i] >= newStart && p[i] < newEnd { young = true }
        }
        return young
    }

    /// Updates the young references of a large object card by card: every card (a newly tenured
    /// object) or the dirty ones only. A card wholly inside the object is left dirty exactly when its
    /// slots still refer to young objects; the object's first and last cards may be shared with its
    /// neighbours, so they are always scanned and never cleaned. Answers whether any young reference remains.
    private func scavengeCards(_ o: Oop, everyCard: Bool, tenureAll: Bool) -> Bool {
        let first = o + 8, end = first + UInt64(numSlotsOf(o)) * 8
        if end == first { return false }
        let size = UInt64(1) << VM.cardShift
        let lastCard = (end - 1) >> VM.cardShift
        var c = first >> VM.cardShift
        var young = false
        while c <= lastCard {
            let cardStart = c << VM.cardShift
            let owned = cardStart >= first && cardStart + size <= end
            // Clean owned cards are skipped eight at a time.
            if owned && !everyCard && c & 7 == 0 && c + 7 <= lastCard && (c + 8) << VM.cardShift <= end
                && UnsafeMutableRawPointer(card(cardStart)).load(as: UInt64.self) == 0 {
                c += 8
                continue
            }
            let flag = card(cardStart)
            if everyCard || !owned || flag.pointee != 0 {
                var p = UnsafeMutablePointer<Oop>(bitPattern: UInt(max(cardStart, first))).unsafelyUnwrapped
                let stop = UnsafeMutablePointer<Oop>(bitPattern: UInt(min(cardStart + size, end))).unsafelyUnwrapped
                var cardYoung = false
                while p < stop {
                    let v = p.pointee
                    if inFromSpace(v) {
                        let moved = evacuate(v, tenureAll: tenureAll)
                        p.pointee = moved
                        if moved >= newStart && moved < newEnd { cardYoung = true }
                    } else if isPointer(v) && v >= newStart && v < newEnd {
                        cardYoung = true
                    }
                    p += 1
                }
                if owned { flag.pointee = cardYoung ? 1 : 0 }
                young = young || cardYoung
            }
            c += 1
        }
        return young
    }

    public func scavenge(tenureAll: Bool = false) {
        withFramesHoldingPCs { scavengeMovingObjects(tenureAll: tenureAll) }
    }

    private func scavengeMovingObjects(tenureAll: Bool) {
        let started = DispatchTime.now().uptimeNanoseconds, startedCPU = VM.threadCPUNanos()
        flushMethodCache()              // it holds raw oops that are about to move
        futureTop = futureStart
        var weak: [Oop] = []
        var tenureScan = oldTop
        let tenuredFrom = oldTop, used = (edenTop - edenStart) + (pastTop - pastStart)
        let tenureEvery = tenureAll || tenureAtFirstScavenge
        forEachRootSlot { slot in
            if inFromSpace(slot.pointee) { slot.pointee = evacuate(slot.pointee, tenureAll: tenureEvery) }
        }
        // A remembered object that no longer refers to a young one loses its bit here; the pruning
        // below then drops it. Weak objects keep theirs until their referents have been cleared.
        let oldRemembered = rememberedCount
        for i in 0..<oldRemembered {
            let o = remembered[i]
            let young = isScannedByCard(o)
                ? scavengeCards(o, everyCard: false, tenureAll: tenureEvery)
                : scavengeSlots(o, tenureAll: tenureEvery, weak: &weak)
            if !young && formatOf(o) != Format.weak { clearHeaderBits(o, Header.rememberedBit) }
        }
        var futureScan = futureStart
        while futureScan < futureTop || tenureScan < oldTop {
            while futureScan < futureTop {
                let o = objectAt(futureScan)
                _ = scavengeSlots(o, tenureAll: tenureEvery, weak: &weak)
                futureScan += UInt64(objectBytes(o))
            }
            while tenureScan < oldTop {
                let o = objectAt(tenureScan)
                let young = isScannedByCard(o)
                    ? scavengeCards(o, everyCard: true, tenureAll: tenureEvery)
                    : scavengeSlots(o, tenureAll: tenureEvery, weak: &weak)
                if young { remember(o) }
                tenureScan += UInt64(objectBytes(o))
            }
        }
        clearDeadWeakReferences(weak)
        pruneRememberedSet()
        if !tenureAll { adaptNursery(copied: (futureTop - futureStart) + (oldTop - tenuredFrom), outOf: used) }
        if oldTop > lowSpaceLevel && !lowSpaceSignalled { noteLowSpace() }
        swap(&pastStart, &futureStart)
        pastTop = futureTop
        futureTop = futureStart
        edenTop = edenStart
        scavengeCount += 1
        scavengePausesNanos.append(DispatchTime.now().uptimeNanoseconds - started)
        scavengePausesCPUNanos.append(VM.threadCPUNanos() - startedCPU)
        if scavengePausesNanos.count > 100_000 {
            scavengePausesNanos.removeFirst(50_000); scavengePausesCPUNanos.removeFirst(50_000)
        }
    }

    static func threadCPUNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// The object whose first word (overflow word or header) is at `address`.
    @inline(__always) func objectAt(_ address: UInt64) -> Oop {
        let w = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address)).unsafelyUnwrapped.pointee
        return w >> Header.slotsShift == Header.overflowSlots ? address + 8 : address
    }

    private func clearDeadWeakReferences(_ weak: [Oop]) {
        for o in weak {
            let fixed = tracedSlotCount(o, format: Format.weak)
            let n = numSlotsOf(o)
            let p = words(o) + 1
            for i in fixed..<n where inFromSpace(p[i]) {
                if headerOf(p[i]) & Header.markedBit != 0 { p[i] = fetch(p[i], 0) } else { p[i] = nilObj; noteChanged(o) }
            }
            if isOld(o) && (fixed..<n).contains(where: { isPointer(p[$0]) && isYoung(p[$0]) }) { remember(o) }
        }
    }

    /// Keeps only remembered objects that still refer to young objects: those whose bit the scan
    /// left set (weak objects are checked here, once their dead referents are cleared).
    private func pruneRememberedSet() {
        var kept = 0
        for i in 0..<rememberedCount {
            let o = remembered[i]
            guard headerOf(o) & Header.rememberedBit != 0 else { continue }
            if formatOf(o) == Format.weak {
                let p = words(o) + 1
                var young = false
                for j in 0..<numSlotsOf(o) where isPointer(p[j]) && p[j] >= newStart && p[j] < newEnd {
                    young = true; break
                }
                if !young { clearHeaderBits(o, Header.rememberedBit); continue }
            }
            remembered[kept] = o; kept += 1
        }
        rememberedCount = kept
    }
}
