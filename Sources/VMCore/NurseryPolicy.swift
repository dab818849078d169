// How much the next scavenge may allocate, from how much the last one copied: a scavenge's pause grows
// with its survivors, so when most of what was allocated survives (a program building a large data
// structure) the nursery shrinks until a scavenge copies about `scavengeCopyTargetBytes`, and
// survivors go straight to old space instead of being copied twice. When survivors are few the full
// eden is used again.

extension VM {
    /// Called at the end of a scavenge that copied `copied` bytes out of `used` bytes of eden and past space.
    func adaptNursery(copied: UInt64, outOf used: UInt64) {
        // A scavenge asked for before eden filled up (an explicit one, or one a large object allocated in
        // old space asked for) finds mostly objects too young to have died: it does not tell.
        guard used >= 64 << 10 && edenTop >= edenLimit else { return }
        let survival = Double(copied) / Double(used)
        tenureAtFirstScavenge = survival >= 0.5
        let wanted = Double(config.scavengeCopyTargetBytes) / max(survival, 1e-6)
        let smallest = Double(min(config.scavengeCopyTargetBytes / 2, fullEdenLimit - edenStart))
        edenLimit = edenStart + UInt64(min(max(wanted, smallest), Double(fullEdenLimit - edenStart)))
    }
}
