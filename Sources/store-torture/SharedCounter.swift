// `store-torture shared-counter <store>`: increments the counter under the root "shared" (making it if
// there is none) in a loop, forever, retrying each increment that conflicts with another process's,
// and prints "<commit id> <value>" after each commit returns. Several children run at once: if no
// update is lost, the counter's value is the number of versions it has, less one.

import Foundation
import Store

func countTogether(store path: String) throws -> Never {
    let store = try SQLiteStore.open(path: path, create: true)
    var fresh = try store.allocateOIDs(count: 100)
    while true {
        let head = try store.headCommit()
        do {
            guard let counter = try store.root(named: "shared", asOf: head) else {
                if fresh.isEmpty { fresh = try store.allocateOIDs(count: 100) }
                let oid = fresh.popFirst()!
                _ = try store.commit(base: head, writes: [StoredObject(oid: oid, classOID: oid, format: 1, slots: [smallInteger(0)])],
                                     roots: ["shared": oid], author: "torture", message: "shared counter")
                continue
            }
            guard let slots = try store.load(oid: counter, asOf: head)?.slots, let first = slots.first else {
                fatalError("the shared counter \(counter) has no value as of \(head)")
            }
            let value = Int(Int64(bitPattern: first) >> 3) + 1
            let commit = try store.commit(base: head, writes: [StoredObject(oid: counter, classOID: counter, format: 1, slots: [smallInteger(value)])],
                                          author: "torture", message: "shared \(value)")
            FileHandle.standardOutput.write(Data("\(commit.rawValue) \(value)\n".utf8))
        } catch is CommitConflict {
            continue
        }
    }
}
