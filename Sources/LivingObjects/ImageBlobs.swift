// Blobs: byte sequences of any size kept in the image's store and never whole in memory (the host
// side of VMCore/PrimitivesBlobs.swift).
//
// In memory a Blob (kernel/System-Support/Blob.class.st) is a fixed object of two SmallIntegers: the
// id of its bytes among the store's large bytes, and their count. Its record holds those large bytes
// with the Blob's pointer format — a shape no other record has (big byte objects go out of line with a
// byte format) — so loading makes it the two-slot object again without reading a byte, and vacuum
// keeps the bytes exactly as long as some kept version of a Blob refers to them. Bytes are imported
// into the store at once, outside any transaction (staged): the commit that first saves the Blob
// makes them part of the image; if none does, `lo gc` reclaims them.

import Foundation
import Store
import VMCore

/// The instance variables of Blob, in order.
enum BlobLayout {
    static let storeID = 0, size = 1, slotCount = 2
}

extension StoredObject {
    /// Whether this is a Blob's record: large bytes with a pointer format.
    var isBlob: Bool {
        if case .largeBytes = contents { return Format.isPointers(Int(format)) }
        return false
    }

    /// The object in memory: slots (pointers) or bytes, as its record says; a Blob has two slots.
    var heapShape: (slots: Int, bytes: Int, pointers: Bool) {
        switch contents {
        case .slots(let s): (s.count, 0, true)
        case .bytes(let b): (0, b.count, false)
        case .largeBytes(let l): isBlob ? (BlobLayout.slotCount, 0, true) : (0, l.count, false)
        }
    }
}

extension StoredHeader {
    /// Heap words of the object: slots, bytes rounded up to words, or a Blob's two slots.
    var heapWords: Int {
        switch kind {
        case .slots: count
        case .bytes: (count + 7) / 8
        case .largeBytes: Format.isPointers(Int(format)) ? BlobLayout.slotCount : (count + 7) / 8
        }
    }
}

extension LargeBytes {
    init(_ blob: BlobHandle) { self.init(id: Int64(blob.id), count: blob.size) }
}

extension BlobHandle {
    init(_ large: LargeBytes) { self.init(id: Int(large.id), size: large.count) }
}

extension ImageSession {
    /// The class index of Blob (the class the global `Blob` names), found before commits and aborts:
    /// the writer saves its instances as large bytes. Nil when the image has no Blob class.
    func lookUpBlobClass() {
        if blobClassIndex == nil { blobClassIndex = classIndex(ofGlobal: "Blob") }
    }

    /// The class index of the class the global `name` holds; nil if it holds none (or is not loaded).
    func classIndex(ofGlobal name: String) -> Int? {
        guard let symbol = vm.findSymbol(Array(name.unicodeScalars.map(\.value))),
              let association = vm.identityDictionaryLookup(vm.root(.smalltalk), symbol) else { return nil }
        let cls = vm.followed(vm.fetchSlot(association, AssocLayout.value))
        return vm.isClass(cls) ? vm.imageHeader(of: cls).hash : nil
    }

    func isBlob(_ o: Oop) -> Bool { blobClassIndex != nil && vm.imageHeader(of: o).classIndex == blobClassIndex }

    /// A Blob's record contents: its large bytes, or nil when its slots are not a store id and a size.
    func blobContents(_ slots: [Oop]) -> StoredObject.Contents? {
        guard slots.count == BlobLayout.slotCount, slots.allSatisfy(isSmallInt), intValue(slots[BlobLayout.size]) >= 0 else { return nil }
        return .largeBytes(LargeBytes(id: Int64(intValue(slots[BlobLayout.storeID])), count: intValue(slots[BlobLayout.size])))
    }
}

extension Runtime {
    /// What the blob primitives ask (`VM.blobStore`).
    func blobRequest(_ request: BlobRequest) -> Result<BlobHandle, BlobProblem> {
        guard let session = imageSession else { return .failure(BlobProblem("no image is open: a Blob keeps its bytes in an image")) }
        let store = session.store
        do {
            switch request {
            case .importFile(let path):
                try checkImportable(session)
                return .success(BlobHandle(try importFile(path, into: store)))
            case .importBytes(let bytes):
                try checkImportable(session)
                var offset = 0
                let large = try store.writeLargeBytes { buffer in
                    let count = min(buffer.count, bytes.count - offset)
                    if count > 0 { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])) }
                    offset += count
                    return count
                }
                return .success(BlobHandle(large))
            case .read(let blob, let offset, let buffer):
                try store.readLargeBytes(LargeBytes(blob), at: offset, into: buffer)
                return .success(blob)
            case .exportFile(let blob, let path):
                try exportFile(LargeBytes(blob), to: path, from: store)
                return .success(blob)
            }
        } catch let problem as BlobProblem {
            return .failure(problem)
        } catch StoreError.invalidRequest(let text) where text.contains("do not exist or are incomplete") {
            return .failure(BlobProblem("the bytes of this Blob are not in \(store.path) (reclaimed by gc, or the Blob was not made by Blob fromFile: or fromBytes:)"))
        } catch {
            return .failure(BlobProblem("\(error)"))
        }
    }

    private func checkImportable(_ session: ImageSession) throws {
        guard session.isReadOnly else { return }
        throw BlobProblem("\(session.store.path) is open as of commit \(session.base.rawValue), a read-only view of its history: nothing can be imported")
    }

    /// Streams a file into the store as staged large bytes: the bytes it holds when the import begins
    /// (a file that grows meanwhile, as a log does, is not followed).
    private func importFile(_ path: String, into store: SQLiteStore) throws -> LargeBytes {
        try refuseStoreFile(path, of: store)
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw BlobProblem("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw BlobProblem("cannot read \(path): \(String(cString: strerror(errno)))") }
        // A file that is not a regular one (a pipe, a device) is read to its end.
        var remaining = info.st_mode & S_IFMT == S_IFREG ? Int(info.st_size) : Int.max
        return try store.writeLargeBytes { buffer in
            while remaining > 0 {
                let count = read(file, buffer.baseAddress, min(buffer.count, remaining))
                if count >= 0 {
                    remaining -= count
                    return count
                }
                if errno != EINTR { throw BlobProblem("cannot read \(path): \(String(cString: strerror(errno)))") }
            }
            return 0
        }
    }

    /// Reading or writing the store's own files from Smalltalk would read what it writes, or damage it.
    private func refuseStoreFile(_ path: String, of store: SQLiteStore) throws {
        guard StoreFiles.isStoreFile(path, of: store.path) else { return }
        throw BlobProblem("\(path) is the image \(store.path) or one of the files kept beside it")
    }

    /// Streams large bytes from the store into a file, replacing it.
    private func exportFile(_ large: LargeBytes, to path: String, from store: SQLiteStore) throws {
        try refuseStoreFile(path, of: store)
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw BlobProblem("cannot write \(path): \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(file) } }
        try store.readLargeBytes(large) { chunk in
            var written = 0
            while written < chunk.count {
                let count = write(file, chunk.baseAddress! + written, chunk.count - written)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw BlobProblem("cannot write \(path): \(String(cString: strerror(errno)))") }
                written += count
            }
        }
        closed = true
        guard close(file) == 0 else { throw BlobProblem("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// Before the object space is committed to another store than its own: every Blob's bytes are
    /// copied there and the Blobs made to refer to the copies — all of them, or (when a copy fails)
    /// none.
    func copyBlobs(from source: SQLiteStore, to target: SQLiteStore) throws {
        guard let session = imageSession else { return }
        session.lookUpBlobClass()
        guard let index = session.blobClassIndex else { return }
        var copies: [(blob: Oop, id: Int64)] = []
        for blob in vm.allInstances(ofClassIndex: index) {
            guard case .slots(let slots) = vm.imageContents(of: blob), case .largeBytes(let large)? = session.blobContents(slots) else { continue }
            var offset = 0
            let copy: LargeBytes
            do {
                copy = try target.writeLargeBytes { buffer in
                    let count = min(buffer.count, large.count - offset)
                    try source.readLargeBytes(large, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]))
                    offset += count
                    return count
                }
            } catch {
                throw RuntimeError.image("cannot copy the bytes of a Blob from \(source.path) to \(target.path): \(error)")
            }
            copies.append((blob, copy.id))
        }
        for (blob, id) in copies { vm.setImageSlot(blob, BlobLayout.storeID, intOop(Int(id))) }
    }
}
