#!/usr/bin/env python3
"""Alternating A/B timing of `lo` binaries on the AWFY benchmarks.

    bench/tools/ab.py "Richards List NBody" ROUNDS DIR_A DIR_B [DIR_C ...]

Each DIR holds a `lo` executable (run in that directory, with LO_KERNEL set to this repository's
kernel unless the environment names one). Per round and benchmark every binary runs
`lo bench NAME --iterations 5 --warmup 1`, the order of the binaries alternating from round to round;
printed are the medians over the rounds of each run's CPU-time median (µs), each binary's ratio to the
first, and the geometric means. The host is shared and noisy: compare binaries within one run only.
"""
import os, re, statistics, subprocess, sys

names = sys.argv[1].split()
rounds = int(sys.argv[2])
dirs = [os.path.abspath(d) for d in sys.argv[3:]]
kernel = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'kernel')
env = dict(os.environ)
env.setdefault('LO_KERNEL', os.path.normpath(kernel))
results = {d: {n: [] for n in names} for d in dirs}
for r in range(rounds):
    for n in names:
        for d in (dirs if r % 2 == 0 else list(reversed(dirs))):
            out = subprocess.run([os.path.join(d, 'lo'), 'bench', n, '--iterations', '5', '--warmup', '1'],
                                 capture_output=True, text=True, cwd=d, env=env).stdout
            m = re.search(r'median\s+([0-9]+)', out)
            if m:
                results[d][n].append(int(m.group(1)))
            else:
                print(f'{d}: {n} gave no median:\n{out}', file=sys.stderr)
medians = {d: {n: statistics.median(v) for n, v in results[d].items() if v} for d in dirs}
for n in names:
    row = [medians[d].get(n, float('nan')) for d in dirs]
    print('%-11s' % n, '  '.join('%10.0f' % x for x in row), '  ratio ' + '  '.join('%.3f' % (x / row[0]) for x in row[1:]))
means = [statistics.geometric_mean(medians[d].values()) for d in dirs]
print('geomean    ', '  '.join('%10.0f' % x for x in means), '  ratio ' + '  '.join('%.3f' % (x / means[0]) for x in means[1:]))
