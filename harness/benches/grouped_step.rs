//! Benchmark: is one grouped model of G students faster than G separate students? (Rust, tch.)
//!
//! `cargo bench -p distillery --bench grouped_step` (after ./setup.sh). Environment: `GROUP`
//! (G, default 3), `BATCH` (images per student per step, default 100 = IPC 10), `STEPS`
//! (default 30), `THREADS` (default 2), `DEVICE` (default cpu; `cuda` on a GPU).
//! Separate: G ConvNet-3 students (width 128, instance norm, 32x32x3, the harness's
//! `nn::build`), one SGD step each per round. Grouped: the same G students as ONE network,
//! `nn::grouped::GroupedConvNet` (what `bench --group` trains: grouped convolutions over G
//! stacked channel blocks, instance norm per channel, a batched matmul classifier); one SGD
//! step per round for all G. Prints
//! ms per round for both and the ratio grouped / separate (below 1: grouping pays).
//! Timing only, no result is compared here.

use distillery_api::nn;
use distillery_api::spec::{Arch, ModelSpec};
use std::time::Instant;
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

fn env_or(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let (g, batch, steps, threads) = (
        env_or("GROUP", 3) as i64,
        env_or("BATCH", 100) as i64,
        env_or("STEPS", 30),
        env_or("THREADS", 2),
    );
    let device = match std::env::var("DEVICE").as_deref() {
        Ok("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    tch::set_num_threads(threads as i32);
    tch::manual_seed(0);
    let spec = ModelSpec {
        arch: Arch::Convnet,
        width: 128,
        depth: 3,
    };
    let x = Tensor::randn([g, batch, 3, 32, 32], (Kind::Float, device));
    let y = Tensor::randint(10, [g, batch], (Kind::Int64, device));
    let sync = || {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let sgd = tch::nn::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        wd: 5e-4,
        nesterov: false,
    };
    // Separate students.
    let sep: Vec<_> = (0..g)
        .map(|_| {
            let vs = VarStore::new(device);
            let net = nn::build(&vs.root(), &spec, [3, 32, 32], 10);
            let opt = sgd.build(&vs, 0.01).unwrap();
            (vs, net, opt)
        })
        .collect();
    let mut sep = sep;
    let round_sep = |sep: &mut Vec<(VarStore, Box<dyn nn::Network>, tch::nn::Optimizer)>| {
        for (i, (_, net, opt)) in sep.iter_mut().enumerate() {
            let l = net
                .forward_t(&x.get(i as i64), true)
                .cross_entropy_for_logits(&y.get(i as i64));
            opt.backward_step(&l);
        }
    };
    // Grouped students: the same members as one grouped model.
    let members: Vec<&VarStore> = sep.iter().map(|(vs, _, _)| vs).collect();
    let gvs = VarStore::new(device);
    let grouped = nn::grouped::GroupedConvNet::from_members(&gvs, &members, &spec, 3);
    let mut gopt = sgd.build(&gvs, 0.01).unwrap();
    let xg = x.permute([1, 0, 2, 3, 4]).flatten(1, 2); // [B, G*C, H, W]
    let mut round_grouped = || {
        let logits = grouped.forward(&xg); // [G, B, 10]
        let l = logits.flatten(0, 1).cross_entropy_loss::<Tensor>(
            &y.flatten(0, 1),
            None,
            tch::Reduction::Mean,
            -100,
            0.0,
        ) * grouped.members() as f64; // the sum of the G members' mean losses
        gopt.backward_step(&l);
    };
    // Warm-up, then alternate blocks so load changes hit both sides alike.
    round_sep(&mut sep);
    round_grouped();
    sync();
    let (mut t_sep, mut t_grp) = (0.0, 0.0);
    for _ in 0..steps {
        let t = Instant::now();
        round_sep(&mut sep);
        sync();
        t_sep += t.elapsed().as_secs_f64();
        let t = Instant::now();
        round_grouped();
        sync();
        t_grp += t.elapsed().as_secs_f64();
    }
    let n = steps as f64;
    println!(
        "G={g} students, {batch} images each, ConvNet-3 w128 32x32x3, {threads} thread(s), {device:?}, {steps} rounds"
    );
    println!("separate: {:.1} ms per round (G steps)", 1e3 * t_sep / n);
    println!("grouped:  {:.1} ms per round (1 step)", 1e3 * t_grp / n);
    println!("ratio grouped / separate: {:.3}", t_grp / t_sep);
}
