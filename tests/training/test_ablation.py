"""`python -m mmcse ablate`: a tiny 2 rows x 2 seeds sweep end to end, interrupted and resumed (finished runs
untouched, the interrupted one resumed), the table checked against the run folders; the sweep guards and
the table arithmetic on hand-made folders."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_loop import TINY  # the loop tests' tiny feature spec (same folder)

from mmcse.cli import main as cli_main
from mmcse.config import ModelConfig, TrainConfig
from mmcse.data.paths import DataPaths
from mmcse.data.synthetic import write_synthetic_dataset
from mmcse.metrics import SCORE_KEYS
from mmcse.training import ablation, runs
from mmcse.training.evaluation import evaluate

TINY_RECIPE = ["--preset", "small", "--epochs", "2", "--batch-size", "16", "--lr", "3e-3", "--d-model", "16",
               "--d-class", "8", "--layers", "1", "--heads", "2", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_sweep_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate_data")
    write_synthetic_dataset(root / "data", TINY, n_train=32, n_val=8, n_test=8, seed=4)
    spec_file = root / "tiny.json"
    spec_file.write_text(json.dumps(TINY.to_dict()))  # --features as a spec file
    return root / "data", spec_file


def _ablate(data_root, spec_file, out, *extra) -> int:
    return cli_main(["ablate", "--data-root", str(data_root), "--features", str(spec_file), "--out", str(out),
                     *TINY_RECIPE, *extra])  # fmt: skip


class TrainSpy:
    """Stands in for mmcse.training.train: records each call; can interrupt call ``stop_in`` after its
    first epoch, as Ctrl-C after that epoch was saved would."""

    def __init__(self, real, stop_in: int | None = None):
        self.real, self.stop_in, self.calls = real, stop_in, []

    def __call__(self, run_dir, data, model_cfg, train_cfg, **kw):
        self.calls.append((Path(run_dir).relative_to(Path(run_dir).parents[1]).as_posix(), kw["resume"]))
        if len(self.calls) == self.stop_in:
            self.real(run_dir, data, model_cfg, train_cfg, **kw, stop_after_epochs=1)
            raise KeyboardInterrupt
        return self.real(run_dir, data, model_cfg, train_cfg, **kw)


def _stamps(run_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}


@pytest.mark.slow
def test_a_sweep_is_interrupted_resumed_and_tabled(tiny_sweep_data, tmp_path, monkeypatch, capsys):
    data_root, spec_file = tiny_sweep_data
    out = tmp_path / "sweep"
    real_train = __import__("mmcse.training.loop", fromlist=["train"]).train
    spy = TrainSpy(real_train, stop_in=2)
    monkeypatch.setattr("mmcse.training.loop.train", spy)
    assert _ablate(data_root, spec_file, out, "--rows", "full,no-secm", "--seeds", "2") == 130
    text = capsys.readouterr()
    assert "[1/4] full seed 87: training 2 epochs ..." in text.out
    assert "[1/4] full seed 87: done in" in text.out and "interrupted: run the same command again" in text.err
    assert spy.calls == [("full/seed87", False), ("no-secm/seed87", False)]
    assert [int(r["epoch"]) for r in runs.read_metrics(out / "no-secm" / "seed87" / "metrics.csv")] == [1]
    finished = _stamps(out / "full" / "seed87")

    spy = TrainSpy(real_train)
    monkeypatch.setattr("mmcse.training.loop.train", spy)
    assert _ablate(data_root, spec_file, out, "--rows", "full,no-secm", "--seeds", "2") == 0
    text = capsys.readouterr().out
    # the finished run is not retrained (its files untouched), the interrupted one resumes after epoch 1
    assert spy.calls == [("no-secm/seed87", True), ("full/seed88", False), ("no-secm/seed88", False)]
    assert _stamps(out / "full" / "seed87") == finished
    assert "[1/4] full seed 87: finished earlier (2 epochs, not retrained)" in text
    assert "[2/4] no-secm seed 87: resuming after epoch 1 of 2 ..." in text
    for row, seed in [("full", 87), ("no-secm", 87), ("full", 88), ("no-secm", 88)]:
        config = json.loads((out / row / f"seed{seed}" / "config.json").read_text())
        assert config["train"]["seed"] == seed and config["model"]["use_secm"] is (row == "full")
        assert config["feature_spec"]["name"] == "tiny"
    _check_table_against_run_folders(out, data_root)


def _check_table_against_run_folders(out: Path, data_root: Path) -> None:
    with open(out / "table.csv", newline="") as f:
        table = {r["row"]: r for r in csv.DictReader(f)}
    assert list(table) == ["full", "no-secm"]
    # the stored test numbers are those of the best checkpoint, scored again here
    data = DataPaths.from_root(data_root, TINY)
    stored = json.loads((out / "no-secm" / "seed88" / "test_scores.json").read_text())
    assert stored["scores"] == pytest.approx(evaluate(out / "no-secm" / "seed88" / "best.safetensors", data,
                                                      "test", device="cpu"), abs=1e-12)  # fmt: skip
    assert stored["n_clips"] == 8 and stored["gating"] == "mmcse"
    for row, entry in table.items():
        assert entry["n_seeds"] == "2" and entry["seeds"] == "87 88"
        for key in SCORE_KEYS:
            values = [json.loads((out / row / f"seed{s}" / "test_scores.json").read_text())["scores"][key]
                      for s in (87, 88)]  # fmt: skip
            full = [json.loads((out / "full" / f"seed{s}" / "test_scores.json").read_text())["scores"][key]
                    for s in (87, 88)]  # fmt: skip
            assert float(entry[f"{key}_mean"]) == pytest.approx(np.mean(values), abs=1e-9)
            assert float(entry[f"{key}_std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-9)
            assert float(entry[f"{key}_delta"]) == pytest.approx(np.mean(values) - np.mean(full), abs=1e-9)
    md = (out / "table.md").read_text()
    seg_type = [json.loads((out / "no-secm" / f"seed{s}" / "test_scores.json").read_text())["scores"]["seg_type"]
                for s in (87, 88)]  # fmt: skip
    assert f"{np.mean(seg_type):.2f} ± {np.std(seg_type, ddof=1):.2f}" in md
    assert "Delta of the mean to `full`" in md and "Gating: mmcse (full, no-secm)." in md


@pytest.mark.slow
def test_baseline_rows_and_torchrun_launch(tiny_sweep_data, tmp_path, capsys):
    data_root, spec_file = tiny_sweep_data
    out = tmp_path / "models"
    rc = _ablate(data_root, spec_file, out, "--models", "han", "--seeds", "1", "--epochs", "1",
                 "--nproc-per-node", "2")  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    config = json.loads((out / "han" / "seed87" / "config.json").read_text())
    assert config["world_size"] == 2 and config["model"]["arch"] == "han"
    assert config["model"]["d_model"] == 16 and config["train"]["gating"] == "fused"
    assert "epoch 1/1" in (out / "han" / "seed87" / "train.log").read_text()
    with open(out / "table.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["row"] == "han" and row["gating"] == "fused" and row["seg_type_std"] == "nan"
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["nproc_per_node"] == 2 and sweep["rows"] == ["han"] and sweep["seeds"] == [87]


def test_bad_row_and_model_lists_give_one_line(tiny_sweep_data, tmp_path, capsys):
    data_root, spec_file = tiny_sweep_data
    cases = [
        (["--rows", "full,no-magic"], "unknown row 'no-magic'"),
        (["--models", "mmcse,clip"], "--models 'mmcse,clip': expected"),
        (["--models", "han", "--rows", "full"], "add mmcse to --models"),
        (["--rows", "full,full"], "name a row twice"),
        (["--seeds", "0"], "argument --seeds: 0 is not allowed; give 1 or more"),
    ]
    for extra, message in cases:
        assert _ablate(data_root, spec_file, tmp_path / "x", *extra) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------- the library on hand-made folders


def _runs(out: Path, rows=("full", "no-ec"), seeds=(1, 2), epochs=3) -> list[ablation.SweepRun]:
    model = ModelConfig.for_features(TINY, d_model=16)
    configs = {row: (model if row == "full" else ModelConfig.for_features(TINY, d_model=16, w_ec=0.0),
                     TrainConfig(epochs=epochs)) for row in rows}  # fmt: skip
    return ablation.plan_sweep(out, configs, list(seeds))


def _record(sweep_runs, **changes):
    settings = {"features": TINY.to_dict(), "preset": "small", "data": {"llp_dir": "/d"}, "nproc_per_node": 1,
                "eval": {"split": "test"}, **changes}  # fmt: skip
    return ablation.sweep_record(sweep_runs, **settings)


def test_the_plan_goes_seed_by_seed_with_one_folder_per_row_and_seed(tmp_path):
    plan = _runs(tmp_path)
    assert [(r.row, r.seed, r.run_dir.relative_to(tmp_path).as_posix(), r.train_cfg.seed) for r in plan] == [
        ("full", 1, "full/seed1", 1), ("no-ec", 1, "no-ec/seed1", 1),
        ("full", 2, "full/seed2", 2), ("no-ec", 2, "no-ec/seed2", 2),
    ]  # fmt: skip
    assert plan[1].model_cfg.w_ec == 0.0 and plan[0].model_cfg.w_ec == 0.1


def test_a_sweep_may_grow_but_not_change(tmp_path):
    out = tmp_path / "sweep"
    ablation.check_sweep_record(out, _record(_runs(out)))
    ablation.check_sweep_record(out, _record(_runs(out, rows=("full", "no-ec", "x"), seeds=(1, 2, 3))))
    assert json.loads((out / "sweep.json").read_text())["seeds"] == [1, 2, 3]
    refused = [
        (_record(_runs(out, rows=("full",), seeds=(1, 2, 3))), "rows no-ec, x are left out now"),
        (_record(_runs(out, rows=("full", "no-ec", "x"), seeds=(1, 2))), "seeds 3 are left out now"),
        (_record(_runs(out, rows=("full", "no-ec", "x"), seeds=(1, 2, 3), epochs=4)),
         "row 'full': train config epochs was 3, now 4"),
        (_record(_runs(out, rows=("full", "no-ec", "x"), seeds=(1, 2, 3)), preset="paper-mmcse"),
         'preset was "small", now "paper-mmcse"'),
        (_record(_runs(out, rows=("full", "no-ec", "x"), seeds=(1, 2, 3)), data={"llp_dir": "/d", "x": "/" + "y" * 90}),
         'data.x was null, now "/yyy'),  # the differing field, not a shared prefix
    ]  # fmt: skip
    for record, message in refused:
        with pytest.raises(ValueError, match="another sweep") as err:
            ablation.check_sweep_record(out, record)
        assert message in str(err.value)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no sweep.json"):
        ablation.check_sweep_record(tmp_path / "busy", _record(_runs(tmp_path / "busy")))


def test_run_status_of_new_foreign_and_half_written_folders(tmp_path):
    run = _runs(tmp_path)[0]
    assert ablation.run_status(run) == ("new", 0)
    run.run_dir.mkdir(parents=True)
    runs.write_json(
        run.run_dir / "config.json", {"model": run.model_cfg.to_dict(), "train": run.train_cfg.to_dict()}
    )
    assert ablation.run_status(run) == ("new", 0)  # config written, no epoch yet: train starts it afresh
    (run.run_dir / "metrics.csv").write_text("epoch\n1\n")  # interrupted between metrics and checkpoints
    assert ablation.run_status(run) == ("restart", 0)
    runs.write_json(run.run_dir / "config.json", {"model": run.model_cfg.to_dict(), "train": {"seed": 9}})
    with pytest.raises(ValueError, match="holds a run of another config than row 'full' seed 1"):
        ablation.run_status(run)


def _fake_scores(run: ablation.SweepRun, value: float) -> None:
    run.run_dir.mkdir(parents=True, exist_ok=True)
    scores = {k: value + i for i, k in enumerate(SCORE_KEYS)}
    record = {"scores": scores, "gating": "mmcse", "n_clips": 5}
    (run.run_dir / ablation.TEST_SCORES_FILE).write_text(json.dumps(record))


def test_the_table_is_mean_std_and_delta_over_the_scored_seeds(tmp_path):
    plan = _runs(tmp_path, rows=("no-ec", "full"))  # full is the reference even when not first
    for run, value in zip(plan, (10.0, 20.0, 13.0)):  # no-ec 1, full 1, no-ec 2; full 2 not scored yet
        _fake_scores(run, value)
    summary = ablation.summarize_sweep(plan)
    ablation.write_tables(tmp_path, summary)
    no_ec, full = summary
    assert (no_ec["row"], no_ec["n_seeds"], no_ec["seeds"]) == ("no-ec", 2, [1, 2])
    assert no_ec["seg_a_mean"] == 11.5 and no_ec["seg_a_std"] == pytest.approx(math.sqrt(4.5))
    assert full["n_seeds"] == 1 and math.isnan(full["seg_a_std"])
    assert no_ec["evt_event_delta"] == pytest.approx((11.5 + 9) - (20 + 9))
    md = (tmp_path / "table.md").read_text()
    assert "| no-ec | 2 | 11.50 ± 2.12 | 12.50 ± 2.12 |" in md
    assert "| full | 1 | 20.00 | 21.00 |" in md and "| no-ec | 2 | -8.50 | -8.50 |" in md


def test_loss_weights_reach_every_mmcse_row_but_the_row_that_sets_its_own():
    from mmcse.cli import build_parser
    from mmcse.commands.ablate import parse_train_argv, train_argv

    args = build_parser().parse_args(["ablate", "--data-root", "d", "--features", "demo", "--w-ec", "10",
                                      "--w-ort", "0.5", "--models", "mmcse,han", "--rows", "full,no-ec"])  # fmt: skip
    full, no_ec, han = (parse_train_argv(train_argv(args, row, 87, f"runs/{row}")) for row in ("full", "no-ec", "han"))
    assert (full.w_ec, full.w_ort) == (10.0, 0.5)
    assert (no_ec.w_ec, no_ec.w_ort) == (0.0, 0.5)  # the row's own --w-ec 0 is not overridden
    assert (han.w_ec, han.w_ort) == (None, None)  # HAN has no such losses


def test_a_sweep_warns_once_about_test_clips_far_outside_the_training_features(tmp_path, capsys):
    """Every run of a sweep scores the same test clips: the out-of-domain warning about them comes once,
    not once per run, whatever --rows says (also --rows '', which is the full row)."""
    write_synthetic_dataset(tmp_path / "data", TINY, n_train=32, n_val=8, n_test=8, seed=4)
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(json.dumps(TINY.to_dict()))
    vid = (tmp_path / "data" / "AVVP_test_pd.csv").read_text().splitlines()[1].split("\t")[0][:11]
    far = tmp_path / "data" / "feats" / TINY.audio.name / f"{vid}.npy"
    np.save(far, np.load(far) * 1000)  # that clip's audio lies far outside what any run trained on
    argv = ["--rows", "", "--seeds", "3", "--epochs", "1"]
    assert cli_main(["ablate", "--data-root", str(tmp_path / "data"), "--features", str(spec_file),
                     "--out", str(tmp_path / "sweep"), *TINY_RECIPE, *argv]) == 0  # fmt: skip
    err = capsys.readouterr().err
    outside = [line for line in err.splitlines() if "far outside" in line]
    assert len(outside) == 1 and outside[0].startswith("warning: ") and f"clip {vid}" in outside[0], err
    assert sorted(p.name for p in (tmp_path / "sweep" / "full").iterdir()) == ["seed87", "seed88", "seed89"]


@pytest.mark.parametrize("value", ["99999999999999999999", "65", "0"])
def test_nproc_per_node_beyond_what_torchrun_can_start_is_refused(tiny_sweep_data, tmp_path, capsys, value):
    """torchrun starts every process at once: a 20-digit --nproc-per-node is one line, exit 2, and no
    sweep folder, not a launch that never ends."""
    data_root, spec_file = tiny_sweep_data
    assert _ablate(data_root, spec_file, tmp_path / "sweep", "--nproc-per-node", value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: argument --nproc-per-node: {value} is out of range; give 1 to 64 "
                   "(see python -m mmcse ablate --help)"]  # fmt: skip
    assert not (tmp_path / "sweep").exists()
