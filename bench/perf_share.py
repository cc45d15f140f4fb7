#!/usr/bin/env python3
"""Share of a profile's samples spent inside a function (inclusive), and inside some of its
callees, from `perf script` call stacks:

  perf script --no-inline -F comm,ip,sym -i PERF.DATA | bench/perf_share.py ROOT [PART ...]

ROOT and each PART are substrings of symbol names (e.g. authenticateAndAuthorize,
RbacAuthorizer::authorize). Prints the share of all samples whose stack holds ROOT, then for
each PART the share of all samples whose stack holds both ROOT and PART. Used for the
authentication/RBAC share of bench/etcd_vs_skiff.sh's phases (PERF=DIR), bench/README.md.
"""
import sys


def stacks(lines):
    """Yields each sample's frames (symbol names), as perf script prints them."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line[0] in " \t":
            parts = line.strip().split(" ", 1)  # "ADDRESS SYMBOL"
            if len(parts) == 2:
                frames.append(parts[1])
        elif frames:  # a new sample's header line without a blank line before it
            yield frames
            frames = []
    if frames:
        yield frames


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root, parts = sys.argv[1], sys.argv[2:]
    total = inside = 0
    counts = [0] * len(parts)
    for frames in stacks(sys.stdin):
        total += 1
        if not any(root in f for f in frames):
            continue
        inside += 1
        for i, part in enumerate(parts):
            if any(part in f for f in frames):
                counts[i] += 1
    if total == 0:
        sys.exit("perf_share: no samples on stdin")
    print(f"{total} samples; {root}: {100 * inside / total:.2f} %")
    for part, n in zip(parts, counts):
        print(f"  {part}: {100 * n / total:.2f} %")


if __name__ == "__main__":
    main()
