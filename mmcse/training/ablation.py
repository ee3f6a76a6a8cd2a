"""Ablation sweeps: one normal run folder per (row, seed), resumable, and the table over seeds.

    <out>/sweep.json               what the sweep is (rows, seeds, features, preset, every run's configs)
    <out>/<row>/seed<S>/           a normal run folder (runs.py), trained with TrainConfig.seed = S,
                                   plus test_scores.json: the 10 numbers of best.safetensors on test
    <out>/table.csv, table.md      per row: mean and std over seeds of the 10 test numbers, the delta of
                                   the mean to the reference row, the number of seeds

    runs = plan_sweep(out, {"full": (model_cfg, train_cfg), "no-secm": (...)}, seeds=[87, 88])
    check_sweep_record(out, record)          refuses a changed sweep, except added rows or seeds
    run_sweep(runs, launch, evaluate_run)    trains what is missing (resuming interrupted runs), scores, tables

A run is finished when its training state records the last epoch; finished runs are never retrained, an
interrupted one continues with train's resume, and one that cannot be resumed (interrupted while an
epoch was being saved) starts anew. How a run is trained is the caller's ``launch`` (in this process,
or a torchrun subprocess); this module only decides what to do and checks what the run folder then holds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

from mmcse.checkpoint import read_checkpoint_meta
from mmcse.config import ModelConfig, TrainConfig
from mmcse.metrics import SCORE_KEYS
from mmcse.training import runs
from mmcse.utils.files import atomic_write_text

SWEEP_FILE = "sweep.json"
TEST_SCORES_FILE = "test_scores.json"
TABLE_CSV, TABLE_MD = "table.csv", "table.md"
SWEEP_VERSION = 1
# settings that define a sweep: a resume must repeat them (rows and seeds may grow)
FIXED_FIELDS = ("features", "preset", "data", "nproc_per_node", "eval")
SCORE_LABELS = {
    "seg_a": "Seg A", "seg_v": "Seg V", "seg_av": "Seg AV", "seg_type": "Seg Type@AV", "seg_event": "Seg Event@AV",
    "evt_a": "Evt A", "evt_v": "Evt V", "evt_av": "Evt AV", "evt_type": "Evt Type@AV", "evt_event": "Evt Event@AV",
}  # fmt: skip


@dataclass(frozen=True)
class SweepRun:
    """One (row, seed) of a sweep and the configs it trains with."""

    row: str
    seed: int
    run_dir: Path
    model_cfg: ModelConfig
    train_cfg: TrainConfig  # its seed is ``seed``

    @property
    def label(self) -> str:
        return f"{self.row} seed {self.seed}"


def plan_sweep(
    out: str | Path, row_configs: dict[str, tuple[ModelConfig, TrainConfig]], seeds: list[int]
) -> list[SweepRun]:
    """Every (row, seed) in training order: seed by seed, so that an interrupted sweep already has one
    seed of every row. Run folders are ``<out>/<row>/seed<S>``."""
    if not row_configs or not seeds:
        raise ValueError("a sweep needs at least one row and one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} repeat a seed; give distinct seeds")
    out = Path(out)
    return [
        SweepRun(row, seed, out / row / f"seed{seed}", model_cfg, dataclasses.replace(train_cfg, seed=seed))
        for seed in seeds
        for row, (model_cfg, train_cfg) in row_configs.items()
    ]


# ----------------------------------------------------------------------------------------- sweep.json


def sweep_record(sweep_runs: list[SweepRun], **settings: Any) -> dict[str, Any]:
    """What sweep.json stores: rows, seeds, each row's configs (seed left out) and ``settings`` (features,
    preset, data, nproc_per_node, eval: the FIXED_FIELDS)."""
    rows: dict[str, Any] = {}
    for run in sweep_runs:
        train_cfg = run.train_cfg.to_dict()
        train_cfg.pop("seed")
        rows.setdefault(run.row, {"model": run.model_cfg.to_dict(), "train": train_cfg})
    seeds = list(dict.fromkeys(run.seed for run in sweep_runs))
    missing = [k for k in FIXED_FIELDS if k not in settings]
    if missing:
        raise ValueError(f"sweep_record needs the settings {missing}")
    record = {"version": SWEEP_VERSION, "rows": list(rows), "seeds": seeds, "row_configs": rows}
    return json.loads(json.dumps({**record, **settings}))  # JSON types, as read back from the file


def check_sweep_record(out: str | Path, record: dict[str, Any]) -> None:
    """Refuse to continue ``<out>`` with another sweep; adding rows or seeds is allowed. Writes the record."""
    path = Path(out) / SWEEP_FILE
    if path.is_file():
        old = runs.read_json(path)
        problem = _sweep_difference(old, record)
        if problem:
            raise ValueError(
                f"{path} was written for another sweep ({problem}); rows and seeds may only be added to a "
                "sweep: repeat its settings, or choose another --out"
            )
    elif Path(out).is_dir() and any(Path(out).iterdir()):
        raise ValueError(f"{out} is not empty and holds no {SWEEP_FILE}; choose an empty or new --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.write_json(path, {**record, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _sweep_difference(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """What makes ``new`` another sweep than ``old`` (None when it only adds rows or seeds)."""
    for key in FIXED_FIELDS:
        if old.get(key) != new.get(key):
            where, before, now = _first_difference(old.get(key), new.get(key), key)
            return f"{where} was {_short(before)}, now {_short(now)}"
    dropped_rows = [r for r in old["rows"] if r not in new["rows"]]
    if dropped_rows:
        return f"rows {', '.join(dropped_rows)} are left out now"
    dropped_seeds = [s for s in old["seeds"] if s not in new["seeds"]]
    if dropped_seeds:
        return f"seeds {', '.join(map(str, dropped_seeds))} are left out now"
    for row in old["rows"]:
        for part in ("model", "train"):
            before, now = old["row_configs"][row][part], new["row_configs"][row][part]
            if before != now:
                field = next(k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k))
                return f"row {row!r}: {part} config {field} was {before.get(field)!r}, now {now.get(field)!r}"
    return None


def _first_difference(before: Any, now: Any, where: str) -> tuple[str, Any, Any]:
    """The dotted path of the first leaf where two JSON values differ, and the two values there."""
    if isinstance(before, dict) and isinstance(now, dict):
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                return _first_difference(before.get(key), now.get(key), f"{where}.{key}")
    return where, before, now


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------------------- run folders


def run_status(run: SweepRun) -> tuple[str, int]:
    """("new" | "resume" | "finished" | "restart", epochs done) of a run folder.

    "restart": the folder holds a run of this config that cannot be resumed (interrupted while an epoch
    was being saved: metrics.csv without last.safetensors, or a checkpoint and a training state of
    different epochs); it is cleared and trained anew. A folder with a run of another config is an error."""
    config_path = run.run_dir / runs.CONFIG_FILE
    has_run = any((run.run_dir / f).exists() for f in (runs.METRICS_FILE, runs.LAST_FILE, runs.STATE_FILE))
    if not config_path.is_file():
        if has_run:
            raise ValueError(f"{run.run_dir} holds run files but no {runs.CONFIG_FILE}; delete the folder")
        return "new", 0
    saved = runs.read_json(config_path)
    if _normalised(saved, "model", ModelConfig) != run.model_cfg.to_dict() or _normalised(
        saved, "train", TrainConfig
    ) != run.train_cfg.to_dict():
        raise ValueError(
            f"{run.run_dir} holds a run of another config than row {run.row!r} seed {run.seed} of this sweep; "
            "delete that folder or choose another --out"
        )
    epoch = _saved_epoch(run.run_dir)
    if epoch is None:
        return ("restart" if has_run else "new"), 0
    if epoch >= run.train_cfg.epochs and (run.run_dir / runs.BEST_FILE).is_file():
        return "finished", epoch
    return "resume", epoch


def _normalised(saved: dict, key: str, cls) -> dict | None:
    """A saved config as its dataclass writes it now (fields added since then get their defaults)."""
    try:
        return cls.from_dict(saved[key]).to_dict()
    except (KeyError, TypeError, ValueError):
        return None


def _saved_epoch(run_dir: Path) -> int | None:
    """The epoch both last.safetensors and the training state hold, or None (missing, unreadable, or
    from different epochs: interrupted while saving)."""
    last, state = run_dir / runs.LAST_FILE, run_dir / runs.STATE_FILE
    if not (last.is_file() and state.is_file()):
        return None
    try:
        last_epoch = (read_checkpoint_meta(last).get("extra") or {}).get("epoch")
        with safe_open(str(state), framework="pt") as f:
            progress = json.loads((f.metadata() or {})[runs.STATE_META_KEY])["progress"]
    except Exception:  # a truncated or foreign file: the run cannot be resumed
        return None
    return int(last_epoch) if last_epoch is not None and int(last_epoch) == int(progress["epoch"]) else None


# ----------------------------------------------------------------------------------------- the sweep

# launch(run, resume) trains (or continues) the run into run.run_dir
Launch = Callable[[SweepRun, bool], None]
# evaluate_run(run) -> the 10 test numbers and their setting (see cached_test_scores)
EvaluateRun = Callable[[SweepRun], dict[str, Any]]


def run_sweep(
    sweep_runs: list[SweepRun],
    launch: Launch,
    evaluate_run: EvaluateRun,
    out: str | Path,
    reference: str | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train what is missing, score every run on test, and write the tables after each run.

    One progress line before and one after each run: ``[3/18] no-secm seed 88: ...``. Returns the
    per-run results (row, seed, status, seconds, scores). An exception (or Ctrl-C) leaves every finished
    run and the last saved epoch of the current one; calling again with the same runs continues there.
    """
    results = []
    rows = list(dict.fromkeys(run.row for run in sweep_runs))
    for i, run in enumerate(sweep_runs, start=1):
        prefix = f"[{i}/{len(sweep_runs)}] {run.label}"
        status, done = run_status(run)
        t0 = time.perf_counter()
        if status != "finished":
            log(f"{prefix}: {_what_happens(status, done, run.train_cfg.epochs)} ...")
            if status == "restart":
                shutil.rmtree(run.run_dir)
            launch(run, status == "resume")
            status_after, done_after = run_status(run)
            if status_after != "finished":
                raise RuntimeError(
                    f"{run.run_dir}: training returned after epoch {done_after} of {run.train_cfg.epochs}; "
                    "run the sweep again to continue"
                )
        scores = evaluate_run(run)
        seconds = time.perf_counter() - t0
        results.append({"row": run.row, "seed": run.seed, "status": status, "seconds": seconds, **scores})
        log(
            f"{prefix}: {_outcome(status, seconds, run)}; test Seg Type@AV {scores['scores']['seg_type']:.2f}"
        )
        write_tables(out, summarize_sweep(sweep_runs, rows), reference)
    return results


def _what_happens(status: str, done: int, epochs: int) -> str:
    return {
        "new": f"training {epochs} epochs",
        "resume": f"resuming after epoch {done} of {epochs}",
        "restart": f"not resumable (interrupted while saving an epoch): training {epochs} epochs anew",
    }[status]


def _outcome(status: str, seconds: float, run: SweepRun) -> str:
    best = _best_val(run.run_dir)
    val = f"best val Seg Type@AV {best[1]:.2f} (epoch {best[0]})" if best else "no val numbers"
    if status == "finished":
        return f"finished earlier ({run.train_cfg.epochs} epochs, not retrained), {val}"
    return f"done in {seconds:.0f} s, {val}"


def _best_val(run_dir: Path) -> tuple[int, float] | None:
    rows = runs.read_metrics(run_dir / runs.METRICS_FILE)
    scored = [(int(r["epoch"]), float(r["val_seg_type"])) for r in rows if r.get("val_seg_type")]
    return max(scored, key=lambda x: x[1]) if scored else None  # first epoch of the maximum, as the loop


def cached_test_scores(
    run: SweepRun, evaluate_checkpoint: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """The run's best.safetensors scored on test, cached in <run>/test_scores.json (re-scored when the
    checkpoint file changed). ``evaluate_checkpoint(path)`` -> an ``evaluate_report`` dict."""
    best = run.run_dir / runs.BEST_FILE
    stat = best.stat()
    stamp = {"checkpoint": runs.BEST_FILE, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    path = run.run_dir / TEST_SCORES_FILE
    if path.is_file():
        cached = runs.read_json(path)
        if all(cached.get(k) == v for k, v in stamp.items()):
            return cached
    report = evaluate_checkpoint(best)
    epoch = (read_checkpoint_meta(best).get("extra") or {}).get("epoch")
    record = {
        **stamp, "epoch": epoch, "split": report["split"], "n_clips": report["n_clips"],
        "gating": report["gating"], "audio_gt": report["audio_gt"], "scores": report["scores"],
    }  # fmt: skip
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return record


# ----------------------------------------------------------------------------------------- the table


def summarize_sweep(sweep_runs: list[SweepRun], rows: list[str] | None = None) -> list[dict[str, Any]]:
    """Per row (in ``rows`` order): the seeds with test scores, and mean / std (n - 1; NaN for one seed)
    of each of the 10 numbers. Runs without test_scores.json yet are left out (n counts the others)."""
    import pandas as pd

    rows = rows or list(dict.fromkeys(run.row for run in sweep_runs))
    records = []  # one per scored run: row, seed, gating, n_clips and the 10 numbers
    for run in sweep_runs:
        path = run.run_dir / TEST_SCORES_FILE
        if run.row in rows and path.is_file():
            record = runs.read_json(path)
            records.append({"row": run.row, "seed": run.seed, "gating": record["gating"],
                            "n_clips": record["n_clips"], **{k: float(record["scores"][k]) for k in SCORE_KEYS}})  # fmt: skip
    if not records:
        return []
    scored = pd.DataFrame(records)
    by_row = scored.groupby("row", sort=False)
    means, stds = by_row[list(SCORE_KEYS)].mean(), by_row[list(SCORE_KEYS)].std(ddof=1)  # (rows, 10) each
    out = []
    for row in (r for r in rows if r in means.index):
        first = scored[scored["row"] == row]
        entry: dict[str, Any] = {"row": row, "n_seeds": len(first), "seeds": first["seed"].tolist(),
                                 "gating": first["gating"].iloc[0], "n_clips": int(first["n_clips"].iloc[0])}  # fmt: skip
        for key in SCORE_KEYS:
            entry[f"{key}_mean"], entry[f"{key}_std"] = float(means.at[row, key]), float(stds.at[row, key])
        out.append(entry)
    return out


def add_deltas(summary: list[dict[str, Any]], reference: str | None = None) -> str | None:
    """Add ``<key>_delta`` = mean - mean of the reference row ("full" when present, else the first row) to
    each row; return the reference row's name (None for an empty summary)."""
    names = [entry["row"] for entry in summary]
    if not names:
        return None
    ref_name = reference if reference in names else ("full" if "full" in names else names[0])
    ref = summary[names.index(ref_name)]
    for entry in summary:
        for key in SCORE_KEYS:
            entry[f"{key}_delta"] = entry[f"{key}_mean"] - ref[f"{key}_mean"]
    return ref_name


def write_tables(out: str | Path, summary: list[dict[str, Any]], reference: str | None = None) -> None:
    """table.csv (full precision, "nan" where undefined) and table.md (two decimals) from
    ``summarize_sweep``'s rows."""
    import pandas as pd

    out = Path(out)
    ref_name = add_deltas(summary, reference)
    columns = ["row", "n_seeds", "seeds", "gating", "n_clips"]
    columns += [f"{k}_{part}" for k in SCORE_KEYS for part in ("mean", "std", "delta")]
    table = pd.DataFrame(summary, columns=columns)
    table["seeds"] = [" ".join(map(str, seeds)) for seeds in table["seeds"]]
    atomic_write_text(out / TABLE_CSV, table.to_csv(index=False, na_rep="nan", lineterminator="\n"))
    atomic_write_text(out / TABLE_MD, format_markdown(summary, ref_name))


def format_markdown(summary: list[dict[str, Any]], reference: str | None) -> str:
    """Two markdown tables: mean ± std over seeds, then the delta of each mean to the reference row."""
    if not summary:
        return "no run has test scores yet\n"
    head = "| row | n | " + " | ".join(SCORE_LABELS[k] for k in SCORE_KEYS) + " |"
    rule = "|---|---|" + "---|" * len(SCORE_KEYS)
    n_clips = summary[0]["n_clips"]
    text = [f"Test split ({n_clips} clips), best-val checkpoint of each run; mean ± std over seeds (n seeds).", "",
            head, rule]  # fmt: skip
    for e in summary:
        cells = [_mean_std(e[f"{k}_mean"], e[f"{k}_std"]) for k in SCORE_KEYS]
        text.append(f"| {e['row']} | {e['n_seeds']} | " + " | ".join(cells) + " |")
    gatings: dict[str, list[str]] = {}
    for e in summary:
        gatings.setdefault(e["gating"], []).append(e["row"])
    text += ["", "Gating: " + "; ".join(f"{g} ({', '.join(r)})" for g, r in gatings.items()) + "."]
    text += ["", f"Delta of the mean to `{reference}`:", "", head, rule]
    for e in summary:
        cells = [f"{e[f'{k}_delta']:+.2f}" for k in SCORE_KEYS]
        text.append(f"| {e['row']} | {e['n_seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(text) + "\n"


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"
