// `lo gc`: reclaim old object versions and unreachable objects.

import ArgumentParser
import LivingObjects

struct GC: ImageCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Reclaim object versions older than the retention window and objects nothing reaches.",
        discussion: """
            Every state from the window's start to now stays (lo eval --as-of, lo rollback), and the states of \
            named checkpoints; older states may no longer open. Keep the window longer than the oldest open session.
            """)
    @OptionGroup var options: ImageOptions
    @Option(name: .long, help: "Keep every state of the last N days.") var keepDays = 30

    func validate() throws {
        if keepDays < 0 { throw ValidationError("--keep-days cannot be negative") }
        if keepDays > ImageFile.longestRetentionDays { throw ValidationError("--keep-days is at most \(ImageFile.longestRetentionDays)") }
    }

    func run(on image: ImageFile) throws {
        let reclaimed = try image.collectGarbage(keepingDays: keepDays)
        let v = reclaimed.vacuum
        print("""
            reclaimed \(v.versionsRemoved) object versions, \(v.objectsRemoved) unreachable objects, \
            \(v.largeBytesRemoved) large byte sequences, \
            \(v.shapesRemoved) class shapes; file \(reclaimed.bytesBefore) → \(reclaimed.bytesAfter) bytes
            """)
    }
}
