"""The large-image step of the GPU check (scripts/gpu-check/check.py calls it; README, "GPU").

Writes a small ImageFolder of generated JPEGs (train/ and val/, class-structured pixels),
trains a torchvision ResNet-18 teacher on its train split in PyTorch (a stand-in for the
ImageNet-pretrained teacher the benchmark uses: nothing can be downloaded on a GPU machine),
saves it as a torchvision-layout safetensors state dict with its class list, and runs `bench`
on the large-image soft-label and hard-label protocols (random, IPC 10, one seed) with
`--teacher`. Prints one JSON object: per protocol the record's top-1, train and total
seconds, steps, and student images per second (epochs x set size / train seconds).

Full mode: protocols/large-{soft,hard}-label-224.toml as published (300 epochs), 256-px JPEGs.
Dry run (CPU, what CI runs): the 64-px protocols with 1 epoch, 2 train images per class.
"""
import argparse, json, os, re, subprocess, sys, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def make_folder(root, classes, train_per_class, test_per_class, side, seed=0):
    import torch
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    colours = torch.randint(30, 226, (classes, 3), generator=g)
    for split, n in (("train", train_per_class), ("val", test_per_class)):
        for c in range(classes):
            d = os.path.join(root, split, f"class{c:02d}")
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                x = colours[c].view(3, 1, 1).float() + torch.randn(3, side, side, generator=g) * 50
                q = side // 4
                r, k = divmod(c, 4)
                x[:, r * q % (side - q):r * q % (side - q) + q, k * q:(k + 1) * q] += 80
                img = x.clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
                Image.fromarray(img).save(os.path.join(d, f"{i:04d}.jpg"), quality=90)


def train_teacher(root, out, size, stem, epochs, device):
    import torch, torchvision
    from PIL import Image
    from safetensors.torch import save_file

    classes = sorted(os.listdir(os.path.join(root, "train")))
    xs, ys = [], []
    for c, name in enumerate(classes):
        d = os.path.join(root, "train", name)
        for f in sorted(os.listdir(d)):
            im = Image.open(os.path.join(d, f)).convert("RGB").resize((size, size), Image.BILINEAR)
            xs.append(torch.from_numpy(__import__("numpy").asarray(im).copy()).permute(2, 0, 1))
            ys.append(c)
    x = torch.stack(xs).float().div(255).to(device)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    x = (x - mean) / std
    y = torch.tensor(ys, device=device)
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=len(classes))
    if stem == "cifar":
        m.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = torch.nn.Identity()
    m = m.to(device)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
    t0 = time.perf_counter()
    for _ in range(epochs):
        m.train()
        for idx in torch.randperm(len(y), device=device).split(64):
            xb = x[idx]
            flip = torch.rand(len(idx), device=device) < 0.5
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            loss = torch.nn.functional.cross_entropy(m(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    m.eval()
    with torch.no_grad():
        acc = (m(x).argmax(1) == y).float().mean().item()
    weights = os.path.join(out, "resnet18.safetensors")
    save_file({k: v.detach().cpu().contiguous() for k, v in m.state_dict().items()}, weights)
    open(os.path.join(out, "resnet18.classes.txt"), "w").write("\n".join(classes) + "\n")
    return weights, {"train_accuracy": round(acc, 4), "seconds": round(time.perf_counter() - t0, 2),
                     "epochs": epochs, "images": len(y)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    dry = a.dry_run
    side, size, stem = (72, 64, "cifar") if dry else (256, 224, "imagenet")
    classes, per_train, per_test = (10, 3, 1) if dry else (10, 100, 20)
    folder = os.path.join(a.out, "imagefolder")
    make_folder(folder, classes, per_train, per_test, side)
    weights, teacher = train_teacher(folder, a.out, size, stem, 1 if dry else 15, a.device)
    res = {"image_side_on_disk": side, "resolution": size, "classes": classes,
           "train_per_class": per_train, "test_per_class": per_test, "teacher": teacher, "runs": {}}
    for kind in ("soft", "hard"):
        src = os.path.join(ROOT, "protocols", f"large-{kind}-label-{size}.toml")
        text = open(src).read()
        if dry:
            text, n = re.subn(r"(?m)^epochs = 300$", "epochs = 1", text, count=1)
            assert n == 1, src
        proto = os.path.join(a.out, f"large-{kind}-{size}.toml")
        open(proto, "w").write(text)
        out = os.path.join(a.out, f"run-{kind}")
        cmd = [a.bench, "--protocol", proto, "--dataset", folder, "--methods", "random", "--ipc", "1" if dry else "10",
               "--seeds", "1", "--device", a.device, "--threads", str(a.threads), "--jobs", "1", "--no-cache",
               "--out", out]
        if kind == "soft":
            cmd += ["--teacher", weights]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {(p.stdout + p.stderr)[-2000:]}")
        r = json.load(open(os.path.join(out, "cells", "random__ipc%s__s0.json" % ("1" if dry else "10"))))
        ev = r["evaluation"]
        images = sum(r["per_class"] or [])
        res["runs"][kind] = {
            "protocol": os.path.basename(src), "device": r["device"], "top1": ev["top1"], "epochs": ev["epochs"],
            "steps": ev["steps"], "set_images": images, "train_seconds": round(ev["train_seconds"], 3),
            "eval_seconds": round(ev["eval_seconds"], 3), "cell_total_seconds": round(r["timings"]["total_seconds"], 3),
            "wall_seconds_with_start": round(wall, 3),
            "student_images_per_second": round(ev["epochs"] * images / ev["train_seconds"], 1),
            "teacher": {k: (r.get("teacher") or {}).get(k) for k in ("model", "val_acc", "test_acc", "weights_sha256")},
            "labels": ev["labels"], "augment": ev["augment"],
        }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
