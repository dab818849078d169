#!/usr/bin/env python3
"""Fuzzes `lo` with mutated kernel sources. Each trial writes a mutated copy of a kernel Tonel class file
and files it in with `lo run --no-commit` (in `semantics` mode followed by three kernel test packages,
so the broken methods run). A trial is reported when `lo` dies by a signal, exits other than 0 or 1,
prints a Swift runtime error, or runs longer than the timeout (check those: a mutation can make an
honest infinite loop; `lo` must still answer Ctrl-C).

    LO_KERNEL=kernel tools/fuzz/mutate-kernel.py .build/release/lo syntax 1000 1
    LO_KERNEL=kernel tools/fuzz/mutate-kernel.py .build/release/lo semantics 400 1

Modes: `syntax` — characters and tokens deleted, inserted, copied (the parser and compiler);
`chunk` — the same on the kernel's packages filed out as chunk files (the chunk reader);
`semantics` — selectors, operators and literals swapped so that most methods still compile (the VM).
Run it in a scratch directory: it makes `fuzz.image` there and keeps each reported file as
`bad-SEED-N.st`.
"""
import glob, os, random, re, shutil, subprocess, sys

LO, MODE, TRIALS, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
KERNEL = os.environ.get('LO_KERNEL', 'kernel')
TIMEOUT = 90
rng = random.Random(SEED)

TOKENS = ['[', ']', '(', ')', '^', ':=', '.', ';', '#', "'", '"', '|', ':x', 'self', 'super', 'thisContext',
          '#(', '{', '}', '$', '1e400', '16r', '-', '2r1010', '1/0', ' at: ', ' value', '!', '`', '\\', '\x00', '\u00e9']
SWAPS = [('+', '-'), ('<', '>'), ('<=', '>='), ('ifTrue:', 'ifFalse:'), ('whileTrue:', 'whileFalse:'),
         ('self', 'nil'), ('self', 'super'), ('1', '0'), ('1', '-1'), ('0', '1e300'), ('size', 'yourself'),
         ('first', 'last'), ('isNil', 'notNil'), ('and:', 'or:'), ('^', ''), ('1', '(2 raisedTo: 200)'),
         ('new', 'basicNew'), ('at:', 'instVarAt:'), ('value', 'yourself'), ('printString', 'class'),
         ('self', 'thisContext'), ('collect:', 'do:'), ('//', '\\\\'), ('*', '/'), ('0', '$a'), ('nil', "''")]
TESTS = "Transcript show: (TestRunner runNames: #('Kernel-Tests-Numbers' 'Kernel-Tests-Collections' " \
        "'Kernel-Tests-Objects')) printString; cr\n"


def mutate_syntax(text):
    chars = list(text)
    for _ in range(rng.randint(1, 8)):
        if not chars:
            break
        i = rng.randrange(len(chars))
        op = rng.random()
        if op < 0.3:
            del chars[i:i + rng.randint(1, 20)]
        elif op < 0.6:
            chars[i:i] = list(rng.choice(TOKENS))
        elif op < 0.8:
            j = rng.randrange(len(chars))
            chars[i:i] = chars[j:j + rng.randint(1, 40)]
        else:
            chars[i] = chr(rng.randint(0, 0x2FF))
    return ''.join(chars)


def mutate_semantics(text):
    for _ in range(rng.randint(1, 4)):
        old, new = rng.choice(SWAPS)
        if rng.random() < 0.5:
            old, new = new, old
        places = [m.start() for m in re.finditer(re.escape(old), text)] if old else []
        if places:
            i = rng.choice(places)
            text = text[:i] + new + text[i + len(old):]
    return text


if MODE == 'syntax':
    files, mutate, after = sorted(glob.glob(KERNEL + '/*/*.st')), mutate_syntax, []
elif MODE == 'chunk':
    # The kernel's packages filed out as chunk files once, then mutated as in `syntax`.
    os.makedirs('chunks', exist_ok=True)
    for package in sorted(os.listdir(KERNEL)):
        target = 'chunks/%s.st' % package
        if os.path.isdir(os.path.join(KERNEL, package)) and not os.path.exists(target):
            subprocess.run([LO, '--image', 'fuzz.image', 'eval', '--no-commit',
                            "Smalltalk fileOutPackage: '%s' format: #chunk to: '%s'" % (package, target)],
                           check=True, capture_output=True)
    files, mutate, after = sorted(glob.glob('chunks/*.st')), mutate_syntax, []
else:
    files, mutate, after = sorted(glob.glob(KERNEL + '/[CK]*-[!T]*/*.class.st')), mutate_semantics, ['tests.st']
    open('tests.st', 'w').write(TESTS)
reported = 0
for trial in range(TRIALS):
    source = rng.choice(files)
    name = 'trial-%d.st' % trial
    with open(name, 'w', encoding='utf-8', errors='surrogatepass') as f:
        f.write(mutate(open(source, encoding='utf-8').read()))
    try:
        run = subprocess.run([LO, '--image', 'fuzz.image', 'run', '--no-commit', name] + after,
                             capture_output=True, timeout=TIMEOUT)
        status, err = run.returncode, run.stderr.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired:
        status, err = 'timeout', ''
    if status not in (0, 1) or 'Fatal error' in err or 'fatal error' in err:
        reported += 1
        kept = 'bad-%d-%d.st' % (SEED, trial)
        shutil.copy(name, kept)
        print('trial', trial, source, 'status', status, err[-300:].replace('\n', ' | '), '->', kept, flush=True)
    os.remove(name)
print(TRIALS, 'trials,', reported, 'reported')
