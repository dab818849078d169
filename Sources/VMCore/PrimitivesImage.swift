// Primitives that reach the image store through the host: transactions and method versions.

/// Why a transaction asked for from Smalltalk did not happen.
public enum ImageTransactionProblem: Error, Equatable {
    /// Another session committed changes to the same objects; nothing was written.
    case conflict(String)
    case failure(String)
}

/// One recorded version of a method, as `CompiledMethod>>versions` answers it.
public struct MethodVersionRecord: Equatable, Sendable {
    public var source: String
    public var author: String
    /// Seconds since 1970-01-01 UTC.
    public var time: Int

    public init(source: String, author: String, time: Int) {
        self.source = source; self.author = author; self.time = time
    }
}

extension VM {
    func imagePrimitive(_ n: Int, nargs: Int, arg0: Oop, arg1: Oop) -> PrimitiveOutcome {
        switch n {
        case 192 where nargs == 2:
            // primTransaction: operation with: argument — answers nil, or { #conflict or #error. description }.
            guard let operation = stringValue(arg0), let argument = stringValue(arg1) else { return .fail }
            let problem = imageTransaction.map { $0(operation, argument) } ?? .failure("no image is open")
            let answer: Oop?
            switch problem {
            case nil: answer = nilObj
            case .conflict(let text)?: answer = newPair(kind: "conflict", text)
            case .failure(let text)?: answer = newPair(kind: "error", text)
            }
            guard let answer else { return .fail }
            // A commit or an abort moves objects: the interpreter reloads its registers.
            sp -= nargs
            sp.pointee = answer
            return .next(.resume)
        case 193 where nargs == 2:
            // primVersionsOf: className selector: selector — answers { { source. author. unixTime } … }.
            guard let className = stringValue(arg0), let selector = stringValue(arg1) else { return .fail }
            let versions = methodVersions?(className, selector) ?? []
            let mark = handleMark
            defer { releaseHandles(to: mark) }
            var rows: [Int] = []
            for v in versions {
                guard let source = newString(v.source) else { return .fail }
                let sourceH = handle(source)
                guard let author = newString(v.author) else { return .fail }
                let authorH = handle(author)
                guard let row = newArray([handleValue(sourceH), handleValue(authorH), intOop(v.time)]) else { return .fail }
                rows.append(handle(row))
            }
            return newArray(rows.map(handleValue)).map { .value($0) } ?? .fail
        default:
            return .fail
        }
    }

    /// `{ #kind. 'text' }`
    private func newPair(kind: String, _ text: String) -> Oop? {
        let mark = handleMark
        defer { releaseHandles(to: mark) }
        guard let symbol = intern(kind) else { return nil }
        let symbolH = handle(symbol)
        guard let string = newString(text) else { return nil }
        let stringH = handle(string)
        return newArray([handleValue(symbolH), handleValue(stringH)])
    }
}
