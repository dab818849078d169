// Object faults raised while handling object faults.
//
// A ghost that cannot be loaded (a damaged record, an I/O error) turns the send that needed it into
// `Processor objectFault: why`, and the kernel signals ObjectFault. A fault while that is handled is
// allowed — the handler may well need something else the image cannot give — but when the code that
// signals or reports the error is itself what cannot be loaded, every level faults again, one level
// deeper, rereading the bad record each time, until the stack overflows (minutes) and the overflow's
// handling faults the same way. So the VM keeps the frames of the `objectFault:` activations it
// started, and stops the process when a fault would be the `objectFaultNestingLimit`th still running.

extension VM {
    public static let objectFaultNestingLimit = 8

    /// Records the `objectFault:` activation about to be made for the send whose receiver is at
    /// `receiverSlot`; false if as many are running beneath it on this stack already.
    func admitObjectFault(receiverSlot: UnsafeMutablePointer<UInt64>, selector: Oop) -> Bool {
        let stack = activeStackIndex
        objectFaultFrames.removeAll { $0.stack == stack && !isRunningObjectFault($0.frame, below: receiverSlot, selector) }
        if objectFaultFrames.count(where: { $0.stack == stack }) >= VM.objectFaultNestingLimit {
            objectFaultFrames.removeAll { $0.stack == stack }
            return false
        }
        // The activation's frame header follows its receiver and its one argument.
        objectFaultFrames.append((stack, receiverSlot + 2))
        return true
    }

    /// Whether the frame recorded at `frame` is still an `objectFault:` activation of this stack: it
    /// lies below the new fault's send (the live part of the stack, where every word is an object or
    /// a tagged value) and its header still names the handler and `Processor`. A frame that returned
    /// has had its words overwritten by whatever the stack held there since.
    private func isRunningObjectFault(_ frame: UnsafeMutablePointer<UInt64>, below receiverSlot: UnsafeMutablePointer<UInt64>,
                                      _ selector: Oop) -> Bool {
        guard activeStackIndex >= 0, frame >= stacks[activeStackIndex].base,
              frame + FrameSlot.resultSlot < receiverSlot else { return false }
        let method = frame[FrameSlot.method]
        return frame[FrameSlot.receiver] == root(.processor) && isPointer(method) && method != 0
            && classIndexOf(method) == classIndex(.classCompiledMethod)
            && fetch(method, CodeLayout.selector) == selector
    }
}
