import BigInt
import XCTest
@testable import VMCore

final class MemoryTests: XCTestCase {
    var vm: VM!
    override func setUpWithError() throws { vm = try TestSpace.make() }

    private func pair(_ l: Oop, _ r: Oop) -> Oop {
        let p = vm.instantiate(vm.globalValue("Pair")!)!
        vm.store(p, 0, l); vm.store(p, 1, r)
        return p
    }

    func testSymbolsAreUniqueAndStringsKeepCodePoints() {
        XCTAssertEqual(vm.intern("foo:bar:"), vm.intern("foo:bar:"))
        XCTAssertNotEqual(vm.intern("foo"), vm.intern("bar"))
        let wide = vm.newString("héllo ∀ 😀")!
        XCTAssertEqual(vm.stringValue(wide), "héllo ∀ 😀")
        XCTAssertEqual(vm.classOf(wide), vm.root(.classWideString))
        XCTAssertEqual(vm.classOf(vm.newString("abc")!), vm.root(.classByteString))
        for i in 0..<10_000 { _ = vm.intern("sym\(i)") }
        XCTAssertEqual(vm.stringValue(vm.intern("sym1234")!), "sym1234")
        XCTAssertEqual(vm.intern("sym1234"), vm.findSymbol("sym1234".unicodeScalars.map { $0.value }))
    }

    func testIntegersOfAnySizeRoundTrip() {
        for s in ["0", "-1", "1152921504606846975", "1152921504606846976", "-1152921504606846977",
                  "123456789012345678901234567890", "-98765432109876543210987654321"] {
            let v = BigInt(s)!
            XCTAssertEqual(vm.bigIntValue(vm.newInteger(v)!), v, s)
        }
        XCTAssertTrue(isSmallInt(vm.newInteger(BigInt(SmallInt.max))!))
        XCTAssertEqual(vm.classOf(vm.newInteger(BigInt(SmallInt.max) + 1)!), vm.root(.classLargePositiveInteger))
    }

    func testScavengeKeepsReachableObjectsAndDropsGarbage() {
        var list = vm.nilObj
        let h = vm.handle(list)
        for i in 0..<1000 {
            list = pair(intOop(i), vm.handleValue(h))
            vm.handles[h] = list
            _ = pair(intOop(-1), intOop(-1))       // garbage
        }
        let identity = vm.identityHashValue(vm.handleValue(h))
        vm.scavenge()
        XCTAssertEqual(vm.edenTop, vm.edenStart)
        var p = vm.handleValue(h)
        XCTAssertEqual(vm.identityHashValue(p), identity, "identity hashes survive moves")
        var expected = 999
        while p != vm.nilObj {
            XCTAssertEqual(intValue(fetch(p, 0)), expected)
            expected -= 1
            p = fetch(p, 1)
        }
        XCTAssertEqual(expected, -1)
    }

    func testOldObjectsPointingToYoungOnesAreRemembered() {
        let old = vm.newArray(4)!
        let h = vm.handle(old)
        vm.scavenge(); vm.scavenge()
        let o = vm.handleValue(h)
        XCTAssertTrue(vm.isOld(o))
        vm.store(o, 0, pair(intOop(7), intOop(8)))
        XCTAssertTrue(vm.isYoung(fetch(o, 0)))
        vm.scavenge()
        let young = fetch(vm.handleValue(h), 0)
        XCTAssertEqual(intValue(fetch(young, 0)), 7)
        XCTAssertEqual(intValue(fetch(young, 1)), 8)
    }

    func testFullGCReclaimsCyclesAndCompacts() {
        let keep = vm.handle(vm.newArray(100)!)
        for i in 0..<100 { vm.store(vm.handleValue(keep), i, vm.newString("live \(i)")!) }
        for _ in 0..<20_000 {
            let a = pair(vm.nilObj, vm.nilObj), b = pair(a, vm.nilObj)
            vm.store(a, 1, b)                       // a cycle nobody references
        }
        vm.fullGC()
        let afterFirst = vm.oldTop - vm.oldStart
        for _ in 0..<20_000 {
            let a = pair(vm.nilObj, vm.nilObj), b = pair(a, vm.nilObj)
            vm.store(a, 1, b)
        }
        vm.fullGC()
        XCTAssertEqual(vm.oldTop - vm.oldStart, afterFirst, "cyclic garbage leaves nothing behind")
        for i in 0..<100 { XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(keep), i)), "live \(i)") }
        XCTAssertEqual(vm.stringValue(fetch(vm.globalValue("Pair")!, ClassLayout.name)), "Pair")
    }

    func testWeakArraysLoseUnreachableReferents() {
        let weak = vm.handle(vm.instantiate(vm.globalValue("WeakArray")!, indexable: 2)!)
        let strong = vm.handle(vm.newString("kept")!)
        vm.store(vm.handleValue(weak), 0, vm.handleValue(strong))
        vm.store(vm.handleValue(weak), 1, vm.newString("dropped")!)
        vm.scavenge()
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(weak), 0)), "kept")
        XCTAssertEqual(fetch(vm.handleValue(weak), 1), vm.nilObj)
        vm.store(vm.handleValue(weak), 1, vm.newString("dropped later")!)
        vm.fullGC()
        XCTAssertEqual(fetch(vm.handleValue(weak), 1), vm.nilObj)
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(weak), 0)), "kept")
    }

    func testBecomeSwapsEveryReference() {
        let a = vm.handle(vm.newString("a")!), b = vm.handle(vm.newString("b")!)
        let holder = vm.handle(pair(vm.handleValue(a), vm.handleValue(b)))
        vm.become([vm.handleValue(a)], [vm.handleValue(b)], twoWay: true)
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(holder), 0)), "b")
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(holder), 1)), "a")
        vm.become([fetch(vm.handleValue(holder), 0)], [fetch(vm.handleValue(holder), 1)], twoWay: false)
        XCTAssertEqual(vm.stringValue(fetch(vm.handleValue(holder), 0)), "a")
        XCTAssertEqual(fetch(vm.handleValue(holder), 0), fetch(vm.handleValue(holder), 1))
    }

    func testChangesToPersistentObjectsAreNotedOnceAndFollowCompaction() {
        let mark = vm.handleMark
        _ = vm.handle(vm.newArray(100)!)                  // garbage below the others: compaction moves them
        let array = vm.handle(vm.newArray(3)!), bytes = vm.handle(vm.newBytes([1, 2, 3], root: .classByteArray)!)
        let doomed = vm.handle(vm.newArray(1)!)
        vm.scavenge(tenureAll: true)
        for h in [array, bytes, doomed] { vm.makePersistent(vm.handleValue(h)) }
        let young = vm.newArray(1)!
        vm.store(young, 0, intOop(1))
        XCTAssertEqual(vm.changedObjects, [], "young objects are never persistent")

        vm.store(vm.handleValue(array), 0, intOop(1))
        vm.store(vm.handleValue(array), 1, vm.newString("young")!)
        XCTAssertNotNil(vm.indexedAtPut(vm.handleValue(bytes), intOop(2), intOop(9)))
        vm.store(vm.handleValue(doomed), 0, intOop(1))
        XCTAssertEqual(vm.changedObjects, [array, bytes, doomed].map(vm.handleValue), "each once, in order")

        let kept = [array, bytes].map(vm.handleValue)
        vm.releaseHandles(to: mark)
        let keptHandles = kept.map { vm.handle($0) }
        vm.fullGC()
        XCTAssertNotEqual(vm.handleValue(keptHandles[0]), kept[0], "compaction moved them")
        XCTAssertEqual(vm.changedObjects, keptHandles.map(vm.handleValue), "moved along; the dead one dropped")
        XCTAssertEqual(vm.stringValue(fetch(vm.changedObjects[0], 1)), "young")

        vm.clearChangedObjects()
        XCTAssertNotNil(vm.replace(vm.handleValue(keptHandles[1]), intOop(1), intOop(2), vm.newBytes([7, 7], root: .classByteArray)!, intOop(1)))
        XCTAssertEqual(vm.changedObjects, [vm.handleValue(keptHandles[1])])
        vm.makeTransient(vm.handleValue(keptHandles[1]))
        XCTAssertEqual(vm.changedObjects, [], "an object that lost its OID is no longer listed")
    }

    func testBecomeNotesThePersistentObjectsWhoseReferencesItChanged() {
        let a = vm.handle(vm.newString("a")!), b = vm.handle(vm.newString("b")!)
        let holder = vm.handle(pair(vm.handleValue(a), vm.handleValue(b)))
        let bystander = vm.handle(vm.newArray(1)!)
        vm.scavenge(tenureAll: true)
        for h in [a, b, holder, bystander] { vm.makePersistent(vm.handleValue(h)) }
        vm.become([vm.handleValue(a)], [vm.handleValue(b)], twoWay: true)
        XCTAssertEqual(vm.changedObjects, [vm.handleValue(holder)])
    }

    func testAllInstancesAndEnumeration() {
        let keep = vm.handle(vm.newArray(10)!)
        for i in 0..<10 { vm.store(vm.handleValue(keep), i, pair(intOop(i), vm.nilObj)) }
        let index = vm.indexOfClass(vm.globalValue("Pair")!)!
        vm.fullGC()
        XCTAssertEqual(vm.allInstances(ofClassIndex: index).count, 10)
        var count = 0
        var o = vm.firstObject()
        while let x = o { count += 1; o = vm.objectAfter(x) }
        XCTAssertGreaterThan(count, 100)
    }

    func testHeapLimitMakesAllocationFailInsteadOfCrashing() throws {
        var config = VMConfiguration()
        config.heapLimitBytes = 64 << 20
        let small = try TestSpace.make(config)
        var failed = false
        let keep = small.handle(small.newArray(0)!)
        for _ in 0..<10_000 {
            guard let big = small.newArray(1 << 17) else { failed = true; break }
            small.handles[keep] = big
        }
        XCTAssertTrue(failed, "allocation beyond the limit answers nil")
    }
}
