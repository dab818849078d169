// `lo backup`: a consistent copy of the image while other sessions may be committing.

import ArgumentParser
import Foundation
import LivingObjects

struct Backup: ImageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the image, as of one commit, to a new file; prints the commit the copy holds.",
        discussion: "Other sessions may commit meanwhile. The copy appears under its name only when complete.")
    @OptionGroup var options: ImageOptions
    @Argument(help: "The file to write.") var destination: String
    @Flag(name: .long, help: "Replace the destination if it exists.") var force = false

    func run(on image: ImageFile) throws {
        // (Opening the image made the files kept beside it: backup refuses those names.)
        if !force, !image.isImageFile(destination), FileManager.default.fileExists(atPath: destination) {
            throw ValidationError("\(destination) already exists (--force replaces it)")
        }
        let commit = try image.backup(to: destination, replacing: force)
        Log.info("backed up \(image.path) at commit \(commit.rawValue) to \(destination)")
        print(commit.rawValue)
    }
}
