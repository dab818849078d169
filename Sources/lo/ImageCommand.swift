// What the history and maintenance commands share: the image they work on, opened without running it.

import ArgumentParser
import Foundation
import LivingObjects

struct ImageOptions: ParsableArguments {
    @Option(name: .long, help: "The image ($LO_IMAGE, else ./living.image); it must exist.")
    var image: String?

    /// The image named by `--image` or LO_IMAGE.
    static func named(_ option: String?) -> String? {
        option ?? ProcessInfo.processInfo.environment["LO_IMAGE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The image to work on: the named one, else the default in the current directory.
    var path: String { Self.named(image) ?? KernelOptions.defaultImage }
}

/// A command on an existing image file (`ImageFile`): no object space is loaded and no Smalltalk runs.
/// Results go to stdout; an error is one line on stderr and exit status 1.
protocol ImageCommand: ParsableCommand {
    var options: ImageOptions { get }
    func run(on image: ImageFile) throws
}

extension ImageCommand {
    func run() throws {
        do {
            try run(on: ImageFile(path: options.path))
        } catch let e as ExitCode {
            throw e
        } catch {
            Log.info("error: \(error)")
            throw ExitCode(1)
        }
    }
}

enum ISO8601 {
    /// `2026-03-01T14:02:11+01:00`, in the local time zone.
    static func local(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = .current
        return formatter.string(from: date)
    }
}
