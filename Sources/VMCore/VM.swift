// The VM: one isolated object space with its heap, class table, processes and interpreter state.
// A VM is a value you create; several can run at once on different threads (no global state).

import Foundation

public struct VMConfiguration: Sendable {
    public var edenBytes = 8 << 20
    public var survivorBytes = 2 << 20
    /// When most young objects survive, the nursery shrinks so that a scavenge copies about this much.
    public var scavengeCopyTargetBytes: UInt64 = 512 << 10
    /// Old space may not grow past this; exhausting it raises OutOfMemory. At most `maximumHeapLimitBytes`.
    public var heapLimitBytes = 4 << 30
    /// The address space old space may reserve (1 TB).
    public static let maximumHeapLimitBytes = 1 << 40
    /// Words of stack per process (bounds recursion depth).
    public var stackWords = 1 << 20
    public init() {}
}

/// Well-known objects the VM refers to; GC roots.
public enum Root: Int, CaseIterable, Sendable {
    case nilObject, trueObject, falseObject, smalltalk, processor, symbolTable, specialSelectors, timerSemaphore
    case classObject, classUndefinedObject, classTrue, classFalse, classSmallInteger, classCharacter, classSmallFloat64
    case classBoxedFloat64, classLargePositiveInteger, classLargeNegativeInteger, classArray, classByteArray
    case classByteString, classWideString, classByteSymbol, classWideSymbol, classAssociation, classMessage
    case classCompiledMethod, classCompiledBlock, classBlockClosure, classContext, classProcess, classSemaphore
    case classLinkedList, classMetaclass, classMethodDictionary, classIdentityDictionary, classProcessorScheduler
    case classSystemDictionary, classWeakArray
    case selDoesNotUnderstand, selMustBeBoolean, selCannotReturn, selAboutToReturn, selStackOverflow
    case selUserInterrupt, selLowSpace, selValue
    case undeclared
    case evalProcess, evalResult, workspace
}

public enum VMError: Error, CustomStringConvertible {
    case outOfMemory
    case deadlock
    case compileError(String)
    case badImage(String)
    case processTerminated
    /// The evaluation's process was terminated by a program (`Process>>terminate`), with no error.
    case terminated
    case invalid(String)

    public var description: String {
        switch self {
        case .outOfMemory: return "out of memory"
        case .deadlock: return "deadlock: every process is waiting and no timer is pending"
        case .compileError(let m): return m
        case .badImage(let m): return "bad image: \(m)"
        case .processTerminated: return "the evaluation ended with an unhandled error"
        case .terminated: return "the evaluation's process was terminated (Process>>terminate) before it finished"
        case .invalid(let m): return m
        }
    }
}

/// A process stack: a fixed mmap'd region of oops, never moved.
struct ProcessStack {
    var base: UnsafeMutablePointer<UInt64>
    var limit: UnsafeMutablePointer<UInt64>      // frames may not grow past this (soft limit)
    var end: UnsafeMutablePointer<UInt64>        // hard end (soft limit + reserve)
    var sp: UnsafeMutablePointer<UInt64>         // last used slot when suspended
    var hdr: UnsafeMutablePointer<UInt64>?       // top frame when suspended
    var inUse: Bool
    var overflowed: Bool
}

public final class VM {
    public let config: VMConfiguration

    // MARK: Memory regions
    var newStart: UInt64 = 0, newEnd: UInt64 = 0
    var edenStart: UInt64 = 0, edenTop: UInt64 = 0, edenLimit: UInt64 = 0, edenEnd: UInt64 = 0
    var pastStart: UInt64 = 0, pastTop: UInt64 = 0, futureStart: UInt64 = 0, futureTop: UInt64 = 0
    var survivorBytes: UInt64 = 0
    /// `edenLimit` when survivors are few; NurseryPolicy.swift lowers it when they are many.
    var fullEdenLimit: UInt64 = 0
    /// Set when most of what the last scavenge found survived: survivors skip the survivor space.
    var tenureAtFirstScavenge = false
    /// Old space: objects from `oldStart` to `oldTop`. Allocation stops at `oldLimit` (the heap limit);
    /// past it, up to `oldEnd`, lies room that only tenuring uses (`tenuringReserve`), so that a
    /// scavenge never finds old space full.
    var oldStart: UInt64 = 0, oldTop: UInt64 = 0, oldLimit: UInt64 = 0, oldEnd: UInt64 = 0
    var fullGCThreshold: UInt64 = 0
    var oldReserved: Int = 0
    var forwardTable: UnsafeMutablePointer<UInt64>? = nil

    /// Card table (Cards.swift); `cardBias` + address >> `cardShift` is the address of a card's byte.
    var cardTable: UnsafeMutablePointer<UInt8>? = nil
    var cardTableBytes = 0
    var cardBias: UInt64 = 0
    var remembered: UnsafeMutablePointer<Oop>
    var rememberedCount = 0, rememberedCapacity = 1 << 16
    /// Persistent objects changed since the last commit or abort: each once, with its dirty bit set.
    var dirty = OopStack()

    var classTable: UnsafeMutablePointer<Oop>
    var classTableCount = 8       // indices 0-7 are reserved (immediate tags, free)
    /// The least index a new class gets (an image store's: indices some version of a class had in
    /// its history, which a rollback may have left out of the class table, are not handed out again).
    public var classIndexFloor = 0
    static let classTableCapacity = 1 << 22

    var roots: UnsafeMutablePointer<Oop>
    /// Objects held by the host (Swift) across allocations; GC updates them.
    var handles: UnsafeMutablePointer<Oop>
    var handleCount = 0, handleCapacity = 1024

    var hashState: UInt64 = 0x2545_F491_4F6C_DD1D
    /// A collection is due: the next safepoint runs it. Setting it also ends the safepoint countdown, so
    /// that the loop's backward jumps and activations test the countdown alone.
    public internal(set) var gcPending = false {
        didSet { if gcPending { safepointCountdown = 0 } }
    }
    var fullGCPending = false
    var lowSpacePending = false
    var lowSpaceSignalled = false

    // MARK: Statistics
    public internal(set) var scavengeCount = 0
    public internal(set) var fullGCCount = 0
    public internal(set) var scavengePausesNanos: [UInt64] = []
    /// The same pauses in CPU time of the VM's thread (what a busy machine's other processes do not add).
    public internal(set) var scavengePausesCPUNanos: [UInt64] = []
    public internal(set) var bytesTenured: UInt64 = 0
    public internal(set) var fullGCNanos: UInt64 = 0
    /// Objects of the image turned back into ghosts so far, and the full collections that did so.
    public internal(set) var evictedObjects = 0
    public internal(set) var evictions = 0
    /// Small ghosts turned into forwarders so far (Forwarders.swift).
    public internal(set) var forwardersMade = 0
    /// A forwarder was made since the last full collection (which replaces every reference to one).
    var forwardersMayBeReferenced = false

    // MARK: Interpreter state (live in locals inside `interpret`, saved here around calls out)
    var sp: UnsafeMutablePointer<UInt64>
    var hdr: UnsafeMutablePointer<UInt64>
    /// Above 0 while frames hold pc offsets instead of instruction pointers (`withFramesHoldingPCs`).
    var framesHoldPCs = 0
    var stacks: [ProcessStack] = []
    var activeStackIndex = -1
    var methodCache: UnsafeMutablePointer<UInt64>
    /// Inline caches hold `classIndex | cacheEpochBits`; bumping the epoch invalidates them all.
    var cacheEpochBits: UInt64 = 0
    /// The class indices of Array and ByteString, whose `at:`/`size` the loop answers itself; set when
    /// `interpret` starts (kernel classes keep their indices). Read from here, not kept in registers.
    var arrayIndex = 0, byteStringIndex = 0
    /// BlockClosure's class index, for `value`/`value:` in the loop (set when the loop starts).
    var blockClosureIndex = 0
    /// The active stack's limit as the interpreter loop last read it (when it starts, and after each
    /// piece of work that may switch stacks): checked by every activation in the loop.
    var loopStackLimit = UnsafeMutablePointer<UInt64>(bitPattern: 8).unsafelyUnwrapped
    /// Set by a lookup whose answer the send site must not keep in its inline cache: a
    /// `doesNotUnderstand:` handler, or the method of a ghost just loaded (the site saw its class index).
    var sendNotCacheable = false
    /// Counting bytecodes, pairs and triples (`collectBytecodeStatistics`); nil normally.
    public internal(set) var bytecodeStatistics: BytecodeStatistics? = nil
    static let methodCacheEntries = 4096

    /// Set from any thread (signal handler) to interrupt the running evaluation.
    public let interruptFlag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// Ctrl-Cs delivered as `Processor userInterrupt` during the running evaluation: after one, the next
    /// ends the process outright (its program may be unable to handle the first: `safepoint`).
    var interruptsDelivered = 0
    var timerDeadline: UInt64 = 0        // monotonic ms; 0 = none
    /// Activations and backward jumps left before the loop stops at a safepoint (a field rather than a
    /// local of the loop, so that it holds no register there); 0 as soon as a collection is pending.
    var safepointCountdown = 1024
    var evalProcess: Oop { get { roots[Root.evalProcess.rawValue] } set { roots[Root.evalProcess.rawValue] = newValue } }
    var evalResult: Oop { get { roots[Root.evalResult.rawValue] } set { roots[Root.evalResult.rawValue] = newValue } }
    var evalDone = false
    var evalFailed = false
    /// The evaluation's process was terminated (`Process>>terminate`), not stopped by the VM.
    var evalTerminated = false
    /// Lines Smalltalk wrote on stderr (primitive 151): an unhandled error writes its report there
    /// before it terminates the process.
    var stderrWrites = 0
    var deadlocked = false
    public internal(set) var quitRequested: Int? = nil

    // MARK: Host services
    public var compiler: ((_ source: String, _ classOop: Oop, _ kind: CompileKind) -> Result<MethodDescription, VMError>)?
    public var writeOut: (String) -> Void = { FileHandle.standardOutput.write($0.data(using: .utf8)!) }
    public var writeErr: (String) -> Void = { FileHandle.standardError.write($0.data(using: .utf8)!) }
    public var readLine: () -> String? = { Swift.readLine(strippingNewline: true) }
    public var arguments: [String] = []
    /// Writes a package's source (name, "tonel" or "chunk", path); answers an error message or nil.
    public var fileOut: ((_ package: String, _ format: String, _ path: String) -> String?)?
    /// Whether a path names the open image's file or one of the files kept beside it, which programs
    /// may not write or delete (primitives 154, 156, file-out).
    public var isImageFile: ((_ path: String) -> Bool)?
    /// Transactions on the image (`System commit: / abort / checkpoint:`): nil when done.
    public var imageTransaction: ((_ operation: String, _ argument: String) -> ImageTransactionProblem?)?
    /// Moves the bytes of Blobs between files, the image's store and byte objects (PrimitivesBlobs.swift).
    public var blobStore: ((BlobRequest) -> Result<BlobHandle, BlobProblem>)?
    /// The recorded versions of a method, newest first (`CompiledMethod>>versions`).
    public var methodVersions: ((_ className: String, _ selector: String) -> [MethodVersionRecord])?
    /// Called by a full collection with each old object's new address (nil: it was garbage).
    public var objectsMoved: ((_ newAddress: (Oop) -> Oop?) -> Void)?
    /// Loads ghosts in place (Ghosts.swift); answers nil, or why it could not. Set by the image session.
    public var faultHandler: ((_ ghosts: [Oop]) -> String?)?
    /// Loads every object of the image there is (before heap enumeration); nil, or why it could not.
    public var loadAllObjects: (() -> String?)?
    /// The instances of a class that the image holds and memory does not hold loaded, as ghosts (made
    /// for those not in memory), for `allInstances`; or why they could not be made.
    public var storedInstances: ((_ cls: Oop) -> Result<[Oop], ImageInstancesProblem>)?
    /// How many of those there are, without making ghosts (primitive 142: the class builder cannot
    /// change them between pointers and bits).
    public var storedInstanceCount: ((_ cls: Oop) -> Result<Int, ImageInstancesProblem>)?
    /// Called before and after `become:` and its kin exchange identities for Smalltalk (with the pairs
    /// as they are after): the image session moves OIDs along with identities.
    /// May answer more pairs for a one-way `become:` to replace along with those given.
    public var identitiesWillChange: ((_ from: [Oop], _ to: [Oop], _ twoWay: Bool) -> [(Oop, Oop)])?
    public var identitiesChanged: ((_ pairs: [(from: Oop, to: Oop)], _ twoWay: Bool) -> Void)?
    /// Asked by a full collection, once it has marked what the roots reach (`isReached`), for old
    /// objects that must live on anyway: objects of the image changed since they were loaded, which
    /// ghosts may still refer to (the VM cannot see a ghost's references).
    public var retainUnreached: ((_ isReached: (Oop) -> Bool) -> [Oop])?
    /// Asked by a full collection that evicts (Eviction.swift) about each persistent object it could turn
    /// back into a ghost: the OID to load it from again, or nil when its record as of the snapshot loads
    /// are read from is not what memory holds (committed since, or made since). Set by the image session.
    public var reloadableOID: ((Oop) -> UInt64?)?
    /// Why the last fault failed, and how many have failed.
    public internal(set) var faultError: String? = nil
    public internal(set) var faultFailures = 0
    /// Whether the last fault failed only for want of room (the loader asked for a full collection):
    /// the send that needed it is sent again after one (ObjectFaultResend.swift).
    var faultNeedsRoom = false
    /// The frames of `Processor objectFault:` activations the VM started (ObjectFaultNesting.swift).
    var objectFaultFrames: [(stack: Int, frame: UnsafeMutablePointer<UInt64>)] = []
    var lastCompileError = ""
    var lastInstallError: String? = nil
    /// While true every object is allocated in old space (genesis and bootstrap).
    public var bootstrapping = false

    public init(config: VMConfiguration = VMConfiguration()) throws {
        guard config.heapLimitBytes > 0, config.heapLimitBytes <= VMConfiguration.maximumHeapLimitBytes else {
            throw VMError.invalid("a heap limit of \(config.heapLimitBytes) bytes is out of range (1 TB at most)")
        }
        self.config = config
        remembered = .allocate(capacity: rememberedCapacity)
        classTable = VM.mapOrDie(VM.classTableCapacity * 8).assumingMemoryBound(to: Oop.self)
        roots = .allocate(capacity: Root.allCases.count)
        roots.initialize(repeating: 0, count: Root.allCases.count)
        handles = .allocate(capacity: handleCapacity)
        methodCache = .allocate(capacity: VM.methodCacheEntries * 3)
        methodCache.initialize(repeating: 0, count: VM.methodCacheEntries * 3)
        interruptFlag.initialize(to: 0)
        sp = roots   // placeholders until a process runs
        hdr = roots
        try setUpMemory()
    }

    deinit {
        munmap(UnsafeMutableRawPointer(bitPattern: UInt(newStart)), Int(newEnd - newStart))
        munmap(UnsafeMutableRawPointer(bitPattern: UInt(oldStart)), oldReserved)
        munmap(UnsafeMutableRawPointer(classTable), VM.classTableCapacity * 8)
        if let cardTable { munmap(UnsafeMutableRawPointer(cardTable), cardTableBytes) }
        for s in stacks where s.inUse { munmap(UnsafeMutableRawPointer(s.base), (s.end - s.base + 1) * 8) }
        remembered.deallocate(); dirty.release(); roots.deallocate(); handles.deallocate(); methodCache.deallocate()
        interruptFlag.deallocate()
    }

    static func mapOrDie(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("mmap of \(bytes) bytes failed: cannot reserve VM memory") }
        return p
    }

    @inline(__always) public func root(_ r: Root) -> Oop { roots[r.rawValue] }
    public func setRoot(_ r: Root, _ value: Oop) { roots[r.rawValue] = value }
    @inline(__always) public var nilObj: Oop { roots[0] }
    @inline(__always) public var trueObj: Oop { roots[1] }
    @inline(__always) public var falseObj: Oop { roots[2] }
    @inline(__always) public func bool(_ b: Bool) -> Oop { b ? roots[1] : roots[2] }
}
