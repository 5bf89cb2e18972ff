"""The same work as one Distillery hard-label cell, in plain PyTorch.

Reference for the `cell_vs_pytorch` benchmark (cargo bench -p distillery --bench cell_vs_pytorch):
ConvNet-3 (width 128, GroupNorm(128,128), ReLU, AvgPool; padding 3 on the first conv for 1-channel
input), SGD lr 0.01 / momentum 0.9 / weight decay 5e-4, batch 256, step x0.1 after epochs/2,
DSA (color_crop_cutout_scale_rotate: flip dropped for digits), one op group per batch, trained on
`ipc` random images per class of a synthetic MNIST-shaped set, then evaluated on 1000 images.
Only the wall time is compared; it is written as JSON on stdout.

Usage: python plain_pytorch_cell.py --epochs 300 --ipc 10 --threads 2
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNet(nn.Module):
    def __init__(self, channel=1, classes=10, width=128, depth=3, size=28):
        super().__init__()
        layers, c, s = [], channel, size
        for d in range(depth):
            pad = 3 if channel == 1 and d == 0 else 1
            layers += [nn.Conv2d(c, width, 3, padding=pad), nn.GroupNorm(width, width, affine=True), nn.ReLU(inplace=True), nn.AvgPool2d(2, 2)]
            s = (s + 2 * pad - 2) // 2
            c = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(width * s * s, classes)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def dsa(x, groups):
    n, c, h, w = x.shape
    dev = x.device
    g = groups[torch.randint(0, len(groups), (1,)).item()]
    if g == "flip":
        return torch.where(torch.rand(n, 1, 1, 1, device=dev) < 0.5, x.flip(3), x)
    if g == "color":
        x = x + (torch.rand(n, 1, 1, 1, device=dev) - 0.5)
        m = x.mean(1, keepdim=True)
        x = (x - m) * (torch.rand(n, 1, 1, 1, device=dev) * 2.0) + m
        m = x.mean([1, 2, 3], keepdim=True)
        return (x - m) * (torch.rand(n, 1, 1, 1, device=dev) + 0.5) + m
    if g == "crop":
        sx, sy = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=dev)
        ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=dev)
        gb, gx, gy = torch.meshgrid(torch.arange(n, device=dev), torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        gx = torch.clamp(gx + tx + 1, 0, h + 1)
        gy = torch.clamp(gy + ty + 1, 0, w + 1)
        xp = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
        return xp[gb, gx, gy].permute(0, 3, 1, 2)
    if g == "cutout":
        cs = int(h * 0.5 + 0.5)
        ox = torch.randint(0, h + (1 - cs % 2), (n, 1, 1), device=dev)
        oy = torch.randint(0, w + (1 - cs % 2), (n, 1, 1), device=dev)
        r = torch.arange(h, device=dev).view(1, h, 1)
        q = torch.arange(w, device=dev).view(1, 1, w)
        inside = (r >= ox - cs // 2) & (r < ox - cs // 2 + cs) & (q >= oy - cs // 2) & (q < oy - cs // 2 + cs)
        return x * (~inside).float().unsqueeze(1)
    if g == "scale":
        sx = torch.rand(n, device=dev) * (1.2 - 1 / 1.2) + 1 / 1.2
        sy = torch.rand(n, device=dev) * (1.2 - 1 / 1.2) + 1 / 1.2
        z = torch.zeros(n, device=dev)
        theta = torch.stack([sx, z, z, z, sy, z], 1).view(n, 2, 3)
    else:  # rotate
        t = (torch.rand(n, device=dev) - 0.5) * 2 * 15 / 180 * math.pi
        z = torch.zeros(n, device=dev)
        theta = torch.stack([t.cos(), t.sin(), z, -t.sin(), t.cos(), z], 1).view(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, align_corners=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.ipc * 10, 1, 28, 28)
    y = torch.arange(10).repeat_interleave(a.ipc)
    xt, yt = torch.randn(1000, 1, 28, 28), torch.randint(0, 10, (1000,))
    t0 = time.perf_counter()
    net = ConvNet(width=a.width)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    groups = ["color", "crop", "cutout", "scale", "rotate"]
    for ep in range(a.epochs):
        for gp in opt.param_groups:
            gp["lr"] = 0.01 if ep <= a.epochs // 2 else 0.001
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 256):
            idx = perm[i:i + 256]
            loss = F.cross_entropy(net(dsa(x[idx], groups)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        acc = sum((net(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum().item() for i in range(0, 1000, 500)) / 1000
    print(json.dumps({"train_seconds": train_s, "total_seconds": time.perf_counter() - t0, "epochs": a.epochs, "ipc": a.ipc, "threads": a.threads, "torch": torch.__version__, "acc_on_noise": acc}))


if __name__ == "__main__":
    main()
