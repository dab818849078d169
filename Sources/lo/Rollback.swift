// `lo rollback`: make an earlier state of the image current again, as a new commit.

import ArgumentParser
import LivingObjects

struct Rollback: ImageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit the image's state at an earlier commit anew; prints the new commit's id.",
        discussion: """
            History is kept: the rollback is one more commit (which can itself be rolled back). It runs no \
            Smalltalk, so an image broken by a commit can be repaired. Sessions opened before it conflict \
            with it when they commit.
            """)
    @OptionGroup var options: ImageOptions
    @Argument(help: "A commit id (see lo history) or a checkpoint name.") var commit: String

    func run(on image: ImageFile) throws {
        let target = try image.commit(named: commit)
        let made = try image.rollback(to: target)
        Log.info("rolled back to commit \(target.rawValue): \(made.objectCount) objects restored")
        print(made.id.rawValue)
    }
}
