// Eviction figures for bench/RESULTS.md: an image whose global Tree holds N Triples (`a` = 1…N) in
// Arrays of 1,000, traversed twice through the VM by a fresh process per heap limit; with a limit
// smaller than the image, full collections evict what was loaded and the traversals load it again.
// Each child process prints its own CPU time (user + system), wall time and peak RSS.

import Foundation
import LivingObjects
import Store
import VMCore

private func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// N Triples in Arrays of 1,000, and the Array of those as Tree's value.
private func makeTreeImage(_ path: String, objects n: Int) throws {
    let chunks = (n + 999) / 1000
    try makeTripleImage(path, global: "Tree", objects: n, extra: chunks + 1) { firstTriple, extra, arrayClass, hash in
        let treeOID = extra.lowerBound, firstChunk = treeOID + 1
        let chunkRecords = (0..<chunks).map { c in
            StoredObject(oid: firstChunk + UInt64(c), classOID: arrayClass, format: UInt8(Format.indexable), identityHash: hash(),
                         slots: (c * 1000..<min(n, c * 1000 + 1000)).map { StoredObject.reference(firstTriple + UInt64($0)) })
        }
        let treeRecord = StoredObject(oid: treeOID, classOID: arrayClass, format: UInt8(Format.indexable), identityHash: hash(),
                                      slots: (0..<chunks).map { StoredObject.reference(firstChunk + UInt64($0)) })
        return chunkRecords + [treeRecord]
    }
}

/// Builds (or reuses) the image, then runs `--traverse` in a child process for each heap limit.
func evictionFigures(objects n: Int, heaps: [Int], directory: String, reuse: Bool) throws {
    let path = directory + "/tree-\(n).lo"
    print("— eviction: \(n) Triples in Arrays of 1,000")
    if !(reuse && FileManager.default.fileExists(atPath: path)) {
        let start = cpuSeconds()
        try makeTreeImage(path, objects: n)
        report("build (bootstrap, commit, store API)", String(format: "%.1f s", cpuSeconds() - start))
    }
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    report("image file", String(format: "%.0f MB", Double(size) / 1e6))
    for heap in heaps {
        print("heap limit \(heap) MB:")
        fflush(nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["--traverse", path, "--tree", "\(n)", "--heap", "\(heap)"]
        try child.run()
        child.waitUntilExit()
    }
}

/// One process: opens the image with a heap limit of `heapMB`, traverses Tree twice and prints figures.
func traverseTree(_ path: String, objects n: Int, heapMB: Int) throws {
    var configuration = VMConfiguration()
    configuration.heapLimitBytes = heapMB << 20
    let rt = try Runtime(image: path, configuration: configuration)
    let vm = rt.vm
    for pass in 1...2 {
        let (evictions, evicted, gcs, gcNanos) = (vm.evictions, vm.evictedObjects, vm.fullGCCount, vm.fullGCNanos)
        let (faults, reads) = rt.faultStatistics
        let cpu = cpuSeconds(), wall = DispatchTime.now().uptimeNanoseconds
        let sum = intValue(try rt.evaluate("| s | s := 0. Tree do: [:chunk | chunk do: [:t | s := s + t a]]. s"))
        let seconds = cpuSeconds() - cpu, wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e9
        precondition(sum == n * (n + 1) / 2, "the traversal summed \(sum)")
        report("  traversal \(pass)", String(format: "%.2f s (wall %.2f s), %.0f k objects/s", seconds, wallSeconds, Double(n) / seconds / 1000))
        report("    evictions, objects evicted", "\(vm.evictions - evictions), \(vm.evictedObjects - evicted)")
        report("    full collections, their time", String(format: "%d, %.2f s", vm.fullGCCount - gcs, Double(vm.fullGCNanos - gcNanos) / 1e9))
        report("    faults, store reads", "\(rt.faultStatistics.faults - faults), \(rt.faultStatistics.reads - reads)")
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    report("  old space at the end", String(format: "%.1f MB", Double(vm.oldSpaceBytes) / 1048576))
    report("  peak RSS of the process", String(format: "%.0f MB", Double(usage.ru_maxrss) / 1024))
}
