// `lo history`: the image's commits, newest first, or the recorded versions of one method.

import ArgumentParser
import Foundation
import LivingObjects
import Store

struct History: ImageCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the image's commits, newest first, or the versions of a method.",
        discussion: """
            One line per commit: id, time (ISO 8601, local), author, objects written, message, and the names of \
            checkpoints on it. With --method 'Foo>>bar' (or 'Foo class>>bar'), the recorded versions of that \
            method with their source.
            """)
    @OptionGroup var options: ImageOptions
    @Option(name: .long, help: "Show at most this many commits (0: all).") var limit = 20
    @Option(name: .long, help: ArgumentHelp("List the versions of a method (Foo>>bar, Foo class>>bar) instead.", valueName: "method"))
    var method: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func validate() throws {
        if limit < 0 { throw ValidationError("--limit cannot be negative") }
    }

    func run(on image: ImageFile) throws {
        if let method {
            try printVersions(of: method, image.methodVersions(method))
            return
        }
        let entries = try image.history(limit: limit == 0 ? nil : limit)
        if json { return try printJSON(entries.map(CommitJSON.init)) }
        for entry in entries {
            let c = entry.commit
            let names = entry.checkpoints.isEmpty ? "" : "  [\(entry.checkpoints.joined(separator: ", "))]"
            print("\(c.id.rawValue)  \(ISO8601.local(c.time))  \(oneLine(c.author))  \(c.objectCount) objects  \(oneLine(c.message))\(names)")
        }
    }

    /// A field of a line of the listing: line breaks and other control characters become spaces,
    /// so that no author or message can make a line of its own.
    private func oneLine(_ field: String) -> String {
        String(String.UnicodeScalarView(field.unicodeScalars.map {
            [.control, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory) ? " " : $0
        }))
    }

    private func printVersions(of method: String, _ versions: [MethodVersion]) throws {
        if json { return try printJSON(versions.map(MethodVersionJSON.init)) }
        if versions.isEmpty { Log.info("no recorded versions of \(method)") }
        for (i, v) in versions.enumerated() {
            if i > 0 { print("") }
            let category = v.method.category.map { "  \(oneLine($0))" } ?? ""
            print("\(v.commit.rawValue)  \(ISO8601.local(v.time))  \(oneLine(v.author))\(category)")
            for line in v.method.source.split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
        }
    }

    private func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

private struct CommitJSON: Encodable {
    let id: Int64, time: String, author: String, message: String, objects: Int, checkpoints: [String]

    init(_ entry: ImageFile.Entry) {
        let c = entry.commit
        (id, time, author, message, objects, checkpoints) =
            (c.id.rawValue, ISO8601.local(c.time), c.author, c.message, c.objectCount, entry.checkpoints)
    }
}

private struct MethodVersionJSON: Encodable {
    let commit: Int64, time: String, author: String, className: String, selector: String, category: String?, source: String

    init(_ v: MethodVersion) {
        (commit, time, author) = (v.commit.rawValue, ISO8601.local(v.time), v.author)
        (className, selector, category, source) = (v.method.className, v.method.selector, v.method.category, v.method.source)
    }
}
