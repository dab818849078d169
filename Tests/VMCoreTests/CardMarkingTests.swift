import XCTest
@testable import VMCore

/// Large old objects are scanned by the scavenger card by card (Cards.swift): a young object that only
/// such an object refers to must survive, whatever path stored it there.
final class CardMarkingTests: XCTestCase {
    var vm: VM!
    override func setUpWithError() throws { vm = try TestSpace.make() }

    private func pair(_ l: Oop, _ r: Oop) -> Oop {
        let p = vm.instantiate(vm.globalValue("Pair")!)!
        vm.store(p, 0, l); vm.store(p, 1, r)
        return p
    }

    private func slotAddress(_ o: Oop, _ i: Int) -> UInt64 { o + 8 + UInt64(i) * 8 }

    /// The id stored in slot `i` of `array` (a Pair's first slot), or nil for nil.
    private func id(_ array: Oop, _ i: Int) -> Int? {
        let v = fetch(array, i)
        return v == vm.nilObj ? nil : intValue(fetch(v, 0))
    }

    func testAYoungObjectOnlyALargeOldArrayRefersToSurvivesAndItsCardIsCleanedOnceItIsOld() {
        let big = vm.handle(vm.newArray(20_000)!)          // 160 KB: allocated in old space
        XCTAssertTrue(vm.isOld(vm.handleValue(big)))
        XCTAssertTrue(vm.isScannedByCard(vm.handleValue(big)))
        for i in [0, 10_000, 19_999] { vm.store(vm.handleValue(big), i, pair(intOop(i), vm.nilObj)) }
        XCTAssertTrue(vm.isCardDirty(slotAddress(vm.handleValue(big), 10_000)))
        XCTAssertFalse(vm.isCardDirty(slotAddress(vm.handleValue(big), 5_000)))

        for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }    // garbage over the referents' old places
        vm.scavenge()
        let a = vm.handleValue(big)
        for i in [0, 10_000, 19_999] {
            XCTAssertTrue(vm.isYoung(fetch(a, i)), "copied to the survivor space")
            XCTAssertEqual(id(a, i), i)
        }
        XCTAssertTrue(vm.isCardDirty(slotAddress(a, 10_000)), "still refers to a young object")
        XCTAssertNotEqual(headerOf(a) & Header.rememberedBit, 0)

        for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }
        vm.scavenge()
        for i in [0, 10_000, 19_999] {
            XCTAssertTrue(vm.isOld(fetch(a, i)), "tenured at its second scavenge")
            XCTAssertEqual(id(a, i), i)
        }
        XCTAssertFalse(vm.isCardDirty(slotAddress(a, 10_000)), "cleaned: no young referent left")
        XCTAssertEqual(headerOf(a) & Header.rememberedBit, 0, "no longer remembered")
        XCTAssertFalse((0..<vm.rememberedCount).contains { vm.remembered[$0] == a })
    }

    func testFillingALargeOldArrayWithAYoungObjectKeepsItAliveInEverySlot() {
        let big = vm.handle(vm.newArray(20_000)!)
        XCTAssertEqual(vm.fillIndexedSlots(vm.handleValue(big), with: pair(intOop(7), vm.nilObj)), vm.handleValue(big))
        for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }
        vm.scavenge()
        let a = vm.handleValue(big)
        let first = fetch(a, 0)
        XCTAssertTrue(vm.isYoung(first), "copied to the survivor space")
        XCTAssertEqual(intValue(fetch(first, 0)), 7)
        XCTAssertTrue((0..<20_000).allSatisfy { fetch(a, $0) == first }, "every slot was updated by the scavenge")

        XCTAssertEqual(vm.fillIndexedSlots(a, with: intOop(3)), a)
        XCTAssertTrue((0..<20_000).allSatisfy { fetch(a, $0) == intOop(3) })
        XCTAssertNil(vm.fillIndexedSlots(intOop(3), with: intOop(3)), "not an object: the primitive fails")
    }

    func testALargeObjectTenuredWithYoungReferentsHasTheirCardsMarked() {
        let big = vm.handle(vm.newArray(1000)!)            // 8 KB: young, but scanned by card once old
        XCTAssertTrue(vm.isYoung(vm.handleValue(big)))
        vm.store(vm.handleValue(big), 3, pair(intOop(3), vm.nilObj))
        vm.scavenge()
        vm.store(vm.handleValue(big), 700, pair(intOop(700), vm.nilObj))   // no barrier: the array is young
        vm.scavenge()                                      // tenures the array; its new referent stays young
        let a = vm.handleValue(big)
        XCTAssertTrue(vm.isOld(a))
        XCTAssertTrue(vm.isYoung(fetch(a, 700)))
        XCTAssertTrue(vm.isCardDirty(slotAddress(a, 700)))
        for _ in 0..<3 {
            for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }
            vm.scavenge()
            XCTAssertEqual(id(vm.handleValue(big), 3), 3)
            XCTAssertEqual(id(vm.handleValue(big), 700), 700)
        }
        XCTAssertEqual(vm.rememberedCount, 0)
    }

    /// Young referents stored into a large old array by every path that stores pointers in bulk or one
    /// at a time, overwritten at random, checked after every scavenge: a missed card leaves a slot
    /// pointing at eden, which later allocations overwrite.
    func testEveryStorePathKeepsTheYoungReferentsOfLargeOldObjects() {
        let n = 20_000
        let big = vm.handle(vm.newArray(n)!)
        var expected = [Int?](repeating: nil, count: n)
        var seed: UInt64 = 42
        func random(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        var nextID = 0
        for round in 0..<40 {
            for k in 0..<200 {
                let i = random(n)
                nextID += 1
                let p = pair(intOop(nextID), vm.nilObj)
                let a = vm.handleValue(big)
                switch k % 6 {
                case 0: vm.store(a, i, p)
                case 1: XCTAssertNotNil(vm.indexedAtPut(a, intOop(i + 1), p))
                case 2: XCTAssertNotNil(vm.instVarAtPut(a, intOop(i + 1), p))
                case 3:
                    let h = vm.handle(p)
                    let source = vm.newArray(4)!
                    vm.store(source, 2, vm.handleValue(h))
                    vm.releaseHandles(to: h)
                    XCTAssertNotNil(vm.replace(vm.handleValue(big), intOop(i + 1), intOop(i + 1), source, intOop(3)))
                case 4:
                    let j = min(i, n - 2)       // an inline cache fills two slots: a key and a method
                    vm.fillInlineCache(a, j, vm.nilObj, p)
                    expected[j] = nil
                    expected[j + 1] = nextID
                    continue
                default: vm.store(a, i, vm.nilObj); expected[i] = nil; continue
                }
                expected[i] = nextID
            }
            for _ in 0..<random(3000) { _ = pair(intOop(-1), intOop(-1)) }
            if round % 13 == 12 { vm.fullGC() } else { vm.scavenge() }
            let a = vm.handleValue(big)
            for i in 0..<n {
                XCTAssertEqual(id(a, i), expected[i], "slot \(i) after round \(round)")
            }
        }
    }

    func testCopiesAndBecomeOfLargeArraysKeepYoungReferents() {
        let source = vm.handle(vm.newArray(10_000)!)       // 80 KB: old
        for i in stride(from: 0, to: 10_000, by: 97) { vm.store(vm.handleValue(source), i, pair(intOop(i), vm.nilObj)) }
        let copy = vm.handle(vm.shallowCopy(vm.handleValue(source))!)
        XCTAssertTrue(vm.isOld(vm.handleValue(copy)))
        let other = vm.handle(vm.newArray(10_000)!)
        for i in stride(from: 1, to: 10_000, by: 89) { vm.store(vm.handleValue(other), i, pair(intOop(-i), vm.nilObj)) }
        vm.become([vm.handleValue(source)], [vm.handleValue(other)], twoWay: true)
        for _ in 0..<3 {
            for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }
            vm.scavenge()
            for i in stride(from: 0, to: 10_000, by: 97) {
                XCTAssertEqual(id(vm.handleValue(copy), i), i)
                XCTAssertEqual(id(vm.handleValue(other), i), i, "became the source")
            }
            for i in stride(from: 1, to: 10_000, by: 89) { XCTAssertEqual(id(vm.handleValue(source), i), -i) }
        }
    }

    func testASlotSetByTheImageLoaderKeepsAYoungReferentAlive() {
        let big = vm.handle(vm.newArray(20_000)!)
        vm.setImageSlot(vm.handleValue(big), 12_345, pair(intOop(12_345), vm.nilObj))
        for _ in 0..<3 {
            for _ in 0..<1000 { _ = pair(intOop(-1), intOop(-1)) }
            vm.scavenge()
            XCTAssertEqual(id(vm.handleValue(big), 12_345), 12_345)
        }
    }

    func testALargeOldWeakArrayKeepsHeldYoungReferentsAndLosesTheOthers() {
        let weak = vm.handle(vm.instantiate(vm.globalValue("WeakArray")!, indexable: 10_000)!)
        XCTAssertTrue(vm.isOld(vm.handleValue(weak)))
        let held = vm.handle(vm.newString("held")!)
        vm.store(vm.handleValue(weak), 9_000, vm.handleValue(held))
        vm.store(vm.handleValue(weak), 9_001, vm.newString("dropped")!)
        vm.scavenge()
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(weak), 9_000)), "held")
        XCTAssertEqual(fetch(vm.handleValue(weak), 9_001), vm.nilObj)
        vm.scavenge()
        XCTAssertTrue(vm.isOld(fetch(vm.handleValue(weak), 9_000)))
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(weak), 9_000)), "held")
    }
}
