// Ctrl-C and low space reach the active process as a send (`Processor userInterrupt`, `Processor
// lowSpace`) pushed on top of its stack at a safepoint, below the stack's limit like every other frame.

extension VM {
    /// Delivers an asynchronous signal: a send of `selector` to the scheduler on top of the active
    /// process's stack, its answer discarded. Answers what the interpreter does next and whether the
    /// signal went in; one that did not stays pending for a later safepoint.
    ///
    /// The frame must fit below the stack's limit, as `interruptWith:` checks: past it, a process
    /// already using its reserve (the limit is then the reserve's end) would have the frame written
    /// beyond its stack. When it does not fit:
    /// - A process at its ordinary limit gets a StackOverflow now, in the reserve, as its next deeper
    ///   send would: every program is already ready for that, and it keeps the process recoverable (a
    ///   handler unwinds it, or it ends as on any overflow). The signal stays pending and goes in at a
    ///   later safepoint, in the reserve or after the stack unwound. Only waiting for room could wait
    ///   forever (a loop just below the limit would never see Ctrl-C); dropping the signal would lose it.
    /// - A process already in its reserve is handling an overflow: the signal waits until the process
    ///   unwinds or ends (then the next process to run gets it). A second overflow would end the process.
    func deliverSignal(_ selector: Oop) -> (next: Next, delivered: Bool) {
        if let next = inject(selector: selector, receiver: scheduler) { return (next, true) }
        var stack = stacks[activeStackIndex]
        if stack.overflowed { return (.resume, false) }
        stack.overflowed = true
        stack.limit = stack.end
        stacks[activeStackIndex] = stack
        return (inject(selector: root(.selStackOverflow), receiver: scheduler) ?? .resume, false)
    }

    /// Pushes a send of `selector` to `receiver` on the active process, its answer discarded, if the
    /// frame fits below the stack's limit; nil (nothing pushed) if it does not. A selector the receiver
    /// does not understand is ignored.
    func inject(selector: Oop, receiver: Oop) -> Next? {
        guard let method = lookup(classOf(receiver), selector) else { return .resume }
        let frameEnd = sp + 2 + Frame.headerSize + intValue(fetch(method, CodeLayout.frameSize))
        if frameEnd >= stacks[activeStackIndex].limit { return nil }
        let interruptedTop = sp
        sp += 1; sp.pointee = receiver
        return pushFrame(method: method, closure: nilObj, receiverSlot: sp, nargs: 0,
                         resultSlot: addressOop(interruptedTop) | FrameSlot.discardResult)
    }
}
