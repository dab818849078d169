// Saved instruction pointers. A frame that is not running keeps the address of its next bytecode,
// not a pc offset: a send saves it and a return resumes from it without reading the method's bytecodes
// object. The address is tagged as a SmallInteger (`ipOop`), so collectors scanning the stack skip it.
//
// Collections and become: move bytecode objects, so while they run every frame holds its pc offset
// instead (`framesHoldPCs`); afterwards the addresses are recomputed from the methods' new places.

extension VM {
    /// Every frame of every live process stack, top frame first.
    func forEachFrame(_ body: (UnsafeMutablePointer<UInt64>) -> Void) {
        for (index, stack) in stacks.enumerated() where stack.inUse {
            var frame = index == activeStackIndex ? hdr : stack.hdr
            while let f = frame {
                body(f)
                frame = callerOf(f)
            }
        }
    }

    /// The first bytecode of the code a frame runs.
    @inline(__always) func codeStart(_ frame: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt8> {
        bytesOf(fetch(frame[FrameSlot.method], CodeLayout.bytecodes))
    }

    /// A frame's pc (bytecode offset) while it is not running.
    func framePC(_ frame: UnsafeMutablePointer<UInt64>) -> Int {
        let saved = frame[FrameSlot.savedIP]
        return framesHoldPCs > 0 ? intValue(saved) : ipPointer(saved) - codeStart(frame)
    }

    func setFramePC(_ frame: UnsafeMutablePointer<UInt64>, _ pc: Int) {
        frame[FrameSlot.savedIP] = framesHoldPCs > 0 ? intOop(pc) : ipOop(codeStart(frame) + pc)
    }

    /// Runs `body`, which may move objects, with pc offsets in the frames; nests.
    func withFramesHoldingPCs<T>(_ body: () -> T) -> T {
        if framesHoldPCs == 0 {
            forEachFrame { f in f[FrameSlot.savedIP] = intOop(ipPointer(f[FrameSlot.savedIP]) - codeStart(f)) }
        }
        framesHoldPCs += 1
        defer {
            framesHoldPCs -= 1
            if framesHoldPCs == 0 {
                forEachFrame { f in f[FrameSlot.savedIP] = ipOop(codeStart(f) + intValue(f[FrameSlot.savedIP])) }
            }
        }
        return body()
    }
}

/// An instruction pointer as a SmallInteger (user-space addresses fit in 60 bits).
@inline(__always) func ipOop(_ ip: UnsafeMutablePointer<UInt8>) -> Oop {
    UInt64(UInt(bitPattern: ip)) << 3 | Tag.smallInteger
}

@inline(__always) func ipPointer(_ o: Oop) -> UnsafeMutablePointer<UInt8> {
    UnsafeMutablePointer(bitPattern: UInt(o >> 3)).unsafelyUnwrapped
}
