"""Model speed benchmark (``python -m mmcse bench``): eval forward and training step of a 64-clip batch,
peak memory, bf16 autocast accuracy, and an end-to-end "clips in memory -> predictions -> the 10 AVVP
numbers" timing. Figures are medians after warm-up; ratios are against the authors' release timed on 2 cores
of an AMD EPYC (Zen 5), float32, batch 64, CLAP/CLIP inputs, so they mean something on that CPU only.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from mmcse.config import ModelConfig, feature_preset
from mmcse.models._fast.allocator import apply_process_tuning, cpu_allocator_tuned
from mmcse.utils.device import resolve_device

# The authors' MM-CSE code on 2 cores of an AMD EPYC (Zen 5), float32, batch 64, CLAP/CLIP inputs
AUTHORS_EVAL_S = (2.2, 2.6)  # eval forward of 64 clips
AUTHORS_TRAIN_S = 5.0  # forward + backward + AdamW step



def make_batch(cfg: ModelConfig, batch: int, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """Random features shaped by ``cfg`` plus random weak labels and segment pseudo labels."""
    g = torch.Generator().manual_seed(seed)
    C, T = cfg.num_classes, cfg.num_segments
    out = {
        "audio": torch.randn(batch, cfg.audio_len, cfg.audio_dim, generator=g),
        "visual": torch.randn(batch, cfg.visual_len, cfg.visual_dim, generator=g),
        "visual_st": torch.randn(batch, T, cfg.visual_st_dim, generator=g),
        "pseudo_audio": (torch.rand(batch, T, C, generator=g) < 0.08).float(),
        "pseudo_visual": (torch.rand(batch, T, C, generator=g) < 0.08).float(),
    }
    out["label"] = torch.maximum(out["pseudo_audio"].amax(1), out["pseudo_visual"].amax(1))
    return {k: v.to(device) for k, v in out.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, iters: int, warmup: int, device: torch.device) -> list[float]:
    """Wall seconds per call; the process CPU seconds of each call are appended to ``_timed.cpu``."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times, _timed.cpu = [], []
    for _ in range(iters):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
        _timed.cpu.append(time.process_time() - c0)
    return times


def time_eval(model, batch: dict, iters: int, warmup: int, dtype: torch.dtype | None = None) -> list[float]:
    device = batch["audio"].device
    model.eval()

    def step():
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            model(batch["audio"], batch["visual"], batch["visual_st"])

    return _timed(step, iters, warmup, device)


def time_train(model, cfg: ModelConfig, batch: dict, iters: int, warmup: int) -> list[float]:
    """One training step as released: forward (with the auxiliary terms), the paper's loss, backward,
    grad-norm clip 1.0, AdamW(1e-4, wd 1e-3, betas (0.5, 0.999)), built as training builds it."""
    from mmcse.config import TrainConfig
    from mmcse.training.losses import compute_loss_terms
    from mmcse.training.optim import build_optimizer

    device = batch["audio"].device
    model.train()
    opt = build_optimizer(
        model, TrainConfig(optimizer="adamw", lr=1e-4, weight_decay=1e-3, betas=(0.5, 0.999))
    )

    def step():
        out = model(batch["audio"], batch["visual"], batch["visual_st"])
        loss, _ = compute_loss_terms(out, batch, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return _timed(step, iters, warmup, device)


def bf16_difference(model, batch: dict) -> dict[str, float]:
    """Max abs difference of the outputs under bf16 autocast vs float32 (eval)."""
    device = batch["audio"].device
    model.eval()
    args = (batch["audio"], batch["visual"], batch["visual_st"])
    with torch.inference_mode():
        ref = model(*args)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model(*args)
    diff = {
        name: float((getattr(low, name).float() - getattr(ref, name)).abs().max())
        for name in ("video_prob", "audio_prob", "visual_prob", "segment_prob")
    }
    diff.update({f"attn_{k}": float((low.attn[k].float() - ref.attn[k]).abs().max()) for k in ref.attn})
    return diff


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB (process peak)


def end_to_end(model, cfg: ModelConfig, device: torch.device, n_clips: int = 1200, batch: int = 64) -> dict:
    """Random features and random dense GT for ``n_clips`` clips in memory -> model -> binary predictions
    (mmcse gating) -> the 10 AVVP numbers. Returns the timings and the scores."""
    from mmcse.metrics import avvp_scores, predict

    g = torch.Generator().manual_seed(1)
    feats = make_batch(cfg, n_clips, torch.device("cpu"), seed=1)
    gt_a = (torch.rand(n_clips, 10, cfg.num_classes, generator=g) < 0.05).to(torch.uint8).numpy()
    gt_v = (torch.rand(n_clips, 10, cfg.num_classes, generator=g) < 0.05).to(torch.uint8).numpy()
    model.eval()
    t0 = time.perf_counter()
    outs = []
    with torch.inference_mode():
        for i in range(0, n_clips, batch):
            o = model(*(feats[k][i : i + batch].to(device) for k in ("audio", "visual", "visual_st")))
            outs.append([o.segment_prob, o.video_prob, o.audio_prob, o.visual_prob])
    seg, vid, aud, vis = (torch.cat(x).cpu() for x in zip(*outs))
    t1 = time.perf_counter()
    pred_a, pred_v = predict(seg, vid, aud, vis, gating="mmcse")
    t2 = time.perf_counter()
    scores = avvp_scores(pred_a, pred_v, gt_a, gt_v)
    t3 = time.perf_counter()
    return {"clips": n_clips, "model_s": t1 - t0, "predict_s": t2 - t1, "scores_s": t3 - t2, "total_s": t3 - t0,
            "scores": scores}  # fmt: skip


@dataclass
class BenchResult:
    device: str
    threads: int
    features: str
    batch: int
    params: int
    eval_s: list[float] = field(default_factory=list)
    eval_cpu_s: list[float] = field(default_factory=list)  # process CPU time (all threads)
    train_s: list[float] = field(default_factory=list)
    train_cpu_s: list[float] = field(default_factory=list)
    bf16_eval_s: list[float] = field(default_factory=list)
    bf16_diff: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float = 0.0
    e2e: dict[str, Any] | None = None
    allocator_tuned: bool = False
    load: str = ""


def run_benchmark(
    features: str = "valor",
    batch: int = 64,
    iters: int = 10,
    warmup: int = 2,
    device: str = "auto",
    bf16: bool = False,
    train: bool = True,
    e2e: bool = False,
    model=None,
    cfg: ModelConfig | None = None,
) -> BenchResult:
    from mmcse.models import create_model

    apply_process_tuning()  # what every training / inference entry point does (MMCSE_TUNE_ALLOCATOR=0: off)
    dev = resolve_device(device)
    if model is None:
        cfg = cfg or ModelConfig.for_features(feature_preset(features))
        torch.manual_seed(0)
        model = create_model(cfg)
    model = model.to(dev)
    cfg = cfg or model.cfg
    data = make_batch(cfg, batch, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    res = BenchResult(
        device=str(dev) if dev.type == "cpu" else f"{dev} ({torch.cuda.get_device_name(dev)})",
        threads=torch.get_num_threads(),
        features=features,
        batch=batch,
        params=sum(p.numel() for p in model.parameters()),
        allocator_tuned=cpu_allocator_tuned(),
    )
    res.eval_s = time_eval(model, data, iters, warmup)
    res.eval_cpu_s = list(_timed.cpu)
    if train:
        res.train_s = time_train(model, cfg, data, max(3, iters // 2), warmup)
        res.train_cpu_s = list(_timed.cpu)
    if bf16:
        from mmcse.utils.device import cpu_has_native_bf16

        bf16_ok = dev.type == "cuda" or cpu_has_native_bf16()  # emulated bf16 would take minutes
        if not bf16_ok:
            print("warning: bf16 skipped: this CPU has no native bfloat16 (no avx512_bf16 / amx_bf16), so torch "
                  "would emulate it many times slower than float32", file=sys.stderr)  # fmt: skip
        if bf16_ok:
            res.bf16_eval_s = time_eval(model, data, iters, warmup, dtype=torch.bfloat16)
            res.bf16_diff = bf16_difference(model, data)
    res.peak_memory_mb = peak_memory_mb(dev)
    if e2e:
        res.e2e = end_to_end(model, cfg, dev, batch=batch)
    try:
        with open("/proc/loadavg") as f:
            res.load = " ".join(f.read().split()[:3])
    except OSError:
        res.load = "n/a"
    return res


def _ms(xs: list[float]) -> str:
    med = statistics.median(xs)
    return f"{med * 1e3:8.1f} ms  (median of {len(xs)}; min {min(xs) * 1e3:.1f}, max {max(xs) * 1e3:.1f})"


def format_report(r: BenchResult) -> str:
    lines = [
        f"MM-CSE benchmark: features {r.features}, batch {r.batch}, float32, device {r.device}, "
        f"torch threads {r.threads}, torch {torch.__version__}",
        f"parameters          {r.params:,} ({r.params / 1e6:.2f} M)",
        f"load average        {r.load} (1/5/15 min; a busy machine makes timings noisy)",
        f"allocator tuned     {r.allocator_tuned} (glibc: keep freed memory, no per-tensor mmap; MMCSE_TUNE_ALLOCATOR=0: defaults)",
    ]
    ev = statistics.median(r.eval_s)
    lines.append(f"eval forward        {_ms(r.eval_s)}")
    lines.append(f"  process CPU time  {_ms(r.eval_cpu_s)} (all threads; steadier than wall time under load)")
    if r.device == "cpu" and r.batch == 64 and r.features == "valor":
        lo, hi = AUTHORS_EVAL_S
        lines.append(
            f"  vs authors' code  {lo / ev:.2f}x - {hi / ev:.2f}x (their {lo}-{hi} s / our wall time; theirs timed on a 2-core AMD EPYC)"
        )
    if r.train_s:
        tr = statistics.median(r.train_s)
        lines.append(f"train step          {_ms(r.train_s)}")
        lines.append(f"  process CPU time  {_ms(r.train_cpu_s)}")
        if r.device == "cpu" and r.batch == 64 and r.features == "valor":
            lines.append(
                f"  vs authors' code  {AUTHORS_TRAIN_S / tr:.2f}x (their ~{AUTHORS_TRAIN_S} s / our wall time; theirs timed on a 2-core AMD EPYC)"
            )
    if r.bf16_eval_s:
        lines.append(f"eval forward bf16   {_ms(r.bf16_eval_s)} (autocast)")
        worst = max(r.bf16_diff.values()) if r.bf16_diff else float("nan")
        lines.append(f"  bf16 vs fp32      max abs diff {worst:.2e} over outputs:")
        lines += [f"    {k:14s} {v:.2e}" for k, v in r.bf16_diff.items()]
    lines.append(
        f"peak memory         {r.peak_memory_mb:,.0f} MiB ({'process max RSS' if 'cpu' in r.device else 'max allocated'})"
    )
    if r.e2e:
        e = r.e2e
        lines.append(
            f"end to end          {e['clips']} clips -> predictions -> 10 numbers: {e['total_s']:.2f} s "
            f"(model {e['model_s']:.2f} s, predict {e['predict_s']:.3f} s, scores {e['scores_s']:.3f} s)"
        )
        lines.append("  " + " ".join(f"{k}={v:.2f}" for k, v in e["scores"].items()))
    return "\n".join(lines)
