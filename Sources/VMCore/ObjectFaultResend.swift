// Sends whose ghosts did not fit in the heap.
//
// A send may need a ghost loaded (its receiver, an argument of a primitive, a class, method dictionary
// or method of its lookup) at a moment when old space is full of objects loaded earlier. A full
// collection would evict those that are unchanged, but none can run in the middle of a send: the
// interpreter holds object addresses in its registers. So the send is replaced by
// `aMessage sendAfterCollectingTo: receiver` (kernel, Message), which collects and sends the message
// again. If the message's own fault fails again right there, it becomes an ObjectFault as any other.

extension VM {
    /// Replaces the send of `selector` whose receiver and arguments are the top `nargs + 1` stack slots
    /// by `aMessage sendAfterCollectingTo: receiver` when its fault failed only for want of room; answers
    /// that method, the stack pointer and argument count to activate it with. Nil otherwise, or when
    /// the failed send is that method's own send of the message (it collected already), or when out
    /// of memory: the send then becomes `Processor objectFault:`.
    func replaceByResend(_ sp: UnsafeMutablePointer<UInt64>, _ nargs: Int, selector: Oop, lookupClass: Oop = 0)
        -> (Oop, UnsafeMutablePointer<UInt64>, Int)? {
        guard faultNeedsRoom, isSymbol(selector), let resend = resendMethod(),
              !isResending(receiverSlot: sp - nargs, resend) else { return nil }
        guard let message = newMessage(selector, sp, nargs, lookupClass: lookupClass == 0 ? nilObj : lookupClass) else { return nil }
        let receiverSlot = sp - nargs
        receiverSlot[1] = receiverSlot[0]
        receiverSlot[0] = message
        sendNotCacheable = true
        return (resend, receiverSlot + 1, 1)
    }

    /// `Message >> sendAfterCollectingTo:`, nil if the kernel has none (or it cannot be loaded).
    private func resendMethod() -> Oop? {
        guard let selector = intern("sendAfterCollectingTo:") else { return nil }
        return lookup(root(.classMessage), selector)
    }

    /// Whether the send whose receiver is at `receiverSlot` is the one `resend`'s activation makes
    /// right after its collection: its receiver is the first word of that frame's stack.
    private func isResending(receiverSlot: UnsafeMutablePointer<UInt64>, _ resend: Oop) -> Bool {
        let frame = receiverSlot - Frame.headerSize - intValue(fetch(resend, CodeLayout.numTemps))
        guard activeStackIndex >= 0, frame >= stacks[activeStackIndex].base else { return false }
        return frame[FrameSlot.method] == resend
    }
}
