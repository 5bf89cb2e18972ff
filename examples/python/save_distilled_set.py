#!/usr/bin/env python3
"""Save a compressed set made with PyTorch in the layout `bench` evaluates (`--from FILE`).

The method here is deliberately small: per-class k-means centroids of the training images
(k = images per class; k = 1 gives the class means), computed from MNIST-format idx files.
Replace `distill()` with your own method and keep `save()`: the harness then trains the
protocol's student on your set exactly as it trains on the sets of its own plugins, and your
row appears in the same table, compared with the random baseline.

    python examples/python/save_distilled_set.py --data harness/data/mnist-5k --ipc 1 \\
        --dataset-checksum 515a40ef9a9f27384e4431a567fd75c3b27427ff404ff50a12f94112b5936458 \\
        --out kmeans-ipc1.safetensors
    ./target/release/bench --protocol hard-label --from kmeans-ipc1.safetensors --ipc 1

The layout (CONTRIBUTING.md, "Evaluating a set made elsewhere"):
  images  [N, C, H, W]  uint8 (0-255) or float32/float16/float64 pixels in [0, 1], NOT
                        mean/std-normalised, at the dataset's resolution
  labels  [N]           int64 class indices, in the dataset's class order
  metadata (strings)    method, version, family, paper, budget ("ipc1"), class_names (JSON),
                        dataset_checksum (as `bench` prints it; a warning if absent), ...
"""

import argparse
import gzip
import json
import struct
from pathlib import Path

import torch
from safetensors.torch import save_file


def read_idx(path: Path) -> torch.Tensor:
    """An MNIST idx file (raw or gzipped) as a uint8 tensor."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    _, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert dtype == 0x08, f"{path}: expected uint8 idx data"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(dims)


def load_train(root: Path):
    """The train split only (the test files are never read): images [N, 1, H, W] in [0, 1]."""
    def find(stem):
        for name in (stem, stem + ".gz"):
            if (root / name).is_file():
                return root / name
        raise SystemExit(f"{root}: no {stem}[.gz]")

    x = read_idx(find("train-images-idx3-ubyte"))
    y = read_idx(find("train-labels-idx1-ubyte")).long()
    return x[:, None].float() / 255.0, y


def distill(x: torch.Tensor, y: torch.Tensor, ipc: int, seed: int, iters: int = 20):
    """k-means (Lloyd) per class, seeded; returns float images in [0, 1] and int64 labels."""
    g = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for c in range(int(y.max()) + 1):
        xc = x[y == c].flatten(1)
        centers = xc[torch.randperm(len(xc), generator=g)[:ipc]].clone()
        for _ in range(iters):
            assign = torch.cdist(xc, centers).argmin(1)
            for j in range(ipc):
                members = xc[assign == j]
                if len(members) > 0:
                    centers[j] = members.mean(0)
        images.append(centers.view(ipc, *x.shape[1:]))
        labels.append(torch.full((ipc,), c, dtype=torch.int64))
    return torch.cat(images).clamp(0, 1), torch.cat(labels)


def save(path: Path, images: torch.Tensor, labels: torch.Tensor, metadata: dict):
    """Writes the set in the harness's safetensors layout (metadata values must be strings)."""
    assert images.ndim == 4 and labels.shape == (images.shape[0],)
    assert labels.dtype == torch.int64
    tensors = {"images": images.contiguous(), "labels": labels.contiguous()}
    save_file(tensors, str(path), metadata={k: str(v) for k, v in metadata.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with MNIST idx train files")
    ap.add_argument("--ipc", type=int, default=1, help="images per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dataset-checksum", default=None, help="the checksum `bench` prints for the dataset")
    ap.add_argument("--class-names", default=",".join(str(d) for d in range(10)))
    a = ap.parse_args()

    x, y = load_train(a.data)
    images, labels = distill(x, y, a.ipc, a.seed)
    metadata = {
        "format": "distillery-set",
        "format_version": 1,
        "method": "kmeans-centroids",
        "version": "1",
        "family": "distillation",
        "paper": "per-class k-means centroids (Lloyd, 20 iterations), examples/python/save_distilled_set.py",
        "budget": f"ipc{a.ipc}",  # the budget it was made for: evaluated only at this budget
        "class_names": json.dumps(a.class_names.split(",")),
        "float_range": "unit",
    }
    if a.dataset_checksum:
        metadata["dataset_checksum"] = a.dataset_checksum
    save(a.out, images, labels, metadata)
    print(f"wrote {a.out}: {len(labels)} images {tuple(images.shape[1:])}, {images.dtype}")


if __name__ == "__main__":
    main()
