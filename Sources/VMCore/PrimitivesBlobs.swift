// Primitives of Blob: byte sequences kept in the image's store, outside the heap, moved between
// files, the store and byte objects a buffer at a time by the host (`VM.blobStore`).

/// A Blob's bytes in the store: the id the store gave them and how many there are.
public struct BlobHandle: Equatable, Sendable {
    public var id: Int
    public var size: Int

    public init(id: Int, size: Int) {
        self.id = id
        self.size = size
    }
}

/// What a blob primitive asks of the host. A buffer in the heap is valid only during the call (the
/// host runs no Smalltalk meanwhile, so nothing moves).
public enum BlobRequest {
    /// Copy a file's bytes into the store.
    case importFile(path: String)
    /// Copy a byte object's bytes into the store.
    case importBytes(UnsafeRawBufferPointer)
    /// Fill the buffer with the bytes from `offset` on (0-based).
    case read(BlobHandle, offset: Int, into: UnsafeMutableRawBufferPointer)
    /// Write the bytes to a file, replacing it.
    case exportFile(BlobHandle, path: String)
}

/// Why a blob request failed, in words for the Smalltalk error.
public struct BlobProblem: Error, Equatable {
    public let text: String
    public init(_ text: String) { self.text = text }
}

extension VM {
    /// 175 `primImportFile: path`, 176 `primImportBytes: aByteObject` — answer `{storeID. size}`;
    /// 177 `primRead: storeID size: size at: offset into: aByteArray startingAt: index count: n` — copies
    /// n bytes from offset (0-based) into the buffer from index (1-based) on, answers the buffer;
    /// 178 `primWrite: storeID size: size toFile: path` — answers nil. Each answers a String saying
    /// what went wrong when the host could not do it, and fails for arguments of the wrong kind.
    func blobPrimitive(_ n: Int, nargs: Int) -> PrimitiveOutcome {
        let args = (0..<nargs).map { sp[1 - nargs + $0] }
        func handle(_ id: Oop, _ size: Oop) -> BlobHandle? {
            guard isSmallInt(id), isSmallInt(size), intValue(size) >= 0 else { return nil }
            return BlobHandle(id: intValue(id), size: intValue(size))
        }
        let request: BlobRequest
        switch n {
        case 175 where nargs == 1:
            guard let path = stringValue(args[0]) else { return .fail }
            request = .importFile(path: path)
        case 176 where nargs == 1:
            guard isPointer(args[0]), Format.isBytes(formatOf(args[0])) else { return .fail }
            let bytes = args[0]
            return answer(to: .importBytes(UnsafeRawBufferPointer(start: bytesOf(bytes), count: indexableSize(bytes))))
        case 177 where nargs == 6:
            let buffer = args[3]
            guard let blob = handle(args[0], args[1]), isSmallInt(args[2]), isSmallInt(args[4]), isSmallInt(args[5]),
                  isPointer(buffer), Format.isBytes(formatOf(buffer)), !isSymbol(buffer),
                  headerOf(buffer) & Header.immutableBit == 0 else { return .fail }
            let offset = intValue(args[2]), start = intValue(args[4]) - 1, count = intValue(args[5])
            guard offset >= 0, count >= 0, count <= blob.size - offset, start >= 0, start <= indexableSize(buffer) - count else { return .fail }
            let outcome = answer(to: .read(blob, offset: offset, into: UnsafeMutableRawBufferPointer(start: bytesOf(buffer) + start, count: count)))
            noteChanged(buffer)
            if case .value(let v) = outcome, v == nilObj { return .value(buffer) }
            return outcome
        case 178 where nargs == 3:
            guard let blob = handle(args[0], args[1]), let path = stringValue(args[2]) else { return .fail }
            request = .exportFile(blob, path: path)
        default:
            return .fail
        }
        return answer(to: request)
    }

    /// The host's answer as Smalltalk sees it: `{storeID. size}` for an import, nil for the others, or
    /// a String saying what went wrong.
    private func answer(to request: BlobRequest) -> PrimitiveOutcome {
        let result = blobStore.map { $0(request) } ?? .failure(BlobProblem("no image is open: a Blob keeps its bytes in an image"))
        switch result {
        case .failure(let problem):
            return newString(problem.text).map { .value($0) } ?? .fail
        case .success(let blob):
            switch request {
            case .importFile, .importBytes: return newArray([intOop(blob.id), intOop(blob.size)]).map { .value($0) } ?? .fail
            case .read, .exportFile: return .value(nilObj)
            }
        }
    }
}
