#!/bin/sh
# Large bytes streamed from Smalltalk: a file of SIZE_MB megabytes (default 1024) is imported into an
# image as a Blob and committed; then, each in a process of its own, read back through a stream (new
# 1 MB ByteArrays, then one reused buffer), read by ranges at random offsets, and written out to a file
# (compared with the original). /usr/bin/time gives each step's wall time and peak RSS; the first line
# is the baseline (open the image, 3 + 4).
#
#   swift build -c release --product lo && bench/large-bytes.sh [SIZE_MB]
#
# Scratch files go to $BENCH_DIR (default: a new directory under /tmp), removed at the end.
set -eu
size=${1:-1024}
lo=${LO:-$(pwd)/.build/release/lo}
dir=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$dir"' EXIT
export LO_KERNEL=${LO_KERNEL:-$(pwd)/kernel}
export LO_IMAGE="$dir/bench.image"

head -c $((size * 1048576)) /dev/urandom > "$dir/data.bin"
"$lo" eval '3 + 4' > /dev/null 2>&1      # makes the image from the kernel

/usr/bin/time -f "baseline (3 + 4):  %e s %M KB" "$lo" eval --no-commit '3 + 4' > /dev/null
/usr/bin/time -f "import + commit:   %e s %M KB" \
    "$lo" eval "Smalltalk at: #Data put: (Blob fromFile: '$dir/data.bin'). Data size"
/usr/bin/time -f "stream, next: 1 MB: %e s %M KB" "$lo" eval --no-commit "
    | stream count | stream := Data readStream. count := 0.
    [stream atEnd] whileFalse: [count := count + (stream next: 1048576) size].
    count"
/usr/bin/time -f "stream, readInto:: %e s %M KB" "$lo" eval --no-commit "
    | stream buffer count read | stream := Data readStream. buffer := ByteArray new: 1048576. count := 0.
    [(read := stream readInto: buffer startingAt: 1 count: buffer size) > 0] whileTrue: [count := count + read].
    count"
/usr/bin/time -f "1000 range reads:  %e s %M KB" "$lo" eval --no-commit "
    | random sum start | random := Random seed: 42. sum := 0.
    1000 timesRepeat: [
        start := (random next * (Data size - 4096)) truncated + 1.
        sum := sum + (Data copyFrom: start to: start + 4095) size].
    sum"
/usr/bin/time -f "export to a file:  %e s %M KB" "$lo" eval --no-commit "Data writeToFile: '$dir/out.bin'. Data size"
cmp "$dir/data.bin" "$dir/out.bin" && echo "the exported file is the imported one, byte for byte"
"$lo" check
ls -l "$LO_IMAGE" | awk '{ print "image file: " $5 " bytes" }'
