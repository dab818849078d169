// Lazy-image figures for bench/RESULTS.md: opening an image whose global Big holds N small objects
// (3 slots each) and evaluating 3 + 4, then a cold traversal of the N objects through the VM.
// The kernel is bootstrapped and committed; the N objects are written with the store API. Times are
// CPU time (user + system) of this process.
//
//   swift build -c release --product image-bench && .build/release/image-bench [N…] [--runs R] [--dir D [--reuse]]
//
// With --dir the images are kept there, and with --reuse an image made before is used again.
//
//   .build/release/image-bench --tree N [--heap MB…] [--dir D [--reuse]]
//
// instead measures eviction (Eviction.swift in this folder): two traversals of an image of N Triples in
// Arrays of 1,000, each in a fresh process whose heap limit is one of the MBs (default 64 and 4096).

import Foundation
import LivingObjects
import Store
import VMCore

var counts: [Int] = [], runs = 5, directory = NSTemporaryDirectory() + "image-bench-\(getpid())", keep = false, reuse = false
var tree: Int? = nil, heaps: [Int] = [], traverse: String? = nil
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--runs": runs = Int(arguments.popFirst()!)!
    case "--dir": directory = arguments.popFirst()!; keep = true
    case "--reuse": reuse = true
    case "--tree": tree = Int(arguments.popFirst()!)!
    case "--heap": heaps.append(Int(arguments.popFirst()!)!)
    case "--traverse": traverse = arguments.popFirst()!
    default: counts.append(Int(argument)!)
    }
}
if let traverse {
    try traverseTree(traverse, objects: tree!, heapMB: heaps.first ?? 4096)
    exit(0)
}
if counts.isEmpty && tree == nil { counts = [1_000_000, 10_000_000] }
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { if !keep { try? FileManager.default.removeItem(atPath: directory) } }
if let tree {
    try evictionFigures(objects: tree, heaps: heaps.isEmpty ? [64, 4096] : heaps, directory: directory, reuse: reuse)
}

/// CPU time (user + system) of `body`: the machine is shared, so wall time says more about the others.
/// The wall time of the last call is kept in `lastWall`.
nonisolated(unsafe) var lastWall = 0.0
func seconds(_ body: () throws -> Void) rethrows -> Double {
    func cpu() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    let start = cpu(), wallStart = DispatchTime.now().uptimeNanoseconds
    try body()
    lastWall = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e9
    return cpu() - start
}
func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
func report(_ label: String, _ value: String) { print(label.padding(toLength: 52, withPad: " ", startingAt: 0) + value) }
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

/// The kernel with class Triple (`a b c`) and the global `global`, committed; then `n` Triples (`a` = 1…n)
/// written straight into the store in commits of 100 k, and last the records `top` makes (given the
/// first Triple's OID, `extra` OIDs allocated before the Triples, the Array class's OID and a source of
/// identity hashes) with the global bound to the first of the extra OIDs.
func makeTripleImage(_ path: String, global: String, objects n: Int, extra: Int,
                     top: (_ firstTriple: UInt64, _ extraOIDs: Range<UInt64>, _ arrayClass: UInt64, _ hash: () -> UInt32) -> [StoredObject]) throws {
    let rt = try Runtime()
    _ = try rt.evaluate("Object subclass: #Triple instanceVariableNames: 'a b c' classVariableNames: '' package: 'Bench'")
    try rt.compile("a ^ a", inClass: "Triple")
    _ = try rt.evaluate("Smalltalk at: #\(global) put: nil")
    try rt.commitImage(toPath: path, message: "kernel")
    let association = try rt.evaluate("Smalltalk associationAt: #\(global)")
    guard let store = rt.imageStore, let triple = rt.imageOID(of: rt.global("Triple")!),
          let arrayClass = rt.imageOID(of: rt.vm.root(.classArray)), let nilOID = rt.imageOID(of: rt.vm.nilObj),
          let associationOID = rt.imageOID(of: association), let associationClass = rt.imageOID(of: rt.vm.classOf(association)),
          let key = rt.imageOID(of: rt.vm.fetchSlot(association, AssocLayout.key)) else { fatalError("the kernel image lacks \(global)") }
    let associationHash = UInt32(intValue(try rt.evaluate("(Smalltalk associationAt: #\(global)) identityHash")))
    let oids = try store.allocateOIDs(count: n + extra)
    let extraOIDs = oids.lowerBound..<oids.lowerBound + UInt64(extra), firstTriple = extraOIDs.upperBound
    var generator = SystemRandomNumberGenerator()
    func hash() -> UInt32 { UInt32.random(in: 1..<(1 << 22), using: &generator) }
    var base = try store.headCommit()
    for start in stride(from: 0, to: n, by: 100_000) {
        let batch = (start..<min(n, start + 100_000)).map { i in
            StoredObject(oid: firstTriple + UInt64(i), classOID: triple, format: UInt8(Format.fixed), identityHash: hash(),
                         slots: [intOop(i + 1), StoredObject.reference(nilOID), StoredObject.reference(nilOID)])
        }
        base = try store.commit(base: base, writes: batch, author: "bench", message: "triples")
    }
    let binding = StoredObject(oid: associationOID, classOID: associationClass, format: UInt8(Format.fixed), identityHash: associationHash,
                               slots: [StoredObject.reference(key), StoredObject.reference(extraOIDs.lowerBound)])
    _ = try store.commit(base: base, writes: top(firstTriple, extraOIDs, arrayClass, hash) + [binding], author: "bench", message: global)
}

/// N Triples and an Array of them as Big's value.
func makeImage(_ path: String, objects n: Int) throws {
    try makeTripleImage(path, global: "Big", objects: n, extra: 1) { first, extra, arrayClass, hash in
        [StoredObject(oid: extra.lowerBound, classOID: arrayClass, format: UInt8(Format.indexable), identityHash: hash(),
                      slots: (0..<n).map { StoredObject.reference(first + UInt64($0)) })]
    }
}

for n in counts {
    let path = directory + "/big-\(n).lo"
    print("— \(n) objects")
    let exists = reuse && FileManager.default.fileExists(atPath: path)
    let build = exists ? 0 : try seconds { try makeImage(path, objects: n) }
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    report("build (bootstrap, commit, store API)", String(format: "%.1f s, %.0f MB, %.1f bytes/object", build,
                                                          Double(size) / 1e6, Double(size) / Double(n)))
    var opens: [Double] = [], evaluations: [Double] = [], prints: [Double] = [], walls: [Double] = [], loaded = 0, loadedAtOpening = 0
    var statistics = (faults: 0, reads: 0)
    for _ in 0..<runs {
        var rt: Runtime!
        opens.append(try seconds { rt = try Runtime(image: path) })
        var wall = lastWall
        loadedAtOpening = rt.loadedObjectCount
        var result: Oop = 0, printed = ""
        evaluations.append(try seconds { result = try rt.evaluate("3 + 4") })
        wall += lastWall
        walls.append(wall)
        prints.append(try seconds { printed = try rt.evaluateAndPrint("3 + 4") })
        precondition(intValue(result) == 7 && printed == "7")
        loaded = rt.loadedObjectCount
        statistics = rt.faultStatistics
    }
    report("objects loaded by opening", "\(loadedAtOpening)")
    report("open (median of \(runs))", ms(median(opens)))
    report("evaluate 3 + 4", ms(median(evaluations)))
    report("open + evaluate 3 + 4", ms(median(zip(opens, evaluations).map(+))) + " (wall " + ms(median(walls)) + ")")
    report("then print it (3 + 4 printString)", ms(median(prints)))
    report("objects loaded by then", "\(loaded) (\(statistics.faults) faults, \(statistics.reads) store reads)")

    if n <= 1_000_000 {
        let rt = try Runtime(image: path)
        var sum = 0
        var size = 0
        let arrayTime = try seconds { size = intValue(try rt.evaluate("Big size")) }
        precondition(size == n)
        let time = try seconds {
            sum = intValue(try rt.evaluate("| s | s := 0. Big do: [:t | s := s + t a]. s"))
        }
        precondition(sum == n * (n + 1) / 2)
        let (faults, reads) = rt.faultStatistics
        report("load Big, the Array (\(n) ghosts made)", String(format: "%.2f s", arrayTime))
        report("then a cold traversal of the \(n) objects", String(format: "%.2f s, %.0f k objects/s (%d faults, %d store reads)",
                                                                   time, Double(n) / time / 1000, faults, reads))
        report("both", String(format: "%.2f s, %.0f k objects/s", arrayTime + time, Double(n) / (arrayTime + time) / 1000))
        let warm = try seconds { _ = try rt.evaluate("| s | s := 0. Big do: [:t | s := s + t a]. s") }
        report("the same traversal again (all loaded)", String(format: "%.3f s", warm))
    }
}
