// `store-torture hold-sync-lock STORE`: takes the mutex of the store's shared sync page (GroupSync.swift
// in Store), prints "holding" and sleeps until killed — a writer that dies or stops inside its sync.

import CGroupSync
import Foundation

func holdSyncLock(store path: String) -> Never {
    let descriptor = open(path + "-sync", O_RDWR | O_CLOEXEC)
    guard descriptor >= 0, flock(descriptor, LOCK_SH) == 0,
          let memory = mmap(nil, Int(LO_GROUP_SYNC_FILE_SIZE), PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
          memory != UnsafeMutableRawPointer(bitPattern: -1) else {
        FileHandle.standardError.write(Data("cannot map \(path)-sync (errno \(errno))\n".utf8))
        exit(1)
    }
    let area = memory.bindMemory(to: lo_group_sync.self, capacity: 1)
    let locked = lo_group_sync_is_valid(area) != 0 ? lo_group_sync_try_lock(area) : EINVAL
    guard locked == 0 || locked == 1 else {
        FileHandle.standardError.write(Data("cannot take the sync mutex (\(locked))\n".utf8))
        exit(1)
    }
    FileHandle.standardOutput.write(Data("holding\n".utf8))
    while true { pause() }
}
