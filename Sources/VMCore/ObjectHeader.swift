// The object header word and raw slot access. An oop of a heap object is the address of its header.

public enum Format {
    public static let empty = 0
    public static let fixed = 1
    public static let indexable = 2
    public static let fixedIndexable = 3
    public static let weak = 4
    /// A ghost (Ghosts.swift): no primitive accepts it; the collectors trace its slots as pointers.
    public static let ghost = 6
    /// A forwarder (Forwarders.swift): no primitive accepts it; the collectors replace references to it.
    public static let forwarder = 5
    public static let words64 = 9
    public static let words32 = 10      // 10-11: low bit = unused half-slot
    public static let bytes = 16        // 16-23: low 3 bits = unused bytes in the last slot

    @inline(__always) public static func isPointers(_ f: Int) -> Bool { f <= weak }
    @inline(__always) public static func isBytes(_ f: Int) -> Bool { f >= bytes }
    @inline(__always) public static func isWords32(_ f: Int) -> Bool { f == 10 || f == 11 }
    @inline(__always) public static func isIndexable(_ f: Int) -> Bool { f >= indexable && f != 5 && f != ghost }
    /// Whether the collectors trace the object's slots (then `VM.tracedSlotCount` says how many).
    @inline(__always) static func isTraced(_ f: Int) -> Bool { f <= forwarder || f == ghost }
}

enum Header {
    static let classIndexMask: UInt64 = 0x3F_FFFF
    /// Loaded from the image since the last eviction (Eviction.swift): kept by the next one.
    static let recentBit: UInt64 = 1 << 22
    /// Set only while an eviction runs: the VM reads the object without sending to it.
    static let pinnedBit: UInt64 = 1 << 23
    static let formatShift: UInt64 = 24
    static let immutableBit: UInt64 = 1 << 29
    static let rememberedBit: UInt64 = 1 << 30
    static let markedBit: UInt64 = 1 << 31       // old-space marking; in young space: "forwarded"
    static let hashShift: UInt64 = 32
    static let hashMask: UInt64 = 0x3F_FFFF
    static let persistentBit: UInt64 = 1 << 54
    static let dirtyBit: UInt64 = 1 << 55
    static let slotsShift: UInt64 = 56
    static let slotsMask: UInt64 = 0xFF << 56
    static let overflowSlots: UInt64 = 255

    @inline(__always) static func make(classIndex: Int, format: Int, hash: Int, numSlots: Int) -> UInt64 {
        let count = numSlots >= 255 ? overflowSlots : UInt64(numSlots)
        return UInt64(classIndex) | (UInt64(format) << formatShift) | ((UInt64(hash) & hashMask) << hashShift) | (count << slotsShift)
    }
}

@inline(__always) func words(_ o: Oop) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer(bitPattern: UInt(o)).unsafelyUnwrapped
}
@inline(__always) func headerOf(_ o: Oop) -> UInt64 { words(o).pointee }
@inline(__always) func classIndexOfHeader(_ h: UInt64) -> Int { Int(h & Header.classIndexMask) }
@inline(__always) func formatOf(_ o: Oop) -> Int { Int((headerOf(o) >> Header.formatShift) & 31) }
@inline(__always) func hashOf(_ o: Oop) -> Int { Int((headerOf(o) >> Header.hashShift) & Header.hashMask) }
@inline(__always) func numSlotsOf(_ o: Oop) -> Int {
    let n = headerOf(o) >> Header.slotsShift
    return n == Header.overflowSlots ? Int(words(o)[-1] & 0x00FF_FFFF_FFFF_FFFF) : Int(n)
}
/// Bytes the object occupies, overflow word and header included.
@inline(__always) func objectBytes(_ o: Oop) -> Int {
    let n = headerOf(o) >> Header.slotsShift
    if n == Header.overflowSlots { return (Int(words(o)[-1] & 0x00FF_FFFF_FFFF_FFFF) + 2) * 8 }
    return (max(Int(n), 1) + 1) * 8
}
@inline(__always) func hasOverflowWord(_ o: Oop) -> Bool { headerOf(o) >> Header.slotsShift == Header.overflowSlots }

@inline(__always) func fetch(_ o: Oop, _ i: Int) -> Oop { words(o)[1 + i] }
@inline(__always) func bytesOf(_ o: Oop) -> UnsafeMutablePointer<UInt8> {
    UnsafeMutableRawPointer(words(o) + 1).assumingMemoryBound(to: UInt8.self)
}
/// The number of bytes of a byte-format object (format 16–23: the low bits count unused bytes).
@inline(__always) func byteCountOf(_ o: Oop) -> Int { numSlotsOf(o) * 8 - (formatOf(o) & 7) }
@inline(__always) func words32Of(_ o: Oop) -> UnsafeMutablePointer<UInt32> {
    UnsafeMutableRawPointer(words(o) + 1).assumingMemoryBound(to: UInt32.self)
}
@inline(__always) func setHeaderBits(_ o: Oop, _ bits: UInt64) { words(o).pointee |= bits }
@inline(__always) func clearHeaderBits(_ o: Oop, _ bits: UInt64) { words(o).pointee &= ~bits }
