// The child of the store's crash test: commits to the store at argv[1] in a loop, forever, and prints
// "<commit id> <counter>" after each commit returns (acknowledged). The test kills it with SIGKILL.
//
// Each commit bumps a counter object (root "counter", or argv[2]: [counter, newest node]) and adds a
// node [counter, previous node]; every 25th node also carries 100 KB of bytes stored out of line.
// Children counting under roots of their own commit to one store side by side without conflicts.
// `store-torture shared-counter <store>`: children that all increment one counter (SharedCounter.swift).

import Foundation
import Store

if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "hold-sync-lock" { holdSyncLock(store: CommandLine.arguments[2]) }
if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "shared-counter" { try countTogether(store: CommandLine.arguments[2]) }
let store = try SQLiteStore.open(path: CommandLine.arguments[1], create: true)
let rootName = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : "counter"
func smallInteger(_ value: Int) -> UInt64 { UInt64(bitPattern: Int64(value) << 3 | 1) }

var head = try store.headCommit()
var counterOID: UInt64, nilOID: UInt64, counter = 0, previousNode: UInt64
if let oid = try store.root(named: rootName, asOf: head), let object = try store.load(oid: oid, asOf: head),
   let slots = object.slots {
    counterOID = oid
    nilOID = object.classOID
    counter = Int(Int64(bitPattern: slots[0]) >> 3)
    previousNode = slots[1] >> 3
} else {
    let oids = try store.allocateOIDs(count: 2)
    (nilOID, counterOID) = (oids.lowerBound, oids.lowerBound + 1)
    previousNode = nilOID
    head = try store.commit(base: head, writes: [
        StoredObject(oid: nilOID, classOID: nilOID, format: 0, slots: []),
        StoredObject(oid: counterOID, classOID: nilOID, format: 1, slots: [smallInteger(0), StoredObject.reference(nilOID)]),
    ], roots: [rootName: counterOID], author: "torture", message: "start")
}

var fresh = try store.allocateOIDs(count: 1000)
while true {
    if fresh.isEmpty { fresh = try store.allocateOIDs(count: 1000) }
    let node = fresh.popFirst()!
    counter += 1
    let contents: StoredObject.Contents = counter % 25 == 0
        ? .bytes([UInt8](repeating: UInt8(counter & 0xff), count: 100_000))
        : .slots([smallInteger(counter), StoredObject.reference(previousNode)])
    head = try store.commit(base: head, writes: [
        StoredObject(oid: node, classOID: nilOID, format: counter % 25 == 0 ? 16 : 1, contents: contents),
        StoredObject(oid: counterOID, classOID: nilOID, format: 1, slots: [smallInteger(counter), StoredObject.reference(node)]),
    ], author: "torture", message: "count \(counter)")
    previousNode = node
    FileHandle.standardOutput.write(Data("\(head.rawValue) \(counter)\n".utf8))
}
