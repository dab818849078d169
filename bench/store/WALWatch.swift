// The size of a store's WAL while a benchmark runs: sampled every 5 ms on a thread of its own.

import Foundation
import Synchronization

struct WALSizes {
    /// The largest size seen, in bytes.
    var largest = 0
    /// The size every quarter of a second, in bytes.
    var trace: [Int] = []

    var summary: String { String(format: "%.1f MB", Double(largest) / 1e6) }
    var traceInMB: String { trace.map { String(format: "%.0f", Double($0) / 1e6) }.joined(separator: " ") }
}

func walSize(_ path: String) -> Int {
    var status = stat()
    return stat(path + "-wal", &status) == 0 ? Int(status.st_size) : 0
}

/// Runs `body` while a thread samples the size of the WAL of the store at `path`.
func watchingWAL<T>(_ path: String, _ body: () throws -> T) throws -> (T, WALSizes) {
    let sizes = Mutex(WALSizes())
    let running = Atomic<Bool>(true)
    let stopped = DispatchSemaphore(value: 0)
    Thread {
        let start = DispatchTime.now().uptimeNanoseconds
        while running.load(ordering: .relaxed) {
            let size = walSize(path)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            sizes.withLock { sizes in
                sizes.largest = max(sizes.largest, size)
                if UInt64(sizes.trace.count) * 250_000_000 <= elapsed { sizes.trace.append(size) }
            }
            usleep(5_000)
        }
        stopped.signal()
    }.start()
    func stop() {
        running.store(false, ordering: .relaxed)
        stopped.wait()
    }
    let result: T
    do { result = try body() } catch {
        stop()
        throw error
    }
    stop()
    return (result, sizes.withLock { $0 })
}
