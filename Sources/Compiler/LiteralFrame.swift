import VMCore

/// The literals of one method or block. Equal constants share a slot; send sites, cache slots
/// and blocks never do.
struct LiteralFrame {
    private(set) var literals: [Literal] = []

    /// A constant or a binding, deduplicated.
    mutating func index(of literal: Literal, at position: SourcePosition) throws(CompileError) -> Int {
        if let index = literals.firstIndex(where: { LiteralFrame.isSame($0, literal) }) { return index }
        return try append([literal], at: position)
    }

    /// A send site: the selector followed by its two inline-cache slots.
    mutating func sendSite(_ selector: String, at position: SourcePosition) throws(CompileError) -> Int {
        try append([.symbol(selector), .cacheSlot, .cacheSlot], at: position)
    }

    /// The slot where a float block keeps its program (an inline-cache slot: empty until it first runs).
    mutating func floatProgramSlot(at position: SourcePosition) throws(CompileError) -> Int {
        try append([.cacheSlot], at: position)
    }

    mutating func block(_ block: BlockDescription, at position: SourcePosition) throws(CompileError) -> Int {
        try append([.block(block)], at: position)
    }

    private mutating func append(_ entries: [Literal], at position: SourcePosition) throws(CompileError) -> Int {
        if literals.count + entries.count > 1 << 16 { throw CompileError("too many literals", at: position) }
        literals += entries
        return literals.count - entries.count
    }

    /// Equality that tells 0.0 from -0.0 and never merges blocks or cache slots.
    private static func isSame(_ a: Literal, _ b: Literal) -> Bool {
        switch (a, b) {
        case (.cacheSlot, _), (.block, _): return false
        case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern
        case (.array(let xs), .array(let ys)): return xs.count == ys.count && zip(xs, ys).allSatisfy(isSame)
        default: return a == b
        }
    }
}
