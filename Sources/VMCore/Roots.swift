// GC roots: well-known objects, host handles, the class table and every live process stack.

extension VM {
    /// Calls `body` with the address of every root slot (the method cache is not one: collectors flush it).
    func forEachRootSlot(_ body: (UnsafeMutablePointer<Oop>) -> Void) {
        for i in 0..<Root.allCases.count { body(roots + i) }
        for i in 0..<handleCount { body(handles + i) }
        // From 1: the classes of immediates are at their tags (a class loaded from an image may move).
        for i in 1..<classTableCount where classTable[i] != 0 { body(classTable + i) }
        for (index, stack) in stacks.enumerated() where stack.inUse {
            let top = index == activeStackIndex ? sp : stack.sp
            var p = stack.base
            while p <= top { body(p); p += 1 }
        }
    }

    /// Clears the global method cache: it holds raw oops, which a collection moves.
    func flushMethodCache() {
        methodCache.update(repeating: 0, count: VM.methodCacheEntries * 3)
    }

    /// Methods changed: every inline cache and global cache entry carries the epoch it was filled in,
    /// so a new epoch invalidates them all at once.
    func invalidateMethodCaches() {
        cacheEpochBits &+= 1 << 26
    }

    /// Number of leading pointer slots the GC traces (weak objects: only the fixed part).
    @inline(__always) func tracedSlotCount(_ o: Oop, format: Int) -> Int {
        if format == Format.weak { return fixedFieldCount(of: o) }
        if format == Format.forwarder { return 1 }
        return format <= Format.fixedIndexable || format == Format.ghost ? numSlotsOf(o) : 0
    }

    /// The fixed fields of `o`: its class's instance size, but never more than the slots `o` has (a
    /// program may have changed its class's `format` field since `o` was made).
    @inline(__always) func fixedFieldCount(of o: Oop) -> Int {
        min(fixedFieldCount(ofClassIndex: classIndexOfHeader(headerOf(o))), numSlotsOf(o))
    }

    /// The instance size recorded in a class's `format` field.
    func fixedFieldCount(ofClassIndex index: Int) -> Int {
        let cls = classTable[index]
        let fmt = fetch(cls, ClassLayout.format)
        return isSmallInt(fmt) ? intValue(fmt) & 0xFFFF : 0
    }
}

/// Instance-variable indices the VM uses (see Docs/VM.md).
public enum ClassLayout {
    public static let superclass = 0, methodDict = 1, format = 2, instanceVariables = 3, organization = 4
    public static let name = 5, subclasses = 6, classPool = 7, sharedPools = 8, category = 9, comment = 10
    public static let classSize = 11
    public static let soleInstance = 5, metaclassSize = 6
}
public enum CodeLayout {
    public static let bytecodes = 0, literals = 1, numArgs = 2, numTemps = 3, frameSize = 4, lines = 5
    public static let primitive = 6, selector = 7, methodClass = 8, sourceCode = 9, pragmas = 10
    public static let methodSize = 11
    public static let numCopied = 6, needsHomeContext = 7, outerCode = 8
    public static let blockSize = 9
}
public enum ClosureLayout { public static let outerContext = 0, compiledBlock = 1, numArgs = 2, receiver = 3, fixedSize = 4 }
public enum ContextLayout {
    public static let sender = 0, pc = 1, stackp = 2, method = 3, closureOrNil = 4, receiver = 5, frame = 6
    public static let size = 7
}
public enum ProcessLayout {
    public static let nextLink = 0, suspendedContext = 1, priority = 2, myList = 3, name = 4, stackId = 5
    public static let size = 6
}
public enum ListLayout { public static let firstLink = 0, lastLink = 1, excessSignals = 2 }
public enum SchedulerLayout { public static let processLists = 0, activeProcess = 1 }
public enum DictLayout { public static let tally = 0, array = 1 }
public enum AssocLayout { public static let key = 0, value = 1 }
public enum MessageLayout { public static let selector = 0, arguments = 1, lookupClass = 2 }
