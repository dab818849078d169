// File-system access for the readers and writers, with failures reported as SourceFormatError.

import Foundation

enum SourceFiles {
    static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// The names of the entries of a directory, sorted.
    static func names(in directory: String) throws(SourceFormatError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw failure(directory, "cannot list the directory: \(error.localizedDescription)")
        }
    }

    /// The file's text; bytes that are not UTF-8 become U+FFFD.
    static func read(_ path: String) throws(SourceFormatError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure(path, "cannot read the file")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func write(_ text: String, to path: String) throws(SourceFormatError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw failure(path, "cannot write the file: \(error.localizedDescription)")
        }
    }

    static func createDirectory(_ path: String) throws(SourceFormatError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw failure(path, "cannot create the directory: \(error.localizedDescription)")
        }
    }

    static func remove(_ path: String) throws(SourceFormatError) {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw failure(path, "cannot remove the file: \(error.localizedDescription)")
        }
    }

    static func failure(_ path: String, _ message: String, line: Int = 0) -> SourceFormatError {
        SourceFormatError(location: SourceLocation(file: path, line: line), message: message)
    }
}
