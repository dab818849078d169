// What the compiler hands the VM: a method or block as plain Swift values, before it lives in the heap.

/// A literal in a method's literal frame.
public indirect enum Literal: Equatable, Sendable {
    case `nil`, `true`, `false`
    case integer(Int)                       // fits in a SmallInteger or not: the VM decides
    case largeInteger(String)               // decimal digits with optional leading "-"
    case float(Double)
    case scaledDecimal(numerator: String, denominator: String, scale: Int)
    case character(UInt32)                  // a Unicode code point
    case string(String)
    case symbol(String)
    case array([Literal])
    case byteArray([UInt8])
    /// A variable binding (class variable, pool variable or global), resolved by name when the
    /// method is installed: the literal becomes the Association whose value the code reads/writes.
    case binding(String)
    /// A block's code.
    case block(BlockDescription)
    /// Reserved slot (inline caches follow each send's selector literal); installed as nil.
    case cacheSlot
}

/// A compiled block (its own literal frame, its own bytecodes).
public struct BlockDescription: Equatable, Sendable {
    public var numArgs: Int
    /// Values copied from the enclosing scope at closure creation; they occupy the first
    /// `numCopied` local slots of the block's frame (offsets Frame.headerSize ..< +numCopied).
    public var numCopied: Int
    /// Locals after the copied values (block temps, inlined-block temps, temp vectors).
    public var numTemps: Int
    /// Maximum operand-stack depth the code reaches.
    public var maxStack: Int
    /// The block (or a block nested in it) contains `^`: its closure must reference the home context.
    public var needsHomeContext: Bool
    public var bytecodes: [UInt8]
    public var literals: [Literal]
    /// Source line (1-based) of the instruction that each bytecode byte belongs to; 0 = unknown.
    public var lines: [Int]

    public init(numArgs: Int, numCopied: Int, numTemps: Int, maxStack: Int, needsHomeContext: Bool,
                bytecodes: [UInt8], literals: [Literal], lines: [Int] = []) {
        self.numArgs = numArgs; self.numCopied = numCopied; self.numTemps = numTemps
        self.maxStack = maxStack; self.needsHomeContext = needsHomeContext
        self.bytecodes = bytecodes; self.literals = literals; self.lines = lines
    }
}

/// A pragma other than <primitive:>, e.g. <foo: 1 bar: #x>.
public struct PragmaDescription: Equatable, Sendable {
    public var selector: String
    public var arguments: [Literal]
    public init(selector: String, arguments: [Literal]) { self.selector = selector; self.arguments = arguments }
}

/// A compiled method.
public struct MethodDescription: Equatable, Sendable {
    public var selector: String
    public var numArgs: Int
    /// Locals after the arguments.
    public var numTemps: Int
    public var maxStack: Int
    /// 0 when the method has no <primitive: N>.
    public var primitive: Int
    public var bytecodes: [UInt8]
    public var literals: [Literal]
    public var pragmas: [PragmaDescription]
    public var source: String
    /// Source line (1-based) of the instruction that each bytecode byte belongs to; 0 = unknown.
    public var lines: [Int]

    public init(selector: String, numArgs: Int, numTemps: Int, maxStack: Int, primitive: Int,
                bytecodes: [UInt8], literals: [Literal], pragmas: [PragmaDescription], source: String,
                lines: [Int] = []) {
        self.selector = selector; self.numArgs = numArgs; self.numTemps = numTemps; self.maxStack = maxStack
        self.primitive = primitive; self.bytecodes = bytecodes; self.literals = literals
        self.pragmas = pragmas; self.source = source; self.lines = lines
    }
}

/// Frame layout constants shared by compiler and interpreter.
public enum Frame {
    /// Words between the arguments and the first local: caller frame, saved ip, method,
    /// context, closure, receiver, result slot.
    public static let headerSize = 7
    /// The largest frame offset a one-byte temp operand can name.
    public static let maxLocals = 127 - headerSize
}
