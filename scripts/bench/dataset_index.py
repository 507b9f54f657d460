"""Dataset index at benchmark scale: the four training sets of the official full-data recipe, annotations only.

Writes annotation-only copies of GOT-10k (9,335 train sequences, ~1.4 M frames), LaSOT (the 1,120 official
train sequences, 1,000-4,000 frames each, ~2.8 M), TrackingNet (TRAIN_0..11, 30,132 sequences, ~14.2 M) and
COCO 2017 (118,287 images, 860,001 instances, with a short polygon each) to a temporary folder (deleted at the
end), under the official names so the shipped split lists resolve. Then, each in a fresh process, builds the
sampler of ``stark_st1 baseline`` (LASOT, GOT10K_vottrain, COCO17, TRACKINGNET) as a training rank does:

    cold    no index cache: parse everything (process pool), write the cache
    cached  the cache exists: map it
and prints the wall time of the build, the resident memory after it (and above the process after its
imports), its anonymous part (RssAnon: the process's own memory; the rest of RSS is file-backed pages,
~500-700 MB of torch's shared libraries plus the mapped index, shared by every rank), the peak, and for 4 forked workers that each make 100k draws (dataset, sequence, frame ids,
frame keys, boxes; no image reads) their private memory before and after: Private_Dirty is what a worker
copied from its parent; Private_Clean is index-file pages only it has touched (page cache, not copied).

    OMP_NUM_THREADS=1 python scripts/bench/dataset_index.py [--tmp DIR] [--draws 100000] [--workers 4]

The annotation files are in the page cache when the cold build reads them (they were just written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETS = {"got10k": 9335, "lasot": 1120, "trackingnet": 30132, "coco": 118287}
COCO_INSTANCES = 860001


def _pool(rng: np.random.Generator, size: int, fmt: str, scale: float = 1.0) -> list[str]:
    """Text lines of random boxes (files are slices of this pool: writing 18 M lines stays quick)."""
    x, y = rng.uniform(0, 1200, size), rng.uniform(0, 650, size)
    w, h = rng.uniform(5, 400, size) * scale, rng.uniform(5, 300, size) * scale
    w[rng.random(size) < 0.02] = 0.0  # some empty boxes (invisible frames)
    return [fmt.format(*row) for row in zip(x, y, w, h)]


def _lines(pool: list[str], rng: np.random.Generator, n: int) -> str:
    start = int(rng.integers(0, len(pool) - n))
    return "".join(pool[start : start + n])


def write_got10k(root: Path, rng: np.random.Generator) -> int:
    pool = _pool(rng, 20000, "{:.4f},{:.4f},{:.4f},{:.4f}\n")
    names = [f"GOT-10k_Train_{i:06d}" for i in range(1, SETS["got10k"] + 1)]
    (root / "train").mkdir(parents=True)
    (root / "train" / "list.txt").write_text("".join(f"{n}\n" for n in names))
    lengths = rng.integers(30, 271, len(names))
    for name, n in zip(names, lengths.tolist()):
        folder = root / "train" / name
        folder.mkdir()
        (folder / "groundtruth.txt").write_text(_lines(pool, rng, n))
        (folder / "absence.label").write_text("0\n" * (n - 3) + "1\n" * 3)
        (folder / "cover.label").write_text("8\n" * (n - 5) + "0\n" + "4\n" * 4)
    return int(lengths.sum())


def write_lasot(root: Path, rng: np.random.Generator) -> int:
    from lib.data.datasets.got10k import read_split_file

    pool = _pool(rng, 20000, "{:.0f},{:.0f},{:.0f},{:.0f}\n")
    total = 0
    for name in read_split_file("lasot_train_split.txt"):
        folder = root / name.rsplit("-", 1)[0] / name
        folder.mkdir(parents=True)
        n = int(rng.integers(1000, 4001))
        total += n
        (folder / "groundtruth.txt").write_text(_lines(pool, rng, n))
        flags = ",".join(["0"] * (n - 10) + ["1"] * 10) + "\n"
        (folder / "full_occlusion.txt").write_text(flags)
        (folder / "out_of_view.txt").write_text(flags)
    return total


def write_trackingnet(root: Path, rng: np.random.Generator) -> int:
    pool = _pool(rng, 20000, "{:.2f},{:.2f},{:.2f},{:.2f}\n")
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    total, count = 0, SETS["trackingnet"]
    per_chunk = -(-count // 12)
    for index in range(count):
        chunk = root / f"TRAIN_{index // per_chunk}" / "anno"
        chunk.mkdir(parents=True, exist_ok=True)
        name = "".join(rng.choice(letters, 11)) + f"_{index % 7}"
        n = int(rng.integers(90, 853))
        total += n
        (chunk / f"{name}.txt").write_text(_lines(pool, rng, n))
    return total


def write_coco(root: Path, rng: np.random.Generator) -> int:
    images = [{"id": int(i), "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(1, SETS["coco"] + 1)]
    image_ids = rng.integers(1, SETS["coco"] + 1, COCO_INSTANCES)
    boxes = np.round(np.stack([rng.uniform(0, 500, COCO_INSTANCES), rng.uniform(0, 400, COCO_INSTANCES),
                               rng.exponential(60, COCO_INSTANCES), rng.exponential(50, COCO_INSTANCES)], 1), 2)  # fmt: skip
    crowd = rng.random(COCO_INSTANCES) < 0.01
    polygon = [round(float(v), 2) for v in rng.uniform(0, 400, 16)]
    annotations = [
        {"segmentation": [polygon], "area": float(b[2] * b[3]), "iscrowd": int(c), "image_id": int(i),
         "bbox": b.tolist(), "category_id": 1, "id": k + 1}  # fmt: skip
        for k, (i, b, c) in enumerate(zip(image_ids, boxes, crowd))
    ]
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_train2017.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    return COCO_INSTANCES


def _smaps() -> dict[str, int]:
    """Rss, Pss, Private_Clean, Private_Dirty of this process in bytes."""
    out = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":")
        out[key] = int(value.split()[0]) * 1024
    return out


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes: ``VmHWM`` is the peak (ru_maxrss would include the parent's
    peak: Linux keeps it across exec), ``RssAnon`` the anonymous pages, private to this process, unlike
    RSS's file-backed pages (torch's shared libraries, the mapped index) that every rank shares."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def _draws(sampler, count: int, seed: int) -> int:
    """What a worker does to choose a sample, without reading images; returns a checksum."""
    rng = np.random.default_rng(seed)
    checksum = 0
    for _ in range(count):
        d, s = sampler._pick(rng)
        ds = sampler.datasets[d]
        seq = ds.sequence(s)
        drawn = sampler._frame_ids(ds, seq.visible, rng)
        if drawn is None:
            continue
        ids = drawn[0] + drawn[1]
        checksum += sum(len(ds.frame_key(s, f)) for f in ids) + int(seq.boxes[ids].sum() > 0)
    return checksum


def phase(roots: Path, draws: int, workers: int) -> dict:
    """One training rank's build (in this fresh process), then forked workers' draws."""
    from lib.config import LocalSettings, load_config
    from lib.data.loader import build_sampler

    settings = LocalSettings(
        data_dir=str(roots), save_dir=str(roots / "out"), index_cache_dir=str(roots / "index_cache")
    )
    cfg = load_config("stark_st1", "baseline")
    before, anon_before = _smaps()["Rss"], _status("RssAnon")
    start, cpu_start = time.perf_counter(), os.times()
    sampler = build_sampler(cfg, settings, "train")
    seconds, cpu_end = time.perf_counter() - start, os.times()
    # CPU seconds of this process and its parse pool: what a shared machine's load does not inflate much
    cpu = sum(cpu_end[:4]) - sum(cpu_start[:4])
    after = _smaps()["Rss"]
    result = {
        "seconds": seconds,
        "cpu": cpu,
        "rss": after,
        "rss_above_imports": after - before,
        "anon": _status("RssAnon"),
        "anon_above_imports": _status("RssAnon") - anon_before,
        "peak": _status("VmHWM"),
        "origins": [ds.index_origin.split(" at /")[0].split(" /")[0] for ds in sampler.datasets],
        "frames": [int(ds.num_frames) for ds in sampler.datasets],
        "sequences": [len(ds) for ds in sampler.datasets],
        "workers": [],
    }
    if not draws:
        return result
    pipes = []
    for w in range(workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a DataLoader-like forked worker
            os.close(read)
            first = _smaps()
            _draws(sampler, draws, w)
            last = _smaps()
            os.write(write, json.dumps({"start": first, "end": last}).encode())
            os._exit(0)
        os.close(write)
        pipes.append((pid, read))
    for pid, read in pipes:
        chunks = []
        while True:
            data = os.read(read, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(read)
        os.waitpid(pid, 0)
        result["workers"].append(json.loads(b"".join(chunks)))
    return result


def _mb(n: float) -> str:
    return f"{n / 2**20:.0f} MB"


def _report(label: str, r: dict) -> None:
    print(
        f"{label:7s} build {r['seconds']:6.1f} s wall, {r['cpu']:6.1f} s CPU | resident {_mb(r['rss'])} "
        f"({_mb(r['rss_above_imports'])} above imports), anonymous {_mb(r['anon'])} ({_mb(r['anon_above_imports'])} "
        f"above imports) | peak {_mb(r['peak'])} | {', '.join(r['origins'])}"
    )
    for w, stats in enumerate(r["workers"]):
        start, end = stats["start"], stats["end"]
        print(
            f"        worker {w}: private dirty {_mb(start['Private_Dirty'])} -> {_mb(end['Private_Dirty'])}, "
            f"private clean {_mb(start['Private_Clean'])} -> {_mb(end['Private_Clean'])}, rss {_mb(end['Rss'])}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tmp", default=None, help="parent of the temporary folder (needs ~1.5 GB)")
    parser.add_argument("--draws", type=int, default=100_000, help="draws per forked worker")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)  # internal: run one build in this process
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(phase(Path(args.phase), args.draws, args.workers)))
        return 0
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} cores")
    roots = Path(tempfile.mkdtemp(prefix="stark_index_bench_", dir=args.tmp))
    try:
        start = time.perf_counter()
        for offset, (name, writer) in enumerate(
            (("got10k", write_got10k), ("lasot", write_lasot), ("trackingnet", write_trackingnet), ("coco", write_coco))
        ):
            frames = writer(roots / name, np.random.default_rng(offset))
            print(f"wrote {name}: {SETS[name]} {'images' if name == 'coco' else 'sequences'}, {frames} annotations")
        print(f"annotation copies written in {time.perf_counter() - start:.0f} s to {roots}")
        for label, draws in (("cold", 0), ("cached", args.draws)):
            command = [sys.executable, __file__, "--phase", str(roots), "--draws", str(draws), "--workers", str(args.workers)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            _report(label, json.loads(out.strip().splitlines()[-1]))
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    finally:
        shutil.rmtree(roots, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
