#!/usr/bin/env python3
"""Fuzzes `lo` with damaged images. Each trial copies a fresh image, damages it through SQLite (1–100
object records: bits flipped, bytes changed, contents cut short or extended, headers changed; or a
root, a `meta` value, a class shape, a commit's list of changed objects), then runs a few `lo eval`s
and `lo check` on the copy. A trial is reported when `lo` dies by a signal, exits other than 0 or 1,
prints a Swift runtime error, or runs longer than the timeout.

    LO_KERNEL=kernel tools/fuzz/damage-image.py .build/release/lo 200 1 [--missed]

With --missed, a copy is also reported when `lo check` finds it clean but an evaluation failed.

Run it in a scratch directory: it makes `pristine.image` there and keeps each reported copy as
`bad-SEED-N.image`.
"""
import os, random, shutil, sqlite3, subprocess, sys

LO, TRIALS, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
MISSED = '--missed' in sys.argv  # also report copies that `lo check` calls clean but cannot be used
TIMEOUT = 60
rng = random.Random(SEED)
RUNS = [['eval', '--no-commit', '3 + 4'],
        ['eval', '--no-commit', '(1 to: 10) asOrderedCollection inject: 0 into: [:a :b | a + b]'],
        ['eval', '--no-commit', 'Smalltalk allClasses size printString , Object name'],
        ['eval', '--no-commit', '(Object >> #printString) sourceCode size'],
        ['eval', 'Smalltalk at: #Fuzzed put: 42'],
        ['check']]


def damage_bytes(data):
    data = bytearray(data)
    op = rng.random()
    if op < 0.4 and data:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif op < 0.6 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif op < 0.8:
        del data[rng.randrange(len(data) + 1):]
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data)


def damage(path):
    db = sqlite3.connect(path)
    what = rng.random()
    if what < 0.7:
        rows = db.execute('SELECT oid, commit_id, header, contents FROM objects ORDER BY random() LIMIT ?',
                          (rng.randint(1, 100),)).fetchall()
        for oid, commit, header, contents in rows:
            if rng.random() < 0.3:
                header = damage_bytes(header)
            elif isinstance(contents, bytes):
                contents = damage_bytes(contents)
            else:
                contents = rng.randrange(-2 ** 40, 2 ** 40)
            db.execute('UPDATE objects SET header = ?, contents = ? WHERE oid = ? AND commit_id = ?',
                       (header, contents, oid, commit))
    elif what < 0.8:
        db.execute('UPDATE roots SET oid = ? WHERE name = (SELECT name FROM roots ORDER BY random() LIMIT 1)',
                   (rng.choice([None, 0, 1, rng.randrange(2 ** 20), 2 ** 62]),))
    elif what < 0.87:
        db.execute('UPDATE meta SET value = ? WHERE key = (SELECT key FROM meta ORDER BY random() LIMIT 1)',
                   (rng.choice([0, -1, 1, rng.randrange(2 ** 32), 2 ** 62]),))
    elif what < 0.94:
        row = db.execute('SELECT id, names FROM shapes ORDER BY random() LIMIT 1').fetchone()
        if row:
            db.execute('UPDATE shapes SET names = ?, format = ? WHERE id = ?',
                       (damage_bytes(row[1]), rng.choice([0, 1, 2, 65536, -1]), row[0]))
    else:
        row = db.execute('SELECT id, changed FROM commits ORDER BY random() LIMIT 1').fetchone()
        if row:
            db.execute('UPDATE commits SET changed = ? WHERE id = ?', (damage_bytes(row[1]), row[0]))
    db.commit()
    db.close()


if not os.path.exists('pristine.image'):
    subprocess.run([LO, '--image', 'pristine.image', 'eval', '3 + 4'], check=True, capture_output=True)
    sqlite3.connect('pristine.image').execute('PRAGMA wal_checkpoint(TRUNCATE)').close()
reported = 0
for trial in range(TRIALS):
    copy = 'trial-%d.image' % trial
    shutil.copy('pristine.image', copy)
    damage(copy)
    kept = None
    failed = []
    for args in RUNS:
        try:
            run = subprocess.run([LO, '--image', copy] + args, capture_output=True, timeout=TIMEOUT)
            status, err = run.returncode, run.stderr.decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            status, err = 'timeout', ''
        if status not in (0, 1) or 'Fatal error' in err or 'fatal error' in err:
            reported += 1
            kept = kept or 'bad-%d-%d.image' % (SEED, trial)
            print('trial', trial, args, 'status', status, err[-300:].replace('\n', ' | '), '->', kept, flush=True)
        elif status == 1 and args[0] != 'check':
            failed.append((args, err))
        elif status == 0 and args[0] == 'check' and failed and MISSED:
            # `lo check` found nothing, yet evaluations failed: damage it does not see.
            reported += 1
            kept = kept or 'missed-%d-%d.image' % (SEED, trial)
            print('trial', trial, 'check is clean but', failed[0][0], 'failed:', failed[0][1][-200:].replace('\n', ' | '),
                  '->', kept, flush=True)
    if kept:
        shutil.copy(copy, kept)
    for suffix in ('', '-wal', '-shm', '-sync'):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
print(TRIALS, 'trials,', reported, 'reported')
