// A hash map from 64-bit words to 64-bit words, for the image session's maps of a million entries and
// more (object → OID, OID → object, OID → fingerprint): one flat table of key-value pairs, so that a
// look-up touches one cache line, with no hashing by Hasher, no reference counting and no copy on write.

import Foundation

/// Open addressing with linear probing in a power-of-two table at most 3/4 full; slots are found by
/// Fibonacci hashing (the high bits of key × 2⁶⁴/φ), which spreads consecutive OIDs and addresses over
/// the table. Key 0 marks an empty slot, so an entry under key 0 is kept beside the table. Removal
/// shifts the entries that follow back (no tombstones). A reference type: iterate over a copy
/// (`Array(map)`) to change the map meanwhile.
final class WordMap: Sequence {
    struct Entry {
        var key: UInt64
        var value: UInt64
    }

    private var table: UnsafeMutablePointer<Entry>
    private var capacity: Int
    private var shift: UInt64           // 64 - log2(capacity)
    private var tableCount = 0
    private var zeroValue: UInt64?

    /// Room for `minimumCapacity` entries before the table grows.
    init(minimumCapacity: Int = 0) {
        capacity = Self.tableSize(for: minimumCapacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        table = Self.allocate(capacity)
    }

    deinit { free(table) }

    var count: Int { tableCount + (zeroValue == nil ? 0 : 1) }
    var isEmpty: Bool { count == 0 }

    subscript(key: UInt64) -> UInt64? {
        get {
            if key == 0 { return zeroValue }
            var i = home(key)
            while true {
                let k = table[i].key
                if k == key { return table[i].value }
                if k == 0 { return nil }
                i = (i + 1) & (capacity - 1)
            }
        }
        set {
            if let newValue { set(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    func contains(key: UInt64) -> Bool { self[key] != nil }

    /// Adds `value` under `key` unless the map has an entry for it: answers whether it did.
    func insert(_ key: UInt64, _ value: UInt64) -> Bool {
        if key == 0 {
            if zeroValue != nil { return false }
            zeroValue = value
            return true
        }
        var i = home(key)
        while true {
            let k = table[i].key
            if k == key { return false }
            if k == 0 { break }
            i = (i + 1) & (capacity - 1)
        }
        add(key, value, at: i)
        return true
    }

    /// Makes room for `count` entries in all, so that adding them does not grow the table again and again.
    func reserveCapacity(_ count: Int) {
        let size = Self.tableSize(for: count)
        if size > capacity { resize(to: size) }
    }

    /// Empties the map and gives back its memory.
    func removeAll() {
        free(table)
        capacity = Self.tableSize(for: 0)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        table = Self.allocate(capacity)
        tableCount = 0
        zeroValue = nil
    }

    @discardableResult
    func removeValue(forKey key: UInt64) -> UInt64? {
        if key == 0 { defer { zeroValue = nil }; return zeroValue }
        let mask = capacity - 1
        var i = home(key)
        while table[i].key != key {
            if table[i].key == 0 { return nil }
            i = (i + 1) & mask
        }
        let removed = table[i].value
        // Every entry of the run after the hole that may move back (its home is not between the hole
        // and it) fills the hole, which moves to where it was.
        var hole = i, j = i
        while true {
            j = (j + 1) & mask
            let k = table[j].key
            if k == 0 { break }
            if (j - home(k)) & mask >= (j - hole) & mask {
                table[hole] = table[j]
                hole = j
            }
        }
        table[hole].key = 0
        tableCount -= 1
        return removed
    }

    /// Removes the entries of `keys`, then gives back memory if the table is mostly empty. (Shrinking
    /// only once they are all gone matters: keys removed in the order of their slots are those of one
    /// end of the table, and the rest, rehashed into a smaller table, would crowd into one run.)
    func removeValues(forKeys keys: [UInt64]) {
        for k in keys { removeValue(forKey: k) }
        if capacity > Self.tableSize(for: 0) && tableCount * 16 < capacity { resize(to: Self.tableSize(for: tableCount)) }
    }

    /// Replaces every value by `transform(key, value)`, in place; an entry for which it answers nil is
    /// removed (`removeValues`). Answers the keys removed.
    @discardableResult
    func updateValues(_ transform: (UInt64, UInt64) -> UInt64?) -> [UInt64] {
        var removed: [UInt64] = []
        if let v = zeroValue {
            if let n = transform(0, v) { zeroValue = n } else { zeroValue = nil; removed.append(0) }
        }
        for i in 0..<capacity where table[i].key != 0 {
            if let n = transform(table[i].key, table[i].value) { table[i].value = n } else { removed.append(table[i].key) }
        }
        removeValues(forKeys: removed)
        return removed
    }

    /// Replaces every key by `transform(key)` (distinct keys must stay distinct); an entry for which it
    /// answers nil is removed, and its value answered.
    @discardableResult
    func updateKeys(_ transform: (UInt64) -> UInt64?) -> [UInt64] {
        let old = table, oldCapacity = capacity, zero = zeroValue
        var removed: [UInt64] = []
        capacity = Self.tableSize(for: count)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        table = Self.allocate(capacity)
        tableCount = 0
        zeroValue = nil
        if let zero { if let n = transform(0) { set(n, zero) } else { removed.append(zero) } }
        for i in 0..<oldCapacity where old[i].key != 0 {
            if let n = transform(old[i].key) { set(n, old[i].value) } else { removed.append(old[i].value) }
        }
        free(old)
        return removed
    }

    struct Iterator: IteratorProtocol {
        fileprivate let map: WordMap
        fileprivate var index = -1

        mutating func next() -> (key: UInt64, value: UInt64)? {
            if index < 0 {
                index = 0
                if let v = map.zeroValue { return (0, v) }
            }
            while index < map.capacity {
                let e = map.table[index]
                index += 1
                if e.key != 0 { return (e.key, e.value) }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(map: self) }
    var underestimatedCount: Int { count }

    /// The longest run of occupied slots: what a look-up of a key not there may have to probe.
    var longestRun: Int {
        var longest = 0, run = 0
        for i in 0..<capacity {
            if table[i].key != 0 { run += 1; longest = Swift.max(longest, run) } else { run = 0 }
        }
        return longest
    }

    // MARK: The table

    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    private func set(_ key: UInt64, _ value: UInt64) {
        if key == 0 { zeroValue = value; return }
        var i = home(key)
        while true {
            let k = table[i].key
            if k == key { table[i].value = value; return }
            if k == 0 { break }
            i = (i + 1) & (capacity - 1)
        }
        add(key, value, at: i)
    }

    /// Puts a new entry into the empty slot `i` its probe ended at, or into a table twice as large.
    private func add(_ key: UInt64, _ value: UInt64, at i: Int) {
        if (tableCount + 1) * 4 > capacity * 3 {
            resize(to: capacity * 2)
            set(key, value)
            return
        }
        table[i] = Entry(key: key, value: value)
        tableCount += 1
    }

    private func resize(to newCapacity: Int) {
        let old = table, oldCapacity = capacity
        capacity = newCapacity
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        table = Self.allocate(capacity)
        let mask = capacity - 1
        for j in 0..<oldCapacity where old[j].key != 0 {
            var i = home(old[j].key)
            while table[i].key != 0 { i = (i + 1) & mask }
            table[i] = old[j]
        }
        free(old)
    }

    /// The smallest power of two, at least 16, that holds `count` entries at most 3/4 full.
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size * 3 < count * 4 { size *= 2 }
        return size
    }

    /// A table of empty slots (all bits zero): calloc hands large ones over as fresh zero pages.
    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<Entry> {
        guard let memory = calloc(capacity, MemoryLayout<Entry>.stride) else {
            fatalError("out of memory for a table of \(capacity) entries")
        }
        return memory.bindMemory(to: Entry.self, capacity: capacity)
    }
}
