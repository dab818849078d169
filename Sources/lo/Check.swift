// `lo check`: verify the image's integrity; exit status 0 when clean.

import ArgumentParser
import LivingObjects

struct Check: ImageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the image's integrity: the store, its history and the object space at the newest commit.",
        discussion: "Prints one line per problem and exits 1 if there is any (or the file cannot be read), else 0.")
    @OptionGroup var options: ImageOptions

    func run(on image: ImageFile) throws {
        let report = try image.check()
        for problem in report.problems { print(problem) }
        if !report.problems.isEmpty {
            Log.info("\(image.path): \(report.problems.count) problems")
            throw ExitCode(1)
        }
        print("ok: commit \(report.head.rawValue), \(report.objectCount) objects")
    }
}
