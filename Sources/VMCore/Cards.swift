// Card marking: one byte per 512 bytes of old space. The write barrier sets the card of every slot
// of an old object that receives a young pointer (besides remembering the object), so that the
// scavenger scans only the dirty cards of a large remembered object instead of all its slots.

import Foundation

extension VM {
    static let cardShift: UInt64 = 9

    /// The card table: one byte per card of the old-space reservation, lazily zero-filled by mmap.
    func setUpCards() {
        cardTableBytes = oldReserved >> Int(VM.cardShift) + 1
        cardTable = VM.mapOrDie(cardTableBytes).assumingMemoryBound(to: UInt8.self)
        cardBias = UInt64(UInt(bitPattern: cardTable)) &- (oldStart >> VM.cardShift)
    }

    /// The card byte of an old-space address.
    @inline(__always) func card(_ address: UInt64) -> UnsafeMutablePointer<UInt8> {
        UnsafeMutablePointer<UInt8>(bitPattern: UInt(cardBias &+ (address >> VM.cardShift))).unsafelyUnwrapped
    }

    /// Whether the scavenger scans the object card by card (it has an overflow word: 255 slots or
    /// more). Weak objects are always scanned whole: their referents are cleared separately.
    @inline(__always) func isScannedByCard(_ o: Oop) -> Bool {
        hasOverflowWord(o) && Format.isTraced(formatOf(o)) && formatOf(o) != Format.weak
    }

    /// Whether the card of `address` is dirty (tests).
    func isCardDirty(_ address: UInt64) -> Bool { card(address).pointee != 0 }

    /// After a full collection: objects moved and nothing is young, so every card up to `top` is clean.
    func clearCards(upTo top: UInt64) {
        guard top > oldStart else { return }
        let used = Int((top - oldStart) >> VM.cardShift) + 1
        if let cardTable { memset(cardTable, 0, used) }
    }
}
