// Ghosts seen from the VM: a send, `class` or a primitive given a ghost has the host load it in
// place; a ghost that cannot be loaded becomes `Processor objectFault:`; collectors keep ghosts.

import XCTest
@testable import VMCore

final class GhostTests: XCTestCase {
    typealias T = TestSpace

    /// A VM whose fault handler loads ghosts as Arrays of the contents given for their OIDs.
    private final class Loader {
        let vm: VM
        var contents: [UInt64: [Oop]] = [:]
        var failure: String?
        var loads = 0

        init(_ vm: VM) {
            self.vm = vm
            vm.faultHandler = { [unowned self] ghosts in
                if let failure = self.failure { return failure }
                for g in ghosts {
                    let slots = self.contents[vm.ghostOID(g)]!
                    let o = vm.materialize(g, classIndex: vm.indexOfClass(vm.root(.classArray))!, format: Format.indexable,
                                           words: slots.count)!
                    for (i, v) in slots.enumerated() { vm.setImageSlot(o, i, v) }
                    self.loads += 1
                }
                return nil
            }
        }

        func ghost(_ oid: UInt64, _ slots: [Oop]) -> Oop {
            contents[oid] = slots
            return vm.allocateGhost(oid: oid, hash: Int(oid), words: slots.count)!
        }
    }

    private func space() throws -> (VM, Loader) {
        let vm = try T.make()
        T.install(vm, "Object", "at:", numArgs: 1, primitive: 60, code: [T.op(.pushNil), T.op(.returnTop)])
        T.install(vm, "Array", "second", code: [T.op(.pushSelf), T.op(.pushInt8, 2), T.op(.sendAt), T.op(.returnTop)])
        // Object>>secondOf: x   ^ x second
        T.install(vm, "Object", "secondOf:", numArgs: 1, literals: [.symbol("second"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushTemp, -1), T.op(.send, 0, 0), T.op(.returnTop)])
        return (vm, Loader(vm))
    }

    func testASendToAGhostLoadsItInPlaceAndTheSiteDoesNotCacheTheGhostsClass() throws {
        let (vm, loader) = try space()
        let a = loader.ghost(101, [intOop(1), intOop(2)]), b = loader.ghost(102, [intOop(3), intOop(4)])
        XCTAssertTrue(vm.isGhost(a))
        XCTAssertEqual(vm.ghostOID(a), 101)
        XCTAssertEqual(vm.identityHashValue(a), 101, "a ghost has its object's identity hash")
        XCTAssertEqual(intValue(try vm.send("secondOf:", to: vm.nilObj, with: [a])), 2)
        XCTAssertFalse(vm.isGhost(a))
        XCTAssertEqual(vm.classOf(a), vm.root(.classArray))
        XCTAssertEqual(intValue(try vm.send("secondOf:", to: vm.nilObj, with: [b])), 4)
        XCTAssertEqual(loader.loads, 2, "the same send site loaded the second ghost too")
        XCTAssertEqual(intValue(try vm.send("secondOf:", to: vm.nilObj, with: [a])), 2)
        XCTAssertEqual(loader.loads, 2)
    }

    func testAGhostWithRoomKeepsItsClassesOIDUntilItIsLoaded() throws {
        let (vm, loader) = try space()
        let big = vm.allocateGhost(oid: 30, hash: 30, words: 3, classOID: 12_345)!
        XCTAssertEqual(vm.ghostClassOID(big), 12_345)
        XCTAssertEqual(vm.ghostOID(big), 30)
        XCTAssertNil(vm.ghostClassOID(vm.allocateGhost(oid: 31, hash: 31, words: 1, classOID: 12_345)!), "no room")
        XCTAssertNil(vm.ghostClassOID(vm.allocateGhost(oid: 32, hash: 32, words: 4)!), "none given")
        loader.contents[30] = [intOop(1), intOop(2), intOop(3)]
        XCTAssertTrue(vm.ensureLoaded(big))
        XCTAssertEqual(vm.fetchSlot(big, 1), intOop(2), "loading overwrites it")
    }

    func testTheClassOfAGhostIsItsObjectsClass() throws {
        let (vm, loader) = try space()
        T.install(vm, "Object", "class", primitive: 111, code: [T.op(.pushNil), T.op(.returnTop)])
        T.install(vm, "Object", "classOf:", numArgs: 1, code: [T.op(.pushTemp, -1), T.op(.sendClass), T.op(.returnTop)])
        let g = loader.ghost(7, [intOop(1)])
        XCTAssertEqual(try vm.send("classOf:", to: vm.nilObj, with: [g]), vm.root(.classArray))
        XCTAssertEqual(loader.loads, 1)
        XCTAssertEqual(vm.classOf(loader.ghost(8, [])), vm.root(.classArray), "classOf from Swift loads it too")
    }

    func testAPrimitiveGivenAGhostRunsAgainOnceItIsLoaded() throws {
        let (vm, loader) = try space()
        T.install(vm, "Array", "replaceFrom:to:with:startingAt:", numArgs: 4, primitive: 105,
                  code: [T.op(.pushInt8, -1), T.op(.returnTop)])
        // Object>>copy: source into: target   ^ target replaceFrom: 1 to: 2 with: source startingAt: 1
        T.install(vm, "Object", "copy:into:", numArgs: 2, literals: [.symbol("replaceFrom:to:with:startingAt:"), .cacheSlot, .cacheSlot],
                  code: [T.op(.pushTemp, -1), T.op(.pushInt8, 1), T.op(.pushInt8, 2), T.op(.pushTemp, -2), T.op(.pushInt8, 1),
                         T.op(.send, 0, 4), T.op(.returnTop)])
        let g = loader.ghost(9, [intOop(5), intOop(6)])
        let target = vm.newArray(2)!
        let r = try vm.send("copy:into:", to: vm.nilObj, with: [g, target])
        XCTAssertEqual(r, target, "the primitive succeeded the second time, not the fallback code")
        XCTAssertEqual([vm.fetchSlot(target, 0), vm.fetchSlot(target, 1)], [intOop(5), intOop(6)])
    }

    func testAGhostThatCannotBeLoadedBecomesProcessorObjectFault() throws {
        let (vm, loader) = try space()
        // ProcessorScheduler>>objectFault: why   ^ why
        T.install(vm, "ProcessorScheduler", "objectFault:", numArgs: 1, code: [T.op(.pushTemp, -1), T.op(.returnTop)])
        let g = loader.ghost(10, [intOop(1), intOop(2)])
        loader.failure = "object 10 is damaged"
        XCTAssertEqual(vm.stringValue(try vm.send("secondOf:", to: vm.nilObj, with: [g])), "object 10 is damaged")
        XCTAssertTrue(vm.isGhost(g))
        loader.failure = nil
        XCTAssertEqual(intValue(try vm.send("secondOf:", to: vm.nilObj, with: [g])), 2, "loadable again later")
    }

    func testCollectorsKeepGhostsWithTheirOIDs() throws {
        let (vm, loader) = try space()
        let holder = vm.newArray(1)!
        vm.store(holder, 0, loader.ghost(11, [intOop(1), intOop(42)]))
        let h = vm.handle(holder)
        vm.scavenge()
        vm.fullGC()
        _ = vm.newArray(1000)
        vm.fullGC()
        let g = vm.fetchSlot(vm.handleValue(h), 0)
        XCTAssertTrue(vm.isGhost(g))
        XCTAssertEqual(vm.ghostOID(g), 11)
        XCTAssertEqual(intValue(try vm.send("secondOf:", to: vm.nilObj, with: [g])), 42)
    }
}
