// Transactions asked for from Smalltalk (`System commit`, `abort`, `checkpoint:`) and the record of
// method versions (`CompiledMethod>>versions`): the host side of the VM's image hooks.

import Foundation
import Store
import VMCore

extension Runtime {
    func installImageHooks() {
        vm.imageTransaction = { [unowned self] operation, argument in self.transaction(operation, argument) }
        vm.methodVersions = { [unowned self] className, selector in self.methodVersions(className: className, selector: selector) }
        vm.blobStore = { [unowned self] request in self.blobRequest(request) }
        vm.isImageFile = { [unowned self] path in
            guard let store = self.imageSession?.store else { return false }
            return StoreFiles.isStoreFile(path, of: store.path)
        }
        vm.objectsMoved = { [unowned self] newAddress in self.imageSession?.objectsMoved(newAddress) }
        vm.faultHandler = { [unowned self] ghosts in
            guard let loader = self.imageSession?.loader else { return "this object space has no image to load objects from" }
            return loader.fault(ghosts)
        }
        vm.loadAllObjects = { [unowned self] in self.imageSession?.loader?.loadAll() }
        vm.storedInstances = { [unowned self] cls in self.imageSession?.loader?.storedInstances(of: cls) ?? .success([]) }
        vm.storedInstanceCount = { [unowned self] cls in self.imageSession?.loader?.storedInstanceCount(of: cls) ?? .success(0) }
        vm.retainUnreached = { [unowned self] isReached in self.imageSession?.changedUnreached(isReached: isReached) ?? [] }
        vm.reloadableOID = { [unowned self] o in self.imageSession?.reloadableOID(of: o) }
        vm.identitiesWillChange = { [unowned self] from, to, twoWay in
            self.imageSession?.identitiesWillChange(from, to, twoWay: twoWay) ?? []
        }
        vm.identitiesChanged = { [unowned self] pairs, twoWay in self.imageSession?.identitiesChanged(pairs, twoWay: twoWay) }
    }

    /// Commits, then names the commit `name` in the store's history (replacing an older checkpoint
    /// of that name).
    @discardableResult
    public func checkpointImage(name: String) throws -> CommitID {
        try ImageFile.checkCheckpointName(name)
        let commit = try commitImage(message: "checkpoint \(name)")
        do { try imageSession!.store.checkpoint(name: name, commit: commit) } catch {
            throw RuntimeError.image("cannot name commit \(commit.rawValue) \(name): \(error)")
        }
        return commit
    }

    private func transaction(_ operation: String, _ argument: String) -> ImageTransactionProblem? {
        guard imageSession != nil else { return .failure("no image is open") }
        do {
            switch operation {
            case "commit": try commitImage(message: argument)
            case "abort": try abortImage()
            case "checkpoint": try checkpointImage(name: argument)
            case "isOpen": break
            default: return .failure("no transaction operation \(operation)")
            }
            return nil
        } catch RuntimeError.commitConflict(let text) {
            return .conflict(text)
        } catch {
            return .failure("\(error)")
        }
    }

    // MARK: Method versions

    /// Remembers a method compiled into an image, to be written with the next commit.
    func recordMethodVersion(_ method: MethodDescription, in cls: Oop) {
        guard let session = imageSession else { return }
        let change = MethodChange(className: vm.className(cls), selector: method.selector, source: method.source)
        session.pendingMethodVersions.append(PendingMethodVersion(change: change, time: Date()))
    }

    /// The versions of a method, newest first: those compiled since the last commit, then those in
    /// the store. None without an image (the kernel's methods have none until recompiled).
    public func methodVersions(className: String, selector: String) -> [MethodVersionRecord] {
        guard let session = imageSession else { return [] }
        let author = ImageSession.author
        let pending = session.pendingMethodVersions.reversed()
            .filter { $0.change.className == className && $0.change.selector == selector }
            .map { MethodVersionRecord(source: $0.change.source, author: author, time: Int($0.time.timeIntervalSince1970)) }
        var stored = (try? session.store.methodVersions(className: className, selector: selector)) ?? []
        // A view of the past sees no version from after it.
        if session.isReadOnly { stored.removeAll { $0.commit > session.snapshot } }
        return pending + stored.map { MethodVersionRecord(source: $0.method.source, author: $0.author,
                                                          time: Int($0.time.timeIntervalSince1970)) }
    }
}
