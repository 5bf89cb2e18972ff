"""The plain PyTorch loop: the same work as Distillery hard-label cells, one cell after another.

Reference side of scripts/gpu-check.sh (and of `cargo bench -p distillery --bench cells_per_hour`).
It reuses the model and DSA of harness/benches/plain_pytorch_cell.py (ConvNet-3 width 128 with
GroupNorm, DSA color/crop/cutout/[flip]/scale/rotate, one op group per batch; SGD 0.01 / 0.9 /
5e-4, batch 256, step x0.1 after epochs/2) and runs, in ONE process on ONE device, every
(ipc, seed) cell in turn: `ipc` images per class of a `channels`x`size`x`size` set, `epochs`
epochs, then top-1 on `test` images in batches of 500. Data are random (only time is compared).
No host synchronisation per step (the loss is never read); the device is synchronised at the
end of each cell so its time is complete.

Writes JSON on stdout: {"device", "torch", "cells": [{"ipc", "seed", "train_seconds",
"eval_seconds", "seconds"}], "total_seconds"} (seconds exclude the process and CUDA start).

Usage: python plain_loop.py --device cuda --ipcs 1,10,50 --seeds 1 --epochs 300 [--threads N]
"""
import argparse, json, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "harness", "benches"))
from plain_pytorch_cell import ConvNet, dsa  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ipcs", default="1,10,50")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--width", type=int, default=128)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    groups = ["color", "crop", "cutout", "scale", "rotate"]
    if a.channels == 3:
        groups.insert(3, "flip")  # mirror-invariant data, as the harness does for CIFAR
    torch.manual_seed(0)
    xt = torch.randn(a.test, a.channels, a.size, a.size, device=dev)
    yt = torch.randint(0, a.classes, (a.test,), device=dev)
    # Warm-up (CUDA context, cuDNN handles, every DSA op's first call): not part of any cell.
    warm = ConvNet(a.channels, a.classes, a.width, 3, a.size).to(dev)
    for g in groups:
        F.cross_entropy(warm(dsa(xt[:2], [g])), yt[:2]).backward()
    sync(dev)
    cells, t_all = [], time.perf_counter()
    for ipc in [int(v) for v in a.ipcs.split(",")]:
        for seed in range(a.seeds):
            torch.manual_seed(seed)
            t0 = time.perf_counter()
            x = torch.randn(ipc * a.classes, a.channels, a.size, a.size, device=dev)
            y = torch.arange(a.classes, device=dev).repeat_interleave(ipc)
            net = ConvNet(a.channels, a.classes, a.width, 3, a.size).to(dev)
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            for ep in range(a.epochs):
                for gp in opt.param_groups:
                    gp["lr"] = 0.01 if ep <= a.epochs // 2 else 0.001
                perm = torch.randperm(len(x), device=dev)
                for i in range(0, len(x), 256):
                    idx = perm[i:i + 256]
                    loss = F.cross_entropy(net(dsa(x[idx], groups)), y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            sync(dev)
            t1 = time.perf_counter()
            net.eval()
            with torch.no_grad():
                hits = sum((net(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum() for i in range(0, a.test, 500))
                top1 = float(hits) / a.test
            t2 = time.perf_counter()
            cells.append({"ipc": ipc, "seed": seed, "train_seconds": t1 - t0, "eval_seconds": t2 - t1, "seconds": t2 - t0, "top1_on_noise": top1})
    print(json.dumps({"device": str(dev), "torch": torch.__version__, "epochs": a.epochs, "threads": torch.get_num_threads(),
                      "cells": cells, "total_seconds": time.perf_counter() - t_all}))


if __name__ == "__main__":
    main()
