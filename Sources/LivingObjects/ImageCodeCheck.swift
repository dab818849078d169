// `lo check` reads compiled code and closures from their records and checks them as loading does
// (VMCore/CodeCheck.swift, LoadedCode.swift), so that a damaged method is found before anyone runs it.

import Store
import VMCore

extension ImageGraph {
    /// One line per reachable method or block whose code, or closure whose block, would be found damaged
    /// when loaded.
    func damagedCode() -> [String] {
        func classOID(_ root: Root) -> UInt64? {
            root.rawValue < rootSlots.count ? StoredObject.referencedOID(rootSlots[root.rawValue]) : nil
        }
        guard let methodClass = classOID(.classCompiledMethod), let blockClass = classOID(.classCompiledBlock) else { return [] }
        let symbolClasses = Set([classOID(.classByteSymbol), classOID(.classWideSymbol)].compactMap { $0 })
        func record(_ slot: UInt64) -> StoredObject? { StoredObject.referencedOID(slot).flatMap { records[$0] } }
        func literalKind(_ slot: UInt64) -> LiteralKind {
            guard let r = record(slot) else { return .other }
            if symbolClasses.contains(r.classOID) { return .symbol }
            if r.classOID == blockClass, let slots = r.slots, slots.count > CodeLayout.numCopied,
               isSmallInt(slots[CodeLayout.numCopied]) {
                return .block(numCopied: intValue(slots[CodeLayout.numCopied]))
            }
            if r.format <= UInt8(Format.weak), let slots = r.slots, slots.count > AssocLayout.value { return .binding }
            return .other
        }
        /// The method a method or block belongs to (through at most 255 outer blocks).
        func homeMethod(_ code: StoredObject) -> StoredObject? {
            var r = code
            for _ in 0..<256 {
                if r.classOID == methodClass { return r }
                guard r.classOID == blockClass, let slots = r.slots, slots.count > CodeLayout.outerCode,
                      let outer = record(slots[CodeLayout.outerCode]) else { return nil }
                r = outer
            }
            return nil
        }
        func selector(of code: StoredObject) -> String {
            guard let slots = homeMethod(code)?.slots, slots.count > CodeLayout.selector,
                  let bytes = record(slots[CodeLayout.selector])?.bytes else { return "?" }
            return String(decoding: bytes, as: UTF8.self)
        }

        var problems: [String] = []
        let closureClass = classOID(.classBlockClosure)
        for oid in reachable {
            if let closure = records[oid], closure.classOID == closureClass, let problem = problem(ofClosure: closure) {
                problems.append("a closure (object \(oid)): \(problem)")
                continue
            }
            guard let code = records[oid], code.classOID == methodClass || code.classOID == blockClass,
                  let slots = code.slots else { continue }
            let isBlock = code.classOID == blockClass
            let what = "compiled code of \(isBlock ? "a block in " : "")#\(selector(of: code)) (object \(oid))"
            guard slots.count >= (isBlock ? CodeLayout.blockSize : CodeLayout.methodSize) else {
                problems.append("\(what): \(slots.count) slots")
                continue
            }
            guard let bytecodes = record(slots[CodeLayout.bytecodes])?.bytes else {
                problems.append("\(what): bytecodes missing")
                continue
            }
            guard let literals = record(slots[CodeLayout.literals]), literals.classOID == classOID(.classArray),
                  let literalSlots = literals.slots else {
                problems.append("\(what): literal frame missing")
                continue
            }
            let homeClass = homeMethod(code)?.slots.flatMap { $0.count > CodeLayout.methodClass ? record($0[CodeLayout.methodClass]) : nil }
            let parts = CompiledCodeParts(
                isBlock: isBlock,
                integers: slots.prefix(CodeLayout.methodSize).map { isSmallInt($0) ? intValue($0) : nil },
                bytecodes: bytecodes, literals: literalSlots.map(literalKind),
                hasHomeMethod: homeMethod(code) != nil,
                homeClassIsClassShaped: homeClass.map { $0.format <= UInt8(Format.weak) && ($0.slots?.count ?? 0) > ClassLayout.format } ?? false)
            if let problem = parts.check().problem { problems.append("\(what): \(problem)") }
        }
        return problems

        /// What `VM.checkLoadedClosure` would find wrong with a closure that has an argument count.
        func problem(ofClosure closure: StoredObject) -> String? {
            guard let slots = closure.slots, slots.count >= ClosureLayout.fixedSize, isSmallInt(slots[ClosureLayout.numArgs]) else { return nil }
            guard let block = record(slots[ClosureLayout.compiledBlock]), block.classOID == blockClass,
                  let blockSlots = block.slots, blockSlots.count >= CodeLayout.blockSize else { return "its compiled block is not a CompiledBlock" }
            if blockSlots[CodeLayout.numArgs] != slots[ClosureLayout.numArgs] { return "its argument count is not its block's" }
            let copied = blockSlots[CodeLayout.numCopied]
            if !isSmallInt(copied) || intValue(copied) > slots.count - ClosureLayout.fixedSize { return "it holds fewer copied values than its block reads" }
            return nil
        }
    }
}
