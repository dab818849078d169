// Primitives that reach the host: standard streams, files, environment, and the compiler.

import Foundation

extension VM {
    func systemPrimitive(_ n: Int, nargs: Int, rcvr: Oop, arg0: Oop, arg1: Oop) -> PrimitiveOutcome {
        switch n {
        case 150, 151:
            let text: String
            if let s = stringValue(arg0) { text = s }
            else if isPointer(arg0), Format.isBytes(formatOf(arg0)) { text = String(decoding: byteArrayContents(arg0), as: UTF8.self) }
            else { return .fail }
            if n == 150 { writeOut(text) } else { stderrWrites += 1; writeErr(text) }
            return .value(rcvr)
        case 152:
            guard let line = readLine() else { return .value(nilObj) }
            return newString(line).map { .value($0) } ?? .fail
        case 153:
            guard let path = stringValue(arg0), let data = FileManager.default.contents(atPath: path) else { return .fail }
            return newBytes([UInt8](data), root: .classByteArray).map { .value($0) } ?? .fail
        case 154 where nargs == 3:
            guard let path = stringValue(arg0), isPointer(arg1), Format.isBytes(formatOf(arg1)),
                  isImageFile?(path) != true else { return .fail }
            let data = Data(byteArrayContents(arg1))
            if sp.pointee == trueObj, let handle = FileHandle(forWritingAtPath: path) {
                defer { try? handle.close() }
                do { try handle.seekToEnd(); try handle.write(contentsOf: data) } catch { return .fail }
            } else {
                guard FileManager.default.createFile(atPath: path, contents: data) else { return .fail }
            }
            return .value(rcvr)
        case 155:
            guard let path = stringValue(arg0) else { return .fail }
            return .value(bool(FileManager.default.fileExists(atPath: path)))
        case 156:
            guard let path = stringValue(arg0), isImageFile?(path) != true,
                  (try? FileManager.default.removeItem(atPath: path)) != nil else { return .fail }
            return .value(rcvr)
        case 160:
            guard let path = stringValue(arg0) else { return .fail }
            return .value(bool(isImageFile?(path) == true))
        case 157:
            guard let path = stringValue(arg0), let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return .fail }
            let h = handleMark
            var hs: [Int] = []
            for name in names.sorted() {
                guard let s = newString(name) else { releaseHandles(to: h); return .fail }
                hs.append(handle(s))
            }
            let array = newArray(hs.map { handleValue($0) })
            releaseHandles(to: h)
            return array.map { .value($0) } ?? .fail
        case 158:
            guard let name = stringValue(arg0) else { return .fail }
            guard let value = ProcessInfo.processInfo.environment[name] else { return .value(nilObj) }
            return newString(value).map { .value($0) } ?? .fail
        case 159:
            let h = handleMark
            let hs = arguments.compactMap { newString($0).map { handle($0) } }
            let array = newArray(hs.map { handleValue($0) })
            releaseHandles(to: h)
            return array.map { .value($0) } ?? .fail
        case 180 where nargs == 1, 183 where nargs == 1:
            guard let source = stringValue(arg0) else { return .fail }
            switch compileMethod(source, in: rcvr, kind: n == 180 ? .method : .recompile) {
            case .success(let m): return .value(m)
            case .failure(let e): lastCompileError = e.description; return .fail
            }
        case 181 where nargs == 2:
            guard let source = stringValue(arg0) else { return .fail }
            switch compileMethod(source, in: classOf(arg1), kind: .doIt) {
            case .failure(let e): lastCompileError = e.description; return .fail
            case .success(let m):
                let base = sp - nargs
                // The do-it's frame replaces this send: like any other frame, it must fit below the limit.
                if base + 1 + Frame.headerSize + intValue(fetch(m, CodeLayout.frameSize)) >= stacks[activeStackIndex].limit {
                    return .next(stackOverflow(nargs: nargs))
                }
                base.pointee = arg1
                sp = base
                return .next(pushFrame(method: m, closure: nilObj, receiverSlot: base, nargs: 0, resultSlot: addressOop(base)))
            }
        case 182:
            return newString(lastCompileError).map { .value($0) } ?? .fail
        case 191:
            return newArray(statistics().map { intOop($0) }).map { .value($0) } ?? .fail
        case 194 where nargs == 1:
            // The recorded scavenge pauses (µs), oldest first: the latest 50,000 to 100,000; in the
            // VM thread's CPU time when the argument is true.
            let pauses = arg0 == trueObj ? scavengePausesCPUNanos : scavengePausesNanos
            return newArray(pauses.map { intOop(Int($0 / 1000)) }).map { .value($0) } ?? .fail
        case 192, 193:
            return imagePrimitive(n, nargs: nargs, arg0: arg0, arg1: arg1)
        case 175...178:
            return blobPrimitive(n, nargs: nargs)
        case 190 where nargs == 3:
            // fileOutPackage: name format: #tonel or #chunk to: path — answers nil, or an error String.
            guard let name = stringValue(arg0), let format = stringValue(arg1), let path = stringValue(sp.pointee),
                  let fileOut else { return .fail }
            guard let problem = fileOut(name, format, path) else { return .value(nilObj) }
            return newString(problem).map { .value($0) } ?? .fail
        default:
            return .fail
        }
    }

    /// Compiles source in the context of a class and builds the CompiledMethod (not installed).
    public func compileMethod(_ source: String, in cls: Oop, kind: CompileKind) -> Result<Oop, VMError> {
        guard let compiler else { return .failure(.compileError("no compiler is installed")) }
        let h = handle(cls)
        defer { releaseHandles(to: h) }
        switch compiler(source, cls, kind) {
        case .failure(let e): return .failure(e)
        case .success(let description):
            guard let m = makeCompiledMethod(description, methodClass: handleValue(h)) else {
                return .failure(.compileError(lastInstallError ?? "out of memory while installing a method"))
            }
            return .success(m)
        }
    }
}

extension VM {
    /// scavenges, full GCs, scavenge pause p50/p99/max (µs), full GC total (µs), old space bytes, bytes tenured.
    func statistics() -> [Int] {
        let pauses = scavengePausesNanos.sorted()
        func percentile(_ p: Double) -> Int {
            pauses.isEmpty ? 0 : Int(pauses[min(pauses.count - 1, Int(Double(pauses.count) * p))] / 1000)
        }
        return [scavengeCount, fullGCCount, percentile(0.5), percentile(0.99), Int((pauses.last ?? 0) / 1000),
                Int(fullGCNanos / 1000), Int(oldTop - oldStart), Int(bytesTenured)]
    }
}

/// What a compile is for.
public enum CompileKind: Sendable {
    /// A do-it: run once, with nil as its receiver.
    case doIt
    /// A method compiled by a user or a file-in: an image records it as a new version.
    case method
    /// A method's unchanged source compiled again for its class's new shape: no new version.
    case recompile
}
