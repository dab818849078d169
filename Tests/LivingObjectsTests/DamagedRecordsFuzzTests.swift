// An image whose records were damaged on disk — one slot of an object changed to another value, a
// few bytes of a byte object, an object's class or its number of slots — must never crash or hang the VM: whatever uses the object gets an
// error or runs. Each case damages one record among those a workload loads, then runs the workload
// in a child `lo` (a crash there is a failed case, not a crashed test run).

import Foundation
@testable import Store
import VMCore
import XCTest
@testable import LivingObjects

final class DamagedRecordsFuzzTests: MasterImageTestCase {
    override class var master: MasterImage? { DataImage.master }

    static let workload = """
        | d s | d := Dictionary new. 1 to: 30 do: [:i | d at: i printString put: i * i].
        s := WriteStream on: String new.
        (d keys asSortedCollection: [:a :b | a size < b size]) do: [:k | s nextPutAll: k].
        #(3 1 2) asSortedCollection asArray printString , s contents size printString
          , ([1/0] on: ZeroDivide do: [:e | e messageText]) , (2 raisedTo: 100) printString , 3.75 printString
          , ([:sem | [sem signal] fork. sem wait. #forked] value: Semaphore new) printString
          , ([nil foo] on: MessageNotUnderstood do: [:e | e message selector]) printString
          , (LazyNode new adding: 3) printString , (3 @ 4) printString
        """

    /// A small deterministic generator, so that a failing case can be run again.
    private struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    func testRandomlyDamagedRecordsGiveErrorsNotCrashes() throws {
        let loaded = try oidsTheWorkloadLoads()
        XCTAssertGreaterThan(loaded.count, 500, "the workload loads a good part of the kernel")
        // LO_FUZZ_CASES and LO_FUZZ_SEED run more or other cases by hand.
        let environment = ProcessInfo.processInfo.environment
        let cases = environment["LO_FUZZ_CASES"].flatMap { Int($0) } ?? 40
        var generator = Generator(state: environment["LO_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20261122)
        var outcomes: [String: Int] = [:], slowest = (seconds: 0.0, what: "")
        for n in 0..<cases {
            let copy = path("damaged-\(n).lo")
            try SQLiteStore.open(path: image).backup(to: copy)
            let what = try damage(copy, oneOf: loaded, &generator)
            let started = Date()
            // A damaged method can make the workload recurse until the stack overflows, signalling at
            // each level: each signal's search for a handler walks the whole stack, so the time grows
            // with the stack's size squared (3 s on the default 8 MB stack in a release build, minutes
            // in a debug one). A 256 KB stack overflows just the same, sooner.
            let (status, _, err) = try LoProcess.run(["eval", "--image", copy, "--no-commit", Self.workload], in: directory,
                                                     environment: ["LO_STACK_KB": "256"])
            let crashed = status > 1 || err.contains("crashed") || err.contains("Fatal error")
            XCTAssertFalse(crashed, "case \(n), \(what): exit \(status) after \(Date().timeIntervalSince(started)) s\n\(err.prefix(2000))")
            outcomes[status == 0 ? "ran" : "error", default: 0] += 1
            let seconds = Date().timeIntervalSince(started)
            if seconds > slowest.seconds { slowest = (seconds, "case \(n), \(what)") }
            try? FileManager.default.removeItem(atPath: copy)
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), cases, "\(outcomes)")
        print("damaged records: \(outcomes) among \(loaded.count) objects loaded; slowest \(slowest.what): \(slowest.seconds) s")
    }

    /// The OIDs of the objects loaded while the workload runs (after `adding:` is compiled and committed).
    private func oidsTheWorkloadLoads() throws -> [UInt64] {
        let probe = try openedWithoutPrefetching()
        try probe.rt.compile("adding: n ^ [:x | x + n]", inClass: "LazyNode")
        _ = try probe.rt.evaluate("System commit")
        let reopened = try openedWithoutPrefetching()
        XCTAssertTrue(try reopened.print(Self.workload).contains("#forked"), reopened.err)
        let vm = reopened.rt.vm
        var oids: [UInt64] = []
        for (oid, oop) in try XCTUnwrap(reopened.rt.imageSession).objects where !vm.isGhost(oop) { oids.append(oid) }
        return oids.sorted()
    }

    /// Commits a damaged version of one of `oids` — one slot changed, a few bytes changed, its class
    /// another's, or slots added or taken away — and answers what it did.
    private func damage(_ path: String, oneOf oids: [UInt64], _ generator: inout Generator) throws -> String {
        let store = try SQLiteStore.open(path: path)
        let head = try store.headCommit()
        var classes: Set<UInt64> = []
        while true {
            let oid = oids[generator.next(oids.count)]
            guard var record = try store.load(oid: oid, asOf: head) else { continue }
            classes.insert(record.classOID)
            var what = "object \(oid)"
            switch (generator.next(5), record.contents) {
            case (0, _) where classes.count > 10:
                record.classOID = classes.sorted()[generator.next(classes.count)]
                what += " of class \(record.classOID)"
            case (1, var .slots(slots)) where !slots.isEmpty:
                if generator.next(2) == 0 { slots.removeLast(1 + generator.next(slots.count)) } else { slots += [intOop(1), intOop(2)] }
                what += " with \(slots.count) slots"
                record.contents = .slots(slots)
            case (_, var .slots(slots)) where !slots.isEmpty:
                let k = generator.next(slots.count)
                switch generator.next(4) {
                case 0: slots[k] = intOop([0, 1, 7, 1 << 20, 1 << 40][generator.next(5)])
                case 1: slots[k] = StoredObject.reference(oids[generator.next(oids.count)])
                case 2: slots[k] = charOop(UInt32(generator.next(0x110000)))
                default: slots.swapAt(k, generator.next(slots.count))
                }
                what += " slot \(k + 1) of \(slots.count) := \(slots[k])"
                record.contents = .slots(slots)
            case (_, var .bytes(bytes)) where !bytes.isEmpty:
                for _ in 0...generator.next(3) {
                    let k = generator.next(bytes.count)
                    bytes[k] = UInt8(generator.next(256))
                    what += " byte \(k + 1) := \(bytes[k])"
                }
                record.contents = .bytes(bytes)
            default:
                continue
            }
            _ = try store.commit(base: head, writes: [record], author: "test", message: "damage")
            return what
        }
    }
}
