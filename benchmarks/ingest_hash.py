"""Benchmark: copy-and-hash throughput against hashlib.file_digest's SHA-256, in the same run.

    python benchmarks/ingest_hash.py [--size-mib 1024] [--repeat 3] [--dir /tmp]

Baseline: ``hashlib.file_digest(f, "sha256")`` reading the same file (from the page cache, as
the copy does after the first warm-up read). Measured, each the best of ``--repeat`` runs:

* ``copy+sha256``: the acquisition pass without the legacy MD5 (read once, SHA-256, write the copy);
* ``copy+sha256+md5``: the pass as acquisition runs it (MD5 on a second thread).

Prints each throughput in MB/s and its ratio to the baseline; the target is a ratio of at least
0.80 for the streaming pass. Durability (fsync of the copy) is a separate step of acquisition and
is not part of either figure: the disk's write speed is not the pass's.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from timing import best_of

from forensics_app.ingest.hashing import copy_and_hash


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--target", type=float, default=0.80)
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ingest-bench-", dir=args.dir))
    src = work / "source.bin"
    size = args.size_mib << 20
    rng = np.random.default_rng(0)
    with open(src, "wb") as fh:
        for _ in range(args.size_mib):
            fh.write(rng.bytes(1 << 20))

    def baseline() -> None:
        with open(src, "rb") as fh:
            hashlib.file_digest(fh, "sha256")

    def make_pass(md5: bool):
        def run() -> None:
            dst = work / "copy.bin"
            dst.unlink(missing_ok=True)
            copy_and_hash(src, dst, md5=md5)
        return run

    baseline()  # warm the page cache
    t_base = best_of(baseline, args.repeat)
    t_sha = best_of(make_pass(False), args.repeat)
    t_both = best_of(make_pass(True), args.repeat)
    (work / "copy.bin").unlink(missing_ok=True)

    mb = size / 1e6
    print(f"file: {args.size_mib} MiB in {work}; cores: {os.cpu_count()}; best of {args.repeat}")
    print(f"baseline hashlib.file_digest sha256 : {mb / t_base:8.0f} MB/s")
    rows = [("copy+sha256 (the streaming pass)", t_sha), ("copy+sha256+md5 (as acquisition runs)", t_both)]
    for name, t in rows:
        print(f"{name:<37}: {mb / t:8.0f} MB/s  ratio {t_base / t:.2f}")
    ratio = t_base / t_sha
    ok = ratio >= args.target
    print(f"target: copy+sha256 ratio >= {args.target:.2f}: {'PASS' if ok else 'FAIL'} ({ratio:.2f})")
    src.unlink()
    work.rmdir()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
