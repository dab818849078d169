// Green threads: per-process stacks, the Blue Book scheduler, timers, safepoints and evaluation entry points.

import Foundation

extension VM {
    // MARK: Stacks

    func newStack() -> Int {
        let wordsCount = config.stackWords
        let reserve = 16 * 1024
        let base = VM.mapOrDie((wordsCount + reserve) * 8).assumingMemoryBound(to: UInt64.self)
        let stack = ProcessStack(base: base, limit: base + wordsCount, end: base + wordsCount + reserve - 64,
                                 sp: base - 1, hdr: nil, inUse: true, overflowed: false)
        if let free = stacks.firstIndex(where: { !$0.inUse }) { stacks[free] = stack; return free }
        stacks.append(stack)
        return stacks.count - 1
    }

    func freeStack(_ index: Int) {
        let s = stacks[index]
        guard s.inUse else { return }
        munmap(UnsafeMutableRawPointer(s.base), (s.end - s.base + 64) * 8)
        stacks[index].inUse = false
    }

    func stackIndex(ofProcess p: Oop) -> Int? {
        let id = fetch(p, ProcessLayout.stackId)
        guard isSmallInt(id) else { return nil }
        let i = intValue(id)
        return i >= 0 && i < stacks.count && stacks[i].inUse ? i : nil
    }

    /// A new suspended process whose stack will run `method` on `receiver` with `args`
    /// (a CompiledMethod, or a CompiledBlock with `receiver` the closure).
    func newProcess(receiver: Oop, args: [Oop], code: Oop, closure: Oop, priority: Int) -> Oop? {
        let h = handleMark
        let rH = handle(receiver), cH = handle(code), clH = handle(closure)
        let argHs = args.map { handle($0) }
        defer { releaseHandles(to: h) }
        guard let process = instantiate(root(.classProcess)) else { return nil }
        let index = newStack()
        store(process, ProcessLayout.priority, intOop(priority))
        store(process, ProcessLayout.stackId, intOop(index))
        onStack(index) {
            sp += 1; sp.pointee = handleValue(rH)
            for a in argHs { sp += 1; sp.pointee = handleValue(a) }
            _ = pushFrame(method: handleValue(cH), closure: handleValue(clH), receiverSlot: sp - argHs.count,
                          nargs: argHs.count, resultSlot: addressOop(stacks[index].base))
            hdr[FrameSlot.caller] = FrameSlot.bottomFrame
            hdr[FrameSlot.resultSlot] |= FrameSlot.slowReturn
        }
        return process
    }

    /// Runs `body` with `sp`/`hdr` set to another process's stack (to build frames there), then saves them.
    func onStack(_ index: Int, _ body: () -> Void) {
        let saved = (sp, hdr, activeStackIndex)
        sp = stacks[index].sp
        hdr = stacks[index].hdr ?? stacks[index].base
        activeStackIndex = index
        body()
        stacks[index].sp = sp
        stacks[index].hdr = hdr
        (sp, hdr, activeStackIndex) = saved
    }

    // MARK: The scheduler (Blue Book)

    var scheduler: Oop { root(.processor) }
    var activeProcess: Oop { fetch(scheduler, SchedulerLayout.activeProcess) }

    func priorityOf(_ p: Oop) -> Int {
        let v = fetch(p, ProcessLayout.priority)
        return isSmallInt(v) ? intValue(v) : 40
    }

    // Smalltalk code links processes through these lists too, so a program may leave anything in them:
    // the VM follows a link only while it is a Process, and a list whose last link is not one starts
    // again with the process added (what was linked before is left waiting).

    /// A list the VM may link processes through: a pointer object with the first and last link slots.
    func isProcessList(_ o: Oop) -> Bool {
        isPointer(o) && Format.isPointers(formatOf(o)) && numSlotsOf(o) > ListLayout.lastLink
    }

    func listIsEmpty(_ list: Oop) -> Bool { !isProcess(fetch(list, ListLayout.firstLink)) }

    func addLast(_ list: Oop, _ p: Oop) {
        let last = fetch(list, ListLayout.lastLink)
        if listIsEmpty(list) || !isProcess(last) { store(list, ListLayout.firstLink, p) } else { store(last, ProcessLayout.nextLink, p) }
        store(list, ListLayout.lastLink, p)
        store(p, ProcessLayout.nextLink, nilObj)
        store(p, ProcessLayout.myList, list)
    }

    func addFirst(_ list: Oop, _ p: Oop) {
        let intact = !listIsEmpty(list) && isProcess(fetch(list, ListLayout.lastLink))
        store(p, ProcessLayout.nextLink, intact ? fetch(list, ListLayout.firstLink) : nilObj)
        if !intact { store(list, ListLayout.lastLink, p) }
        store(list, ListLayout.firstLink, p)
        store(p, ProcessLayout.myList, list)
    }

    /// The first process of a list that is not empty.
    func removeFirst(_ list: Oop) -> Oop {
        let first = fetch(list, ListLayout.firstLink)
        let link = fetch(first, ProcessLayout.nextLink)
        let next = isProcess(link) ? link : nilObj
        store(list, ListLayout.firstLink, next)
        if next == nilObj { store(list, ListLayout.lastLink, nilObj) }
        store(first, ProcessLayout.nextLink, nilObj)
        store(first, ProcessLayout.myList, nilObj)
        return first
    }

    func remove(_ p: Oop, from list: Oop) {
        guard isProcessList(list) else { return }
        var prev = nilObj
        var cur = fetch(list, ListLayout.firstLink)
        // `slow` follows at half speed: meeting it means the links go round in a cycle.
        var slow = cur, steps = 0
        while isProcess(cur) && cur != p {
            prev = cur; cur = fetch(cur, ProcessLayout.nextLink)
            steps += 1
            if steps & 1 == 0 { slow = fetch(slow, ProcessLayout.nextLink) }
            if cur == slow { return }
        }
        guard cur == p else { return }
        let next = fetch(p, ProcessLayout.nextLink)
        if prev == nilObj { store(list, ListLayout.firstLink, next) } else { store(prev, ProcessLayout.nextLink, next) }
        if fetch(list, ListLayout.lastLink) == p { store(list, ListLayout.lastLink, prev) }
        store(p, ProcessLayout.nextLink, nilObj)
        store(p, ProcessLayout.myList, nilObj)
    }

    /// The scheduler's run queues: an Array of lists (else none).
    var processLists: Oop? {
        let lists = fetch(scheduler, SchedulerLayout.processLists)
        return isPointer(lists) && formatOf(lists) == Format.indexable && numSlotsOf(lists) > 0 ? lists : nil
    }

    func runList(priority: Int) -> Oop? {
        guard let lists = processLists else { return nil }
        let n = numSlotsOf(lists)
        let list = fetch(lists, max(1, min(priority, n)) - 1)
        return isProcessList(list) ? list : nil
    }

    /// Puts a process in its priority's run queue.
    func makeRunnable(_ p: Oop, first: Bool = false) {
        guard let list = runList(priority: priorityOf(p)) else { return }
        if first { addFirst(list, p) } else { addLast(list, p) }
    }

    /// The first process of the highest non-empty run queue that has a stack to run on.
    func highestRunnable() -> Oop? {
        guard let lists = processLists else { return nil }
        var i = numSlotsOf(lists) - 1
        while i >= 0 {
            let list = fetch(lists, i)
            if isProcessList(list) && !listIsEmpty(list) {
                let p = removeFirst(list)
                if stackIndex(ofProcess: p) != nil { return p }
                continue    // a process whose stack a program took away cannot run: it is dropped
            }
            i -= 1
        }
        return nil
    }

    /// Saves the running process's registers and makes `p` the running process.
    func transfer(to p: Oop) {
        if activeStackIndex >= 0 && stacks[activeStackIndex].inUse {
            stacks[activeStackIndex].sp = sp
            stacks[activeStackIndex].hdr = hdr
        }
        store(scheduler, SchedulerLayout.activeProcess, p)
        guard let index = stackIndex(ofProcess: p), let top = stacks[index].hdr else {
            fatalError("VM: resuming a process without a stack")
        }
        activeStackIndex = index
        sp = stacks[index].sp
        hdr = top
    }

    /// `resume` semantics: a higher-priority process preempts the active one.
    func resume(_ p: Oop) -> Next {
        let active = activeProcess
        if priorityOf(p) > priorityOf(active) {
            makeRunnable(active, first: true)
            transfer(to: p)
        } else {
            makeRunnable(p)
        }
        return .resume
    }

    /// The active process stops running (it is already on a wait list or nowhere): run the next one.
    func switchToNext() -> Next {
        // Whatever happens next, the waiting process must be resumable from its own stack record.
        if activeStackIndex >= 0 && stacks[activeStackIndex].inUse {
            stacks[activeStackIndex].sp = sp
            stacks[activeStackIndex].hdr = hdr
        }
        while true {
            if let p = highestRunnable() { transfer(to: p); return .resume }
            if interruptFlag.pointee != 0 && evalProcess != 0 {
                interruptFlag.pointee = 0
                writeErr("Interrupted while waiting\n")
                evalFailed = true; evalDone = true
                return .stop
            }
            if timerDeadline != 0 {
                let now = millisecondClock()
                if now < timerDeadline { usleep(useconds_t(min(timerDeadline - now, 50) * 1000)) }
                fireTimerIfDue(preempt: false)
                continue
            }
            evalFailed = true
            evalDone = true
            deadlocked = true
            return .stop
        }
    }

    func terminateActiveProcess() -> Next {
        let p = activeProcess
        if let index = stackIndex(ofProcess: p) {
            discardFrames(from: hdr, to: nil)
            freeStack(index)
        }
        activeStackIndex = -1
        store(p, ProcessLayout.stackId, nilObj)
        store(p, ProcessLayout.myList, nilObj)
        if p == evalProcess {
            evalFailed = true; evalDone = true; evalTerminated = true
            return .stop
        }
        return switchToNext()
    }

    /// Objects that survive scavenges filled old space past the heap limit, and a full collection did
    /// not bring it back: the process making them is ended (its Smalltalk code cannot run to handle it:
    /// running allocates), so that the VM can go on and the objects only it held can be reclaimed.
    private func endActiveProcessOutOfMemory() -> Next {
        let limitMB = (oldLimit - oldStart) >> 20
        writeErr("VM: out of memory: objects still referenced fill the heap limit (\(limitMB) MB) even after a full collection; ending the process\n")
        stderrWrites += 1       // the evaluation failed with this report (not a quiet `terminate`)
        collectSoon()
        return terminateActiveProcess()
    }

    /// The bottom frame of the active process returned `value`.
    func processFinished(_ value: Oop) -> Next {
        let p = activeProcess
        if p == evalProcess {
            evalResult = value
            evalDone = true
            if let index = stackIndex(ofProcess: p) { freeStack(index) }
            activeStackIndex = -1
            store(p, ProcessLayout.stackId, nilObj)
            return .stop
        }
        return terminateActiveProcess()
    }

    // MARK: Timers and safepoints

    func millisecondClock() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// Signals the timer semaphore when its deadline has passed (`preempt`: a woken process of higher
    /// priority runs at once).
    func fireTimerIfDue(preempt: Bool) {
        guard timerDeadline != 0, millisecondClock() >= timerDeadline else { return }
        timerDeadline = 0
        let sem = root(.timerSemaphore)
        setRoot(.timerSemaphore, nilObj)
        if sem != nilObj && sem != 0 { signalSemaphore(sem, preempt: preempt) }
    }

    /// Signals a semaphore; answers the process to switch to if it preempts the active one.
    @discardableResult
    func signalSemaphore(_ sem: Oop, preempt: Bool) -> Bool {
        var p = nilObj
        while !listIsEmpty(sem) {
            let first = removeFirst(sem)
            // A waiting process whose stack a program took away cannot run: the signal goes to the next one.
            if stackIndex(ofProcess: first) != nil { p = first; break }
        }
        if p == nilObj {
            let excess = fetch(sem, ListLayout.excessSignals)
            store(sem, ListLayout.excessSignals, intOop((isSmallInt(excess) ? intValue(excess) : 0) + 1))
            return false
        }
        if preempt && activeStackIndex >= 0 && priorityOf(p) > priorityOf(activeProcess) {
            makeRunnable(activeProcess, first: true)
            transfer(to: p)
            return true
        }
        makeRunnable(p)
        return false
    }

    /// Runs between bytecodes with registers saved in `self`: GC, timers, preemption, interrupts.
    func safepoint() -> Next {
        if gcPending {
            gcPending = false
            scavenge()
            if fullGCPending || heapExhausted { fullGC() }
            if heapExhausted { return endActiveProcessOutOfMemory() }
        }
        if stacks[activeStackIndex].overflowed && sp < stacks[activeStackIndex].base + config.stackWords / 2 {
            stacks[activeStackIndex].overflowed = false
            stacks[activeStackIndex].limit = stacks[activeStackIndex].base + config.stackWords
        }
        fireTimerIfDue(preempt: true)
        if interruptFlag.pointee != 0 {
            // A second Ctrl-C while the first's UserInterrupt has not ended the evaluation: the program
            // may be looping in the very code that would handle it (a broken kernel method), so the
            // process ends without running anything more.
            if interruptsDelivered > 0 && evalProcess != 0 {
                interruptFlag.pointee = 0
                interruptsDelivered = 0
                writeErr("VM: interrupted again; ending the process\n")
                return terminateActiveProcess()
            }
            let (next, delivered) = deliverSignal(root(.selUserInterrupt))
            if delivered { interruptFlag.pointee = 0; interruptsDelivered += 1 }
            return next
        }
        if lowSpacePending && !lowSpaceSignalled {
            let (next, delivered) = deliverSignal(root(.selLowSpace))
            if delivered { lowSpacePending = false; lowSpaceSignalled = true }
            return next
        }
        return .resume
    }

    /// Builds a frame on the active stack for `method` (a CompiledMethod, or a CompiledBlock with its closure).
    func pushFrame(method: Oop, closure: Oop, receiverSlot: UnsafeMutablePointer<UInt64>, nargs: Int, resultSlot: Oop) -> Next {
        let frame = sp + 1
        frame[FrameSlot.caller] = addressOop(hdr)
        frame[FrameSlot.savedIP] = ipOop(bytesOf(fetch(method, CodeLayout.bytecodes)))
        frame[FrameSlot.method] = method
        frame[FrameSlot.context] = nilObj
        frame[FrameSlot.closure] = closure
        frame[FrameSlot.receiver] = followed(closure == nilObj ? receiverSlot.pointee : fetch(closure, ClosureLayout.receiver))
        frame[FrameSlot.resultSlot] = resultSlot
        var p = frame + Frame.headerSize - 1
        if closure != nilObj {
            for i in 0..<intValue(fetch(method, CodeLayout.numCopied)) { p += 1; p.pointee = fetch(closure, ClosureLayout.fixedSize + i) }
        }
        for _ in 0..<intValue(fetch(method, CodeLayout.numTemps)) { p += 1; p.pointee = nilObj }
        sp = p
        hdr = frame
        return .resume
    }

    // MARK: Running evaluations from the host

    /// Runs `method` (0 arguments) with `receiver` in a new process at user priority; answers its result.
    public func run(method: Oop, receiver: Oop) throws -> Oop {
        try runProcess { self.newProcess(receiver: receiver, args: [], code: method, closure: self.nilObj, priority: 40) }
    }

    /// Sends `selector` to `receiver` with `args` in a new process.
    public func send(_ selector: String, to receiver: Oop, with args: [Oop] = []) throws -> Oop {
        guard let sel = intern(selector) else { throw VMError.outOfMemory }
        guard let receiver = loaded(receiver) else { throw VMError.invalid(faultError ?? "the receiver cannot be loaded") }
        guard let method = lookup(classOf(receiver), sel) else {
            throw VMError.invalid("\(selector) is not understood")
        }
        let numArgs = intValue(fetch(method, CodeLayout.numArgs))
        guard numArgs == args.count else { throw VMError.invalid("\(selector) takes \(numArgs) arguments") }
        return try runProcess { self.newProcess(receiver: receiver, args: args, code: method, closure: self.nilObj, priority: 40) }
    }

    private func runProcess(_ make: () -> Oop?) throws -> Oop {
        let outer = handleMark
        defer { releaseHandles(to: outer) }
        // Evaluations may nest (a primitive calling back into the host): keep the outer one's state.
        let savedProcess = handle(evalProcess), savedResult = handle(evalResult)
        let saved = (evalDone, evalFailed, activeStackIndex, sp, hdr, interruptsDelivered, evalTerminated)
        let stderrWritesBefore = stderrWrites
        let previousActive = handle(root(.processor) != 0 && root(.processor) != nilObj ? activeProcess : 0)
        guard let p = make() else { throw VMError.outOfMemory }
        evalProcess = p; evalDone = false; evalFailed = false; evalTerminated = false; evalResult = nilObj; deadlocked = false
        interruptsDelivered = 0
        if activeStackIndex >= 0 && handleValue(previousActive) != 0 {
            stacks[activeStackIndex].sp = sp
            stacks[activeStackIndex].hdr = hdr
        }
        activeStackIndex = -1
        transfer(to: p)
        interpret()
        let result = evalResult, failed = evalFailed, wasDeadlock = deadlocked
        // Terminated with nothing said on stderr: no unhandled error reported itself.
        let terminatedQuietly = evalTerminated && stderrWrites == stderrWritesBefore
        evalProcess = handleValue(savedProcess); evalResult = handleValue(savedResult)
        evalDone = saved.0; evalFailed = saved.1; interruptsDelivered = saved.5; evalTerminated = saved.6
        if saved.2 >= 0 && handleValue(previousActive) != 0 && stacks[saved.2].inUse {
            activeStackIndex = saved.2; sp = saved.3; hdr = saved.4
            store(scheduler, SchedulerLayout.activeProcess, handleValue(previousActive))
        } else {
            activeStackIndex = -1
        }
        if quitRequested != nil { return nilObj }
        if wasDeadlock { throw VMError.deadlock }
        if failed { throw terminatedQuietly ? VMError.terminated : VMError.processTerminated }
        return result
    }
}
