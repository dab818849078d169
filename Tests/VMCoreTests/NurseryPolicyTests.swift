import XCTest
@testable import VMCore

/// A scavenge's pause grows with its survivors: when most young objects survive the nursery shrinks
/// (NurseryPolicy.swift), and it grows back when they die young again.
final class NurseryPolicyTests: XCTestCase {
    var vm: VM!
    var nextID = 0
    override func setUpWithError() throws { vm = try TestSpace.make() }

    private func pair(_ l: Oop, _ r: Oop) -> Oop {
        let p = vm.instantiate(vm.globalValue("Pair")!)!
        vm.store(p, 0, l); vm.store(p, 1, r)
        return p
    }

    /// Allocates until the VM asks for a scavenge, then scavenges (as the interpreter's safepoint
    /// would); each pair heads the list in handle `list`, if any. Answers the bytes the scavenge copied.
    @discardableResult
    private func allocateUntilScavenge(keeping list: Int?) -> UInt64 {
        vm.gcPending = false
        while !vm.gcPending {
            let p = pair(intOop(nextID), list.map(vm.handleValue) ?? vm.nilObj)
            if let list { vm.handles[list] = p }
            nextID += 1
        }
        let oldBefore = vm.oldTop
        vm.scavenge()
        return (vm.pastTop - vm.pastStart) + (vm.oldTop - oldBefore)
    }

    func testWhenEverythingSurvivesAScavengeCopiesAboutTheTargetAndTenuresAtOnce() {
        XCTAssertEqual(vm.edenLimit, vm.fullEdenLimit)
        let list = vm.handle(vm.nilObj)
        let first = allocateUntilScavenge(keeping: list)
        XCTAssertGreaterThan(first, 4 << 20, "the full eden survived")
        XCTAssertTrue(vm.tenureAtFirstScavenge)
        XCTAssertLessThan(vm.edenLimit - vm.edenStart, vm.config.scavengeCopyTargetBytes * 2)
        allocateUntilScavenge(keeping: list)               // tenures the survivors of the first one too
        for _ in 0..<5 {
            let copied = allocateUntilScavenge(keeping: list)
            XCTAssertLessThan(copied, vm.config.scavengeCopyTargetBytes * 2)
            XCTAssertEqual(vm.pastTop, vm.pastStart, "survivors went straight to old space")
        }
        var p = vm.handleValue(list), expected = nextID - 1
        while p != vm.nilObj {
            XCTAssertEqual(intValue(fetch(p, 0)), expected)
            expected -= 1; p = fetch(p, 1)
        }
        XCTAssertEqual(expected, -1, "every pair kept")

        vm.handles[list] = vm.nilObj
        allocateUntilScavenge(keeping: nil)
        XCTAssertFalse(vm.tenureAtFirstScavenge)
        XCTAssertEqual(vm.edenLimit, vm.fullEdenLimit, "garbage again: the full eden")
    }
}
