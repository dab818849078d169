import XCTest
@testable import LivingObjects
@testable import VMCore

/// Ctrl-C and low space reach the active process as sends pushed on its stack (InjectedSignals.swift).
/// A process at its stack's limit when both arrive gets them without a frame past the limit, loses
/// neither, and handles the stack overflow it is given as any other.
final class SignalDeliveryTests: XCTestCase {
    /// What the test's versions of `Processor userInterrupt` and `lowSpace` saw of their own frame.
    struct InjectedFrame: Equatable {
        var fitsBelowTheLimit: Bool
        var stackOverflowed: Bool
    }

    /// A runtime whose stderr primitive is a test hook (a primitive pushes no frame): ARM sets both
    /// signals pending; CHECK notes where the running injected method's frame ends, in `frames`. Its
    /// `Processor userInterrupt` and `lowSpace` have large frames (100 temporaries, more than the room a
    /// process at its limit has left), note their frame and log themselves in `Log`. `DeepProbe run`
    /// recurses until the stack overflows and answers #overflowed; with a target depth it stops there
    /// instead, arms the signals and loops (a safepoint comes within 1024 backward jumps).
    /// `DeepProbe runInReserve` does the same in the handler of the overflow, in the stack's reserve.
    private func probeRuntime() throws -> (CapturingRuntime, Unchecked<[InjectedFrame]>) {
        let c = try CapturingRuntime()
        let vm = c.rt.vm
        let frames = Unchecked<[InjectedFrame]>([])
        vm.writeErr = { [unowned vm, unowned c] text in
            switch text {
            case "ARM":
                vm.interruptFlag.pointee = 1
                vm.lowSpacePending = true
            case "CHECK":
                let frame = vm.hdr
                let end = frame + Frame.headerSize + intValue(fetch(frame[FrameSlot.method], CodeLayout.frameSize))
                let stack = vm.stacks[vm.activeStackIndex]
                frames.value.append(InjectedFrame(fitsBelowTheLimit: end < stack.limit, stackOverflowed: stack.overflowed))
            default:
                c.err += text
            }
        }
        let temps = (1...100).map { "t\($0)" }.joined(separator: " ")
        _ = try c.rt.evaluate("""
            Smalltalk at: #Log put: OrderedCollection new.
            ProcessorScheduler compile: 'userInterrupt | \(temps) | Exception primWriteStderr: ''CHECK''. Log add: #userInterrupt'.
            ProcessorScheduler compile: 'lowSpace | \(temps) | Exception primWriteStderr: ''CHECK''. Log add: #lowSpace'.
            Object subclass: #DeepProbe instanceVariableNames: '' classVariableNames: 'Deepest Target' package: 'SignalTests'.
            DeepProbe compile: 'down: n
                Deepest := n.
                n = Target ifTrue: [Exception primWriteStderr: ''ARM''. 1 to: 3000 do: [:i | Deepest := n]. ^ #armed].
                ^ self down: n + 1'.
            DeepProbe class compile: 'run ^ [self new down: 1] on: StackOverflow do: [:e | e return: #overflowed]'.
            DeepProbe class compile: 'runInReserve
                ^ [Target := nil. self new down: 1] on: StackOverflow do: [:e | Target := Smalltalk at: #ReserveTarget. e return: (self new down: 1)]'.
            DeepProbe class compile: 'target: n Target := n'.
            DeepProbe class compile: 'deepest ^ Deepest'
            """)
        return (c, frames)
    }

    func testSignalsReachingAProcessAtItsStackLimitFitAndAreNotLost() throws {
        let (c, frames) = try probeRuntime()
        // The same evaluation twice: first to find the deepest call that fits, then to stop there, less
        // than a call's frame below the limit.
        XCTAssertEqual(try c.print("DeepProbe run"), "#overflowed")
        _ = try c.rt.evaluate("DeepProbe target: DeepProbe deepest")
        XCTAssertEqual(try c.print("DeepProbe run"), "#overflowed", "the process got a StackOverflow, handled it and went on")
        try assertEachSignalArrivedOnceInAFrameThatFit(c, frames)
        XCTAssertEqual(try c.print("3 + 4"), "7")
    }

    func testSignalsReachingAProcessAtTheEndOfItsReserveWaitUntilItUnwinds() throws {
        let (c, frames) = try probeRuntime()
        // A second overflow, in the reserve, ends the process: that finds the deepest call there.
        _ = try c.rt.evaluate("Smalltalk at: #ReserveTarget put: nil")
        XCTAssertThrowsError(try c.rt.evaluate("DeepProbe runInReserve"))
        XCTAssertTrue(c.err.contains("stack overflow while handling a stack overflow"), c.err)
        c.err = ""
        _ = try c.rt.evaluate("ReserveTarget := DeepProbe deepest")
        XCTAssertEqual(try c.print("DeepProbe runInReserve"), "#armed", "the process was not disturbed at the end of its reserve")
        try assertEachSignalArrivedOnceInAFrameThatFit(c, frames)
    }

    /// Both signals reached Smalltalk once (after the evaluation that held them back), each in a frame
    /// below the stack's limit, and the process's stack is whole again.
    private func assertEachSignalArrivedOnceInAFrameThatFit(_ c: CapturingRuntime, _ frames: Unchecked<[InjectedFrame]>,
                                                           file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try c.print("1 to: 3000 do: [:i | ]. Log asArray asSortedCollection asArray"), "#(#lowSpace #userInterrupt)",
                       "each signal arrived once", file: file, line: line)
        XCTAssertEqual(frames.value.count, 2, file: file, line: line)
        XCTAssertTrue(frames.value.allSatisfy(\.fitsBelowTheLimit), "\(frames.value)", file: file, line: line)
        XCTAssertEqual(try c.print("DeepProbe target: 0; run"), "#overflowed", "the process's stack is whole", file: file, line: line)
        XCTAssertEqual(c.err, "", file: file, line: line)
    }
}
