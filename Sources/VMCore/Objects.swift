// Making and reading the objects the VM itself needs: arrays, strings, symbols, floats, integers.

import BigInt

extension VM {
    @inline(__always) func classIndex(_ r: Root) -> Int { hashOf(roots[r.rawValue]) }

    /// `basicNew:` for any class: fixed fields from the class's format plus `indexable` fields.
    public func instantiate(_ cls: Oop, indexable: Int = 0) -> Oop? {
        guard let cls = loaded(cls), Format.isPointers(formatOf(cls)), numSlotsOf(cls) > ClassLayout.format else { return nil }
        let fmtOop = fetch(cls, ClassLayout.format)
        guard isSmallInt(fmtOop), let index = indexOfClass(cls) else { return nil }
        let fmtValue = intValue(fmtOop)
        let fixed = fmtValue & 0xFFFF
        var format = (fmtValue >> 16) & 31
        if indexable < 0 || indexable > 1 << 40 { return nil }
        switch format {
        case Format.empty, Format.fixed:
            if indexable > 0 { return nil }
            format = fixed == 0 ? Format.empty : Format.fixed
            return allocate(classIndex: index, format: format, numSlots: fixed, fill: nilObj)
        case Format.indexable, Format.fixedIndexable, Format.weak:
            if format != Format.weak { format = fixed == 0 ? Format.indexable : Format.fixedIndexable }
            return allocate(classIndex: index, format: format, numSlots: fixed + indexable, fill: nilObj)
        case Format.words64:
            return allocate(classIndex: index, format: format, numSlots: indexable, fill: 0)
        case 10, 11:
            return allocate(classIndex: index, format: 10 + (indexable & 1), numSlots: (indexable + 1) / 2, fill: 0)
        case 16...23:
            return allocate(classIndex: index, format: 16 + (8 - indexable & 7) & 7, numSlots: (indexable + 7) / 8, fill: 0)
        default:
            return nil
        }
    }

    /// Indexable size of any object (bytes, 32-bit words, 64-bit words or pointer slots past the fixed ones).
    public func indexableSize(_ o: Oop) -> Int {
        guard !isImmediate(o), let o = loaded(o) else { return 0 }
        let format = formatOf(o)
        let n = numSlotsOf(o)
        switch format {
        case Format.indexable: return n
        case Format.fixedIndexable, Format.weak: return n - fixedFieldCount(of: o)
        case Format.words64: return n
        case 10, 11: return n * 2 - (format & 1)
        case 16...23: return n * 8 - (format & 7)
        default: return 0
        }
    }

    // MARK: Arrays

    public func newArray(_ count: Int) -> Oop? {
        allocate(classIndex: classIndex(.classArray), format: Format.indexable, numSlots: count, fill: nilObj)
    }

    public func newArray(_ elements: [Oop]) -> Oop? {
        guard let a = newArray(elements.count) else { return nil }
        for (i, e) in elements.enumerated() { store(a, i, e) }
        return a
    }

    public func newBytes(_ bytes: [UInt8], root: Root) -> Oop? {
        let n = bytes.count
        guard let o = allocate(classIndex: classIndex(root), format: 16 + (8 - n & 7) & 7, numSlots: (n + 7) / 8, fill: 0) else { return nil }
        bytes.withUnsafeBufferPointer { b in if n > 0 { bytesOf(o).update(from: b.baseAddress!, count: n) } }
        return o
    }

    public func byteArrayContents(_ o: Oop) -> [UInt8] {
        guard let o = loaded(o) else { return [] }
        let n = indexableSize(o)
        return Array(UnsafeBufferPointer(start: bytesOf(o), count: n))
    }

    // MARK: Strings and symbols

    public func newString(_ s: String) -> Oop? {
        var s = s
        if let ascii = s.withUTF8({ $0.allSatisfy { $0 < 0x80 } ? Array($0) : nil }) { return newBytes(ascii, root: .classByteString) }
        return newString(codePoints: s.unicodeScalars.map(\.value))
    }

    func newString(codePoints: [UInt32], byteRoot: Root = .classByteString, wideRoot: Root = .classWideString) -> Oop? {
        if codePoints.allSatisfy({ $0 < 256 }) { return newBytes(codePoints.map { UInt8($0) }, root: byteRoot) }
        let n = codePoints.count
        guard let o = allocate(classIndex: classIndex(wideRoot), format: 10 + (n & 1), numSlots: (n + 1) / 2, fill: 0) else { return nil }
        for (i, c) in codePoints.enumerated() { words32Of(o)[i] = c }
        return o
    }

    /// Code points of a ByteString/WideString/Symbol; nil for other objects.
    public func codePoints(_ o: Oop) -> [UInt32]? {
        guard isPointer(o), let o = loaded(o) else { return nil }
        let format = formatOf(o)
        let n = indexableSize(o)
        if Format.isBytes(format) { return (0..<n).map { UInt32(bytesOf(o)[$0]) } }
        if Format.isWords32(format) { return (0..<n).map { words32Of(o)[$0] } }
        return nil
    }

    /// Whether the string or symbol `o` has exactly these code points (`codePoints(o) == cps`
    /// without making an array).
    func hasCodePoints(_ o: Oop, _ cps: [UInt32]) -> Bool {
        guard isPointer(o), let o = loaded(o), indexableSize(o) == cps.count else { return false }
        let format = formatOf(o)
        if Format.isBytes(format) {
            let bytes = bytesOf(o)
            for i in cps.indices where UInt32(bytes[i]) != cps[i] { return false }
            return true
        }
        if Format.isWords32(format) {
            let words = words32Of(o)
            for i in cps.indices where words[i] != cps[i] { return false }
            return true
        }
        return false
    }

    public func stringValue(_ o: Oop) -> String? {
        // Bytes that are all ASCII (most strings) are their own UTF-8.
        if isPointer(o), let o = loaded(o), Format.isBytes(formatOf(o)) {
            let bytes = UnsafeBufferPointer(start: bytesOf(o), count: indexableSize(o))
            if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        }
        guard let cps = codePoints(o) else { return nil }
        var s = String.UnicodeScalarView()
        for c in cps { s.append(Unicode.Scalar(c) ?? "\u{FFFD}") }
        return String(s)
    }

    public func isString(_ o: Oop) -> Bool {
        guard isPointer(o) else { return false }
        let c = classIndexOf(o)
        return c == classIndex(.classByteString) || c == classIndex(.classWideString) || isSymbol(o)
    }

    public func isSymbol(_ o: Oop) -> Bool {
        guard isPointer(o) else { return false }
        let c = classIndexOf(o)
        return c == classIndex(.classByteSymbol) || c == classIndex(.classWideSymbol)
    }

    static func stringHash(_ cps: [UInt32]) -> Int {
        var h: UInt64 = 0xcbf29ce484222325
        for c in cps { h = (h ^ UInt64(c)) &* 0x100000001b3 }
        return Int(h & 0x0FFF_FFFF)
    }

    /// The unique Symbol with these characters.
    public func intern(_ s: String) -> Oop? { intern(codePoints: VM.codePoints(of: s)) }

    /// A string's code points; ASCII text (nearly every name) straight from its UTF-8 bytes.
    static func codePoints(of s: String) -> [UInt32] {
        var s = s
        if let ascii = s.withUTF8({ utf8 in
            utf8.allSatisfy { $0 < 0x80 } ? Array(unsafeUninitializedCapacity: utf8.count) { buffer, count in
                for (i, byte) in utf8.enumerated() { buffer[i] = UInt32(byte) }
                count = utf8.count
            } : nil
        }) {
            return ascii
        }
        return s.unicodeScalars.map(\.value)
    }

    public func intern(codePoints cps: [UInt32]) -> Oop? {
        if let existing = findSymbol(cps) { return existing }
        guard let sym = newString(codePoints: cps, byteRoot: .classByteSymbol, wideRoot: .classWideSymbol) else { return nil }
        let h = handle(sym)
        defer { releaseHandles(to: h) }
        return addToSymbolTable(sym) ? handleValue(h) : nil
    }

    /// Adds a symbol that is not in the table yet (growing it when three quarters full).
    private func addToSymbolTable(_ sym: Oop) -> Bool {
        guard let table = loaded(root(.symbolTable)), let array0 = loaded(fetch(table, 1)) else { return false }
        let tally = intValue(fetch(table, 0))
        var array = array0
        if (tally + 1) * 4 > indexableSize(array) * 3 {
            guard let bigger = newArray(indexableSize(array) * 2) else { return false }
            array = followed(fetch(root(.symbolTable), 1))
            for i in 0..<indexableSize(array) {
                let s = fetch(array, i)
                if s != nilObj { insertSymbol(s, into: bigger) }
            }
            store(root(.symbolTable), 1, bigger); array = bigger
        }
        insertSymbol(sym, into: array)
        store(root(.symbolTable), 0, intOop(tally + 1))
        return true
    }

    /// Every symbol in the table that is loaded (ghosts are symbols of the image, unchanged).
    public func symbols() -> [Oop] {
        let array = followed(fetch(root(.symbolTable), 1))
        if isGhost(array) { return [] }
        return (0..<indexableSize(array)).map { followed(fetch(array, $0)) }.filter { $0 != nilObj && !isGhost($0) }
    }

    /// Keeps symbols unique after the symbol table was replaced (an abort): each of `symbols` goes
    /// back into the table, or, when the table has another symbol with its characters, becomes that one.
    public func keepSymbols(_ symbols: [Oop]) {
        var from: [Oop] = [], to: [Oop] = []
        for sym in symbols {
            guard let cps = codePoints(sym) else { continue }
            if let existing = findSymbol(cps) {
                if existing != sym { from.append(sym); to.append(existing) }
            } else if !addToSymbolTable(sym) {
                return
            }
        }
        if !from.isEmpty { become(from, to, twoWay: false) }
    }

    private func insertSymbol(_ sym: Oop, into array: Oop) {
        let size = indexableSize(array)
        var i = VM.stringHash(codePoints(sym)!) % size
        while fetch(array, i) != nilObj { i = (i + 1) % size }
        store(array, i, sym)
    }

    public func findSymbol(_ cps: [UInt32]) -> Oop? {
        let table = root(.symbolTable)
        guard table != 0, let table = loaded(table), let array = loaded(fetch(table, 1)) else { return nil }
        let size = indexableSize(array)
        guard size > 0 else { return nil }
        var i = VM.stringHash(cps) % size
        for _ in 0..<size {
            let s = fetch(array, i)
            if s == nilObj { return nil }
            if hasCodePoints(s, cps) { return followed(s) }
            i = (i + 1) % size
        }
        return nil
    }

    /// Creates the symbol table (an Array pair: tally, slots); bootstrap only.
    public func createSymbolTable() {
        let table = newArray(2)!
        setRoot(.symbolTable, table)
        store(table, 0, intOop(0))
        let slots = newArray(4096)!
        store(root(.symbolTable), 1, slots)
    }

    // MARK: Numbers

    /// A Float of value `d`: a SmallFloat64 when it fits (decided inline), else a new BoxedFloat64.
    @inline(__always) public func newFloat(_ d: Double) -> Oop? {
        if let o = smallFloatOop(d) { return o }
        return newBoxedFloat(d)
    }

    @inline(never) func newBoxedFloat(_ d: Double) -> Oop? {
        guard let o = allocate(classIndex: classIndex(.classBoxedFloat64), format: Format.words64, numSlots: 1, fill: 0) else { return nil }
        words(o)[1] = d.bitPattern
        return o
    }

    /// The value of a SmallFloat64 or BoxedFloat64.
    @inline(__always) public func floatValue(_ o: Oop) -> Double? {
        if isSmallFloat(o) { return smallFloatValue(o) }
        if isPointer(o) && classIndexOfHeader(headerOf(o)) == classIndex(.classBoxedFloat64) {
            return Double(bitPattern: words(o)[1])
        }
        return nil
    }

    public func newInteger(_ v: Int) -> Oop? {
        fitsSmallInt(v) ? intOop(v) : newInteger(BigInt(v))
    }

    public func newInteger(_ v: BigInt) -> Oop? {
        if let small = Int(exactly: v), fitsSmallInt(small) { return intOop(small) }
        let magnitude = v.magnitude
        var bytes: [UInt8] = []
        for word in magnitude.words {
            var w = word
            for _ in 0..<8 { bytes.append(UInt8(w & 0xFF)); w >>= 8 }
        }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        return newBytes(bytes, root: v.sign == .minus ? .classLargeNegativeInteger : .classLargePositiveInteger)
    }

    /// The value of a SmallInteger or Large(Positive|Negative)Integer.
    public func bigIntValue(_ o: Oop) -> BigInt? {
        if isSmallInt(o) { return BigInt(intValue(o)) }
        guard isPointer(o) else { return nil }
        let c = classIndexOfHeader(headerOf(o))
        let negative = c == classIndex(.classLargeNegativeInteger)
        guard negative || c == classIndex(.classLargePositiveInteger) else { return nil }
        let n = indexableSize(o)
        var limbs: [UInt] = Array(repeating: 0, count: (n + 7) / 8)
        let b = bytesOf(o)
        for i in 0..<n { limbs[i / 8] |= UInt(b[i]) << UInt((i % 8) * 8) }
        let m = BigUInt(words: limbs)
        return negative ? -BigInt(m) : BigInt(m)
    }

    // MARK: Identity dictionaries (see Docs/VM.md: tally, array of Associations, linear probing)

    /// The Association for `key`, or nil. Tolerates tables a program has damaged.
    /// Ghosts among the table and the Associations probed are loaded.
    public func identityDictionaryLookup(_ dict: Oop, _ key: Oop) -> Oop? {
        guard isPointer(dict), let dict = loaded(dict), Format.isPointers(formatOf(dict)), numSlotsOf(dict) > DictLayout.array else { return nil }
        guard isPointer(fetch(dict, DictLayout.array)), let array = loaded(fetch(dict, DictLayout.array)),
              formatOf(array) == Format.indexable else { return nil }
        let size = indexableSize(array)
        guard size > 0 else { return nil }
        var i = identityHashValue(key) % size
        for _ in 0..<size {
            let assoc = fetch(array, i)
            if assoc == nilObj { return nil }
            if isPointer(assoc), let assoc = loaded(assoc), Format.isPointers(formatOf(assoc)), numSlotsOf(assoc) > AssocLayout.value,
               identical(fetch(assoc, AssocLayout.key), key) { return assoc }
            i = i + 1 == size ? 0 : i + 1
        }
        return nil
    }

    /// Adds or replaces the association for its key, growing the table as Smalltalk would.
    public func identityDictionaryAdd(_ dict: Oop, _ assoc: Oop) {
        guard let dict = loaded(dict), let table = loaded(fetch(dict, DictLayout.array)) else { return }
        if table != fetch(dict, DictLayout.array) { words(dict)[1 + DictLayout.array] = table }
        let key = fetch(assoc, AssocLayout.key)
        if let existing = identityDictionaryLookup(dict, key) {
            store(existing, AssocLayout.value, fetch(assoc, AssocLayout.value))
            return
        }
        let h = handleMark
        let dictH = handle(dict), assocH = handle(assoc)
        var array = fetch(dict, DictLayout.array)
        let tally = intValue(fetch(dict, DictLayout.tally))
        if !isPointer(array) || (tally + 1) * 4 > indexableSize(array) * 3 {
            let newSize = max(32, isPointer(array) ? indexableSize(array) * 2 : 32)
            let bigger = newArray(newSize)!
            array = fetch(handleValue(dictH), DictLayout.array)
            if isPointer(array) {
                for i in 0..<indexableSize(array) where fetch(array, i) != nilObj { probeInsert(bigger, fetch(array, i)) }
            }
            store(handleValue(dictH), DictLayout.array, bigger)
            array = bigger
        }
        probeInsert(array, handleValue(assocH))
        store(handleValue(dictH), DictLayout.tally, intOop(tally + 1))
        releaseHandles(to: h)
    }

    private func probeInsert(_ array: Oop, _ assoc: Oop) {
        let size = indexableSize(array)
        var i = identityHashValue(fetch(assoc, AssocLayout.key)) % size
        while fetch(array, i) != nilObj { i = i + 1 == size ? 0 : i + 1 }
        store(array, i, assoc)
    }

    /// `identityHash` as Smalltalk sees it (immediates hash by value).
    @inline(__always) public func identityHashValue(_ o: Oop) -> Int {
        isPointer(o) ? hashOf(o) : Int((o >> 3) & 0x3FFF_FFFF)
    }

    public func newAssociation(_ key: Oop, _ value: Oop) -> Oop? {
        let h = handleMark
        let k = handle(key), v = handle(value)
        guard let a = instantiate(root(.classAssociation)) else { releaseHandles(to: h); return nil }
        store(a, AssocLayout.key, handleValue(k))
        store(a, AssocLayout.value, handleValue(v))
        releaseHandles(to: h)
        return a
    }
}

extension VM {
    /// Slot `i` of a heap object (for host code; no bounds check beyond the object's size).
    public func fetchSlot(_ o: Oop, _ i: Int) -> Oop {
        guard isPointer(o), let o = loaded(o), i >= 0, i < numSlotsOf(o) else { return nilObj }
        return followed(fetch(o, i))
    }
    public func isPointer(_ o: Oop) -> Bool { VMCore.isPointer(o) }
}
