"""The prepared GPU check (run through scripts/gpu-check.sh; see README, section GPU).

Runs the prebuilt `bench` (and its plugins, next to it) on a GPU machine that has python3 with
torch but no Rust toolchain, and writes everything the issue notes need into ONE results file
pair, OUT/gpu-check-results.json and OUT/gpu-check-results.md:

 1. `bench env --json`;
 2. the device (nvidia-smi: name, driver, memory total/used/free, utilisation), and a sampler
    that polls nvidia-smi every 0.5 s during every step (peak memory used, mean/max utilisation);
 3. a short hard-label run on the embedded mnist-5k (random, IPC 10, one seed);
 4. CIFAR-shaped data generated here (CIFAR-10 binary layout, random class-structured pixels);
 5. per-cell wall time of hard-label cells at IPC 1/10/50 on it (one cell at a time);
 6. the plain PyTorch loop for the same cells (scripts/gpu-check/plain_loop.py);
 7. the throughput options on a fixed grid (random x IPC 1,10 x SEEDS seeds): cells/hour
    sequential (--jobs 1), concurrent (--jobs N for each N asked, and the memory-aware
    default), grouped (--group N with 1 and 2 processes, and on a larger grid of BIG_SEEDS seeds
    against the best concurrency, when this `bench` has the option), and the plain loop's
    cells/hour for the same grid; the cost of --deterministic on one IPC-10 cell;
 8. the large-image soft- and hard-label protocols (issue 17) on a generated 224-px ImageFolder
    with a torchvision ResNet-18 teacher trained here (scripts/gpu-check/large_image.py).

Every step is recorded with its status; a failing step does not stop the others (the exit
status is 1 when any step failed, 0 otherwise). `--dry-run` (or DRY_RUN=1) runs the same steps
on the CPU with tiny sizes in well under a minute: CI runs it (tests/gpu_check.rs) so the
script cannot rot.

Environment: BENCH (default target/release/bench), PYTHON (default this interpreter).
"""
import argparse, ctypes, json, os, re, shutil, subprocess, sys, threading, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def now():
    return time.perf_counter()


# ---------------------------------------------------------------- nvidia-smi
SMI_FIELDS = ["name", "driver_version", "memory.total", "memory.used", "memory.free", "utilization.gpu"]


def smi_query():
    """One nvidia-smi reading per GPU (MiB, %), or None when there is no nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=" + ",".join(SMI_FIELDS), "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20,
        ).stdout
    except Exception:
        return None
    gpus = []
    for line in out.strip().splitlines():
        v = [p.strip() for p in line.split(",")]
        if len(v) != len(SMI_FIELDS):
            continue
        g = dict(zip(SMI_FIELDS, v))
        for k in ["memory.total", "memory.used", "memory.free", "utilization.gpu"]:
            try:
                g[k] = float(g[k])
            except ValueError:
                g[k] = None
        gpus.append(g)
    return gpus or None


class Sampler:
    """Polls nvidia-smi (GPU 0) every `period` s; `window()` gives the stats since `mark()`."""

    def __init__(self, period=0.5):
        self.samples, self.period, self.stop = [], period, threading.Event()
        self.enabled = smi_query() is not None
        if self.enabled:
            self.t = threading.Thread(target=self.run, daemon=True)
            self.t.start()

    def run(self):
        while not self.stop.is_set():
            g = smi_query()
            if g:
                self.samples.append((now(), g[0]["memory.used"], g[0]["utilization.gpu"]))
            self.stop.wait(self.period)

    def window(self, t0):
        s = [x for x in self.samples if x[0] >= t0]
        if not s:
            return None
        mem = [x[1] for x in s if x[1] is not None]
        util = [x[2] for x in s if x[2] is not None]
        return {
            "samples": len(s),
            "peak_memory_used_mib": max(mem) if mem else None,
            "mean_utilization_pct": round(sum(util) / len(util), 1) if util else None,
            "max_utilization_pct": max(util) if util else None,
        }


# ---------------------------------------------------------------- helpers
def write_protocol(src, dst, epochs):
    text = open(src).read()
    text, n = re.subn(r"(?m)^epochs = 300$", f"epochs = {epochs}", text, count=1)
    assert n == 1, f"{src}: no 'epochs = 300' line to replace"
    open(dst, "w").write(text)


def make_cifar(root, train_per_class, test, seed=0):
    """A CIFAR-10 binary directory (5 train batches, test_batch.bin, batches.meta.txt) of random
    class-structured pixels (a per-class colour pattern plus noise), written without numpy."""
    import torch

    os.makedirs(root, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    means = torch.randint(40, 216, (10, 3, 1, 1), generator=g).float()

    def records(n):
        y = torch.arange(n) % 10
        x = (means[y] + torch.randn(n, 3, 32, 32, generator=g) * 40).clamp(0, 255).to(torch.uint8)
        r = torch.cat([y.to(torch.uint8).view(n, 1), x.view(n, -1)], 1).contiguous()
        return ctypes.string_at(r.data_ptr(), r.numel())

    n_train = train_per_class * 10
    per = n_train // 5
    for i in range(1, 6):
        open(os.path.join(root, f"data_batch_{i}.bin"), "wb").write(records(per))
    open(os.path.join(root, "test_batch.bin"), "wb").write(records(test))
    open(os.path.join(root, "batches.meta.txt"), "w").write(
        "\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]) + "\n")
    return {"path": root, "train": per * 5, "test": test}


class Check:
    def __init__(self, a):
        self.a, self.steps, self.failed = a, {}, False
        self.sampler = Sampler()
        self.t_start = now()
        self.env = dict(os.environ)
        self.env.setdefault("XDG_CACHE_HOME", os.path.join(a.out, "cache"))

    def step(self, name, fn, optional=False):
        if optional and now() - self.t_start > self.a.budget:
            self.steps[name] = {"status": "skipped", "error": f"time budget of {self.a.budget} s spent", "seconds": 0}
            print(f"[gpu-check] {name}: skipped (time budget)", flush=True)
            return self.steps[name]
        print(f"[gpu-check] {name} ...", flush=True)
        t0 = now()
        try:
            res = fn()
            st = {"status": "ok", **(res or {})}
        except Exception as e:  # recorded, the other steps still run
            st = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
            print(f"[gpu-check] {name}: {st['error']}", file=sys.stderr, flush=True)
            self.failed = True
        st["seconds"] = round(now() - t0, 3)
        w = self.sampler.window(t0) if self.sampler.enabled else None
        if w:
            st["gpu"] = w
        self.steps[name] = st
        print(f"[gpu-check] {name}: {st['status']} ({st['seconds']} s)", flush=True)
        return st

    def bench(self, args, timeout):
        cmd = [self.a.bench] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=ROOT)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {(p.stdout + p.stderr)[-1500:]}")
        return p

    def run_grid(self, proto, dataset, out, ipcs, seeds, jobs, extra=(), timeout=600):
        threads = max(jobs, self.a.threads)
        args = ["--protocol", proto, "--dataset", dataset, "--methods", "random",
                "--ipc", ",".join(map(str, ipcs)), "--seeds", str(seeds), "--device", self.a.device,
                "--jobs", str(jobs), "--threads", str(threads), "--no-cache", "--out", out, *extra]
        t0 = now()
        self.bench(args, timeout)
        wall = now() - t0
        cells = []
        for f in sorted(os.listdir(os.path.join(out, "cells"))):
            if not f.endswith(".json"):
                continue
            r = json.load(open(os.path.join(out, "cells", f)))
            ev = r.get("evaluation") or {}
            cells.append({
                "cell": r["cell_id"], "status": r["status"], "ipc": (r.get("budget") or {}).get("value"),
                "seed": r["seed"], "device": r["device"], "deterministic": r.get("deterministic"),
                "top1": ev.get("top1"), "final_train_loss": ev.get("final_train_loss"),
                "train_seconds": ev.get("train_seconds"), "eval_seconds": ev.get("eval_seconds"),
                "total_seconds": r["timings"]["total_seconds"],
                "grouped": (r.get("grouped") or {}).get("size"),
            })
        bad = [c["cell"] for c in cells if c["status"] != "ok"]
        if bad or len(cells) != len(ipcs) * seeds:
            raise RuntimeError(f"{out}: {len(cells)} records, not ok: {bad}")
        return {"wall_seconds": round(wall, 3), "cells": cells,
                "cells_per_hour": round(len(cells) * 3600 / wall, 1)}

    def large_image(self, timeout=600):
        """scripts/gpu-check/large_image.py: the large-image protocols with a --teacher file."""
        out = os.path.join(self.a.out, "work", "large-image")
        os.makedirs(out, exist_ok=True)
        cmd = [self.a.python, os.path.join(ROOT, "scripts/gpu-check/large_image.py"), "--out", out,
               "--bench", self.a.bench, "--device", self.a.device, "--threads", str(self.a.threads)]
        if self.a.dry_run:
            cmd.append("--dry-run")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        if p.returncode != 0:
            raise RuntimeError(f"large_image.py exited {p.returncode}: {(p.stdout + p.stderr)[-1500:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    def plain(self, ipcs, seeds, epochs, test, timeout=600):
        cmd = [self.a.python, os.path.join(ROOT, "scripts/gpu-check/plain_loop.py"), "--device", self.a.device,
               "--ipcs", ",".join(map(str, ipcs)), "--seeds", str(seeds), "--epochs", str(epochs),
               "--test", str(test)]
        if self.a.device == "cpu":
            cmd += ["--threads", str(self.a.threads)]
        t0 = now()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        if p.returncode != 0:
            raise RuntimeError(f"plain loop exited {p.returncode}: {p.stderr[-1500:]}")
        v = json.loads(p.stdout)
        v["wall_seconds_with_start"] = round(now() - t0, 3)
        v["cells_per_hour"] = round(len(v["cells"]) * 3600 / v["total_seconds"], 1)
        return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", default=os.environ.get("DRY_RUN") == "1",
                    help="CPU, tiny sizes (what CI runs)")
    ap.add_argument("--out", default="gpu-check-out", help="results folder (default gpu-check-out)")
    ap.add_argument("--bench", default=os.environ.get("BENCH", os.path.join(ROOT, "target/release/bench")))
    ap.add_argument("--python", default=os.environ.get("PYTHON", sys.executable))
    ap.add_argument("--device", default=None, help="default cuda (cpu with --dry-run)")
    ap.add_argument("--epochs", type=int, default=None, help="CIFAR-shaped cells (default 300; dry run 1)")
    ap.add_argument("--mnist-epochs", type=int, default=None, help="mnist-5k run (default 60; dry run 1)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds of the throughput grid (default 5; dry run 2)")
    ap.add_argument("--big-seeds", type=int, default=None,
                    help="seeds of the larger grid that grouping is timed on (default 20; dry run 3)")
    ap.add_argument("--jobs", default=None, help="--jobs values to time (default 1,2,4,8; dry run 1,2)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per run (default all; dry run 1)")
    ap.add_argument("--train-per-class", type=int, default=None,
                    help="generated CIFAR-shaped train images per class (default 1000; dry run 20)")
    ap.add_argument("--test", type=int, default=None, help="generated test images (default 10000; dry run 20)")
    ap.add_argument("--budget", type=float, default=270.0,
                    help="seconds after which the optional steps (the larger --jobs, grouping, deterministic) are skipped")
    a = ap.parse_args()
    dry = a.dry_run
    a.device = a.device or ("cpu" if dry else "cuda")
    a.epochs = a.epochs or (1 if dry else 300)
    a.mnist_epochs = a.mnist_epochs or (1 if dry else 60)
    a.seeds = a.seeds or (2 if dry else 5)
    a.big_seeds = a.big_seeds or (3 if dry else 20)
    a.jobs = [int(j) for j in (a.jobs or ("1,2" if dry else "1,2,4,8")).split(",")]
    a.threads = a.threads or (1 if dry else (os.cpu_count() or 1))
    ipcs = [1, 2] if dry else [1, 10, 50]
    grid_ipcs = [1, 2] if dry else [1, 10]
    train_per_class = a.train_per_class or (20 if dry else 1000)
    test = a.test or (20 if dry else 10000)
    a.out = os.path.abspath(a.out)
    a.bench = os.path.abspath(a.bench)
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    c = Check(a)
    t_start = now()
    results = {"mode": "dry-run" if dry else "full", "device": a.device, "bench": a.bench,
               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "settings": {"epochs": a.epochs, "mnist_epochs": a.mnist_epochs, "seeds": a.seeds,
                            "big_seeds": a.big_seeds, "jobs": a.jobs, "threads": a.threads, "ipcs": ipcs, "grid_ipcs": grid_ipcs,
                            "cifar_train_per_class": train_per_class, "cifar_test": test},
               "gpu_before": smi_query(), "steps": c.steps}

    c.step("env", lambda: {"env": json.loads(c.bench(["env", "--json"], 120).stdout)})
    help_text = c.bench(["--help"], 60).stdout
    has_group = "--group" in help_text
    has_det = "--deterministic" in help_text

    proto = os.path.join(work, "hard-label-e%d.toml" % a.epochs)
    write_protocol(os.path.join(ROOT, "protocols/hard-label.toml"), proto, a.epochs)
    mproto = os.path.join(work, "hard-label-e%d-mnist.toml" % a.mnist_epochs)
    write_protocol(os.path.join(ROOT, "protocols/hard-label.toml"), mproto, a.mnist_epochs)

    c.step("mnist_5k", lambda: c.run_grid(mproto, "mnist-5k", os.path.join(work, "mnist"), [10], 1, 1))
    cifar = os.path.join(work, "cifar-synth")
    c.step("make_cifar", lambda: make_cifar(cifar, train_per_class, test))
    c.step("per_cell", lambda: c.run_grid(proto, cifar, os.path.join(work, "per-cell"), ipcs, 1, 1))
    c.step("plain_per_cell", lambda: c.plain(ipcs, 1, a.epochs, test))
    # Grouping is the default on a GPU where the binary has it: the concurrency rows turn it off
    # so that they measure separate cells.
    off = ["--group", "off"] if has_group else []
    for j in a.jobs:
        c.step(f"grid_jobs{j}", lambda j=j: c.run_grid(proto, cifar, os.path.join(work, f"grid-j{j}"), grid_ipcs, a.seeds, j, off),
               optional=j != a.jobs[0])
    c.step("plain_grid", lambda: c.plain(grid_ipcs, a.seeds, a.epochs, test))
    # Issue 17: the large-image soft- and hard-label protocols with a torchvision teacher file.
    c.step("large_image", lambda: c.large_image())
    if has_group:
        g = a.seeds
        for j in (1, 2):
            c.step(f"grid_group{g}_jobs{j}", lambda j=j: c.run_grid(proto, cifar, os.path.join(work, f"grid-g{g}-j{j}"), grid_ipcs,
                                                                    a.seeds, j, ["--group", str(g)]), optional=True)
        # A larger grid (more cells per budget, as a leaderboard has: methods x seeds at one IPC):
        # the best concurrency against groups of all cells of a budget.
        b, jmax = a.big_seeds, max(a.jobs)
        c.step(f"grid{b}_jobs{jmax}", lambda: c.run_grid(proto, cifar, os.path.join(work, f"big-j{jmax}"), grid_ipcs, b, jmax, off),
               optional=True)
        c.step(f"grid{b}_group{b}_jobs2", lambda: c.run_grid(proto, cifar, os.path.join(work, f"big-g{b}-j2"), grid_ipcs, b, 2,
                                                              ["--group", str(b)]), optional=True)
    if has_det:
        c.step("deterministic", lambda: c.run_grid(proto, cifar, os.path.join(work, "det"), [ipcs[1]], 1, 1,
                                                   ["--deterministic"]), optional=True)
    results["gpu_after"] = smi_query()
    results["total_seconds"] = round(now() - t_start, 1)
    results["summary"] = summarise(results, ipcs, has_group, has_det)
    results["ok"] = not c.failed
    json.dump(results, open(os.path.join(a.out, "gpu-check-results.json"), "w"), indent=2)
    open(os.path.join(a.out, "gpu-check-results.md"), "w").write(markdown(results))
    print(f"[gpu-check] results: {os.path.join(a.out, 'gpu-check-results.md')} (and .json); "
          f"{'all steps ok' if not c.failed else 'SOME STEPS FAILED'}; {results['total_seconds']} s")
    sys.exit(0 if not c.failed else 1)


def summarise(r, ipcs, has_group, has_det):
    s, st = {}, r["steps"]
    ok = lambda k: st.get(k, {}).get("status") == "ok"
    if ok("per_cell") and ok("plain_per_cell"):
        rows = []
        for ipc in ipcs:
            ours = [x for x in st["per_cell"]["cells"] if x["ipc"] == ipc][0]
            theirs = [x for x in st["plain_per_cell"]["cells"] if x["ipc"] == ipc][0]
            rows.append({"ipc": ipc, "bench_train_seconds": ours["train_seconds"],
                         "bench_total_seconds": ours["total_seconds"],
                         "plain_train_seconds": round(theirs["train_seconds"], 3),
                         "ratio_train_bench_over_plain": round(ours["train_seconds"] / theirs["train_seconds"], 3)})
        s["per_cell"] = rows
    opts = {}
    for k, v in st.items():
        if (k.startswith("grid_") or k == "plain_grid") and v.get("status") == "ok":
            opts[k] = v["cells_per_hour"]
    if "plain_grid" in opts:
        s["ratio_to_plain_loop"] = {k: round(v / opts["plain_grid"], 2) for k, v in opts.items()}
    s["cells_per_hour"] = opts
    if has_det and ok("deterministic") and ok("per_cell"):
        d = st["deterministic"]["cells"][0]
        base = [x for x in st["per_cell"]["cells"] if x["ipc"] == ipcs[1]][0]
        s["deterministic_cost"] = {"ipc": ipcs[1], "train_seconds": d["train_seconds"],
                                   "baseline_train_seconds": base["train_seconds"],
                                   "ratio": round(d["train_seconds"] / base["train_seconds"], 3),
                                   "recorded_deterministic": d["deterministic"]}
    # Grouped members against the same cells trained separately (grid_jobs1): on a GPU the
    # kernels are not deterministic, so small differences are expected; on the CPU none.
    sep = st.get("grid_jobs1", {})
    for k, v in st.items():
        if k.startswith("grid_group") and v.get("status") == "ok" and sep.get("status") == "ok":
            a1 = {x["cell"]: x for x in sep["cells"]}
            d = [abs(x["top1"] - a1[x["cell"]]["top1"]) for x in v["cells"] if x["cell"] in a1]
            s.setdefault("grouped_vs_separate_top1", {})[k] = {
                "cells": len(d), "max_abs_diff": max(d) if d else None,
                "mean_abs_diff": round(sum(d) / len(d), 6) if d else None}
    peaks = [v["gpu"]["peak_memory_used_mib"] for v in st.values() if v.get("gpu")]
    if peaks:
        s["peak_memory_used_mib"] = max(p for p in peaks if p is not None)
    s["grouping_available"] = has_group
    s["deterministic_available"] = has_det
    return s


def markdown(r):
    L = [f"# GPU check ({r['mode']})", "",
         f"- device: `{r['device']}`; started {r['started_at']}; total {r['total_seconds']} s; all steps ok: {r['ok']}",
         f"- settings: `{json.dumps(r['settings'])}`"]
    env = r["steps"].get("env", {}).get("env")
    if env:
        L.append(f"- bench env: distillery {env.get('distillery')}, libtorch {env.get('libtorch')}, "
                 f"cuda_available {env.get('cuda_available')}, cuda_devices {env.get('cuda_devices')}, "
                 f"cudnn {env.get('cudnn_available')}, cpus {env.get('cpus')}")
    g = r.get("gpu_before")
    L.append(f"- GPU (nvidia-smi): {json.dumps(g) if g else 'none (no nvidia-smi)'}")
    L += ["", "## Steps", "", "| step | status | seconds | cells/hour | peak GPU MiB | mean util % |", "|---|---|---|---|---|---|"]
    for k, v in r["steps"].items():
        gp = v.get("gpu") or {}
        L.append(f"| {k} | {v['status']} | {v['seconds']} | {v.get('cells_per_hour', '')} | "
                 f"{gp.get('peak_memory_used_mib', '')} | {gp.get('mean_utilization_pct', '')} |")
    s = r["summary"]
    if "per_cell" in s:
        L += ["", "## Per cell: bench vs the plain PyTorch loop", "",
              "| IPC | bench train s | bench total s | plain train s | bench / plain |", "|---|---|---|---|---|"]
        for x in s["per_cell"]:
            L.append(f"| {x['ipc']} | {x['bench_train_seconds']:.3f} | {x['bench_total_seconds']:.3f} | "
                     f"{x['plain_train_seconds']:.3f} | {x['ratio_train_bench_over_plain']} |")
    L += ["", "## Throughput on the grid (cells/hour)", ""]
    for k, v in s.get("cells_per_hour", {}).items():
        rat = s.get("ratio_to_plain_loop", {}).get(k)
        L.append(f"- {k}: {v} cells/hour" + (f" ({rat}x the plain loop)" if rat is not None else ""))
    if "deterministic_cost" in s:
        d = s["deterministic_cost"]
        L.append(f"- --deterministic: IPC {d['ipc']} train {d['train_seconds']:.3f} s vs {d['baseline_train_seconds']:.3f} s "
                 f"(x{d['ratio']}); recorded deterministic = {d['recorded_deterministic']}")
    for k, v in s.get("grouped_vs_separate_top1", {}).items():
        L.append(f"- {k} vs grid_jobs1, top-1 of the same cells: max |diff| {v['max_abs_diff']}, mean {v['mean_abs_diff']} ({v['cells']} cells)")
    if "peak_memory_used_mib" in s:
        L.append(f"- peak GPU memory used (any step): {s['peak_memory_used_mib']} MiB")
    li = r["steps"].get("large_image", {})
    if li.get("status") == "ok":
        L += ["", "## Large-image protocols (random, one seed, generated ImageFolder, torchvision teacher)", "",
              f"- {li['classes']} classes, {li['train_per_class']} train / {li['test_per_class']} test images per class, "
              f"{li['image_side_on_disk']} px JPEGs at {li['resolution']} px; teacher trained here: {json.dumps(li['teacher'])}", "",
              "| protocol | top-1 | epochs | steps | set images | train s | cell total s | student images/s |",
              "|---|---|---|---|---|---|---|---|"]
        for k, v in li["runs"].items():
            L.append(f"| {v['protocol']} | {v['top1']} | {v['epochs']} | {v['steps']} | {v['set_images']} | "
                     f"{v['train_seconds']} | {v['cell_total_seconds']} | {v['student_images_per_second']} |")
    fails = {k: v["error"] for k, v in r["steps"].items() if v["status"] not in ("ok", "skipped")}
    if fails:
        L += ["", "## Failed steps", ""] + [f"- {k}: {e}" for k, e in fails.items()]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
