// Dynamic bytecode statistics: how often each opcode, pair and triple of adjacent opcodes runs.
//
// They choose superinstructions. The interpreter loop is generic over a `DispatchObserver`; the
// plain one compiles to nothing, so counting costs nothing unless it is switched on.

protocol DispatchObserver { static var counts: Bool { get } }
enum PlainDispatch: DispatchObserver { static var counts: Bool { false } }
enum CountingDispatch: DispatchObserver { static var counts: Bool { true } }

/// Counters for opcodes executed one after the other in the same code (a jump or a send starts a
/// new sequence: a superinstruction could not span it).
public final class BytecodeStatistics {
    var singles = [UInt64](repeating: 0, count: 256)
    var pairs = [UInt64](repeating: 0, count: 256 * 256)
    /// 2^24 saturating counters (64 MB, only while counting).
    var triples = [UInt32](repeating: 0, count: 1 << 24)
    private var previous: (ip: UnsafeMutablePointer<UInt8>?, length: Int, op1: UInt32, op2: UInt32?) = (nil, 0, 0, nil)

    init() {}

    func record(_ op: Opcode, at ip: UnsafeMutablePointer<UInt8>) {
        let code = UInt32(op.rawValue)
        singles[Int(code)] &+= 1
        if let last = previous.ip, last + previous.length == ip {
            pairs[Int(previous.op1 << 8 | code)] &+= 1
            if let first = previous.op2 {
                let key = Int(first << 16 | previous.op1 << 8 | code)
                if triples[key] != .max { triples[key] += 1 }
            }
            previous = (ip, op.length, code, previous.op1)
        } else {
            previous = (ip, op.length, code, nil)
        }
    }

    /// The total number of bytecodes executed.
    public var total: UInt64 { singles.reduce(0, &+) }

    /// The `limit` most frequent single opcodes, pairs and triples, each with its count.
    public func top(_ limit: Int) -> (singles: [([Opcode], UInt64)], pairs: [([Opcode], UInt64)], triples: [([Opcode], UInt64)]) {
        func opcodes(_ key: UInt32, count: Int) -> [Opcode] {
            (0..<count).reversed().compactMap { Opcode(rawValue: UInt8(truncatingIfNeeded: key >> (8 * UInt32($0)))) }
        }
        let s = singles.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }.prefix(limit)
            .map { (opcodes(UInt32($0.offset), count: 1), $0.element) }
        let p = pairs.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }.prefix(limit)
            .map { (opcodes(UInt32($0.offset), count: 2), $0.element) }
        let t = triples.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }.prefix(limit)
            .map { (opcodes(UInt32($0.offset), count: 3), UInt64($0.element)) }
        return (Array(s), Array(p), Array(t))
    }

    /// A printable report of the `limit` commonest sequences, with their share of all bytecodes.
    public func report(limit: Int = 25) -> String {
        let all = Double(max(total, 1))
        let (s, p, t) = top(limit)
        var out = "bytecodes executed: \(total)\n"
        for (title, rows) in [("opcodes", s), ("pairs", p), ("triples", t)] {
            out += "\n\(title):\n"
            for (ops, n) in rows {
                let name = ops.map { "\($0)" }.joined(separator: " ")
                out += String(format: "  %6.2f%%  %12llu  ", Double(n) / all * 100, n) + name + "\n"
            }
        }
        return out
    }
}

extension VM {
    /// Starts counting bytecodes (slower: a second copy of the interpreter loop runs), or stops.
    public func collectBytecodeStatistics(_ on: Bool) {
        bytecodeStatistics = on ? (bytecodeStatistics ?? BytecodeStatistics()) : nil
    }
}
