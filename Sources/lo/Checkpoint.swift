// `lo checkpoint`: name a commit, so that gc keeps its state and rollback and --as-of can use the name.

import ArgumentParser
import LivingObjects

struct CheckpointCommand: ImageCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Name the image's newest commit (or --commit ID); prints the commit's id.",
        discussion: "A name given again moves to the new commit. gc keeps the states of named checkpoints.")
    @OptionGroup var options: ImageOptions
    @Argument(help: "The checkpoint's name.") var name: String
    @Option(name: .long, help: "Name this commit (an id or another checkpoint) instead of the newest.") var commit: String?
    @Flag(name: .long, help: "Remove the checkpoint instead.") var remove = false

    func validate() throws {
        if remove, commit != nil { throw ValidationError("--remove takes no --commit") }
    }

    func run(on image: ImageFile) throws {
        if remove {
            print(try image.removeCheckpoint(name).rawValue)
        } else {
            print(try image.checkpoint(name, at: commit.map(image.commit(named:))).rawValue)
        }
    }
}
