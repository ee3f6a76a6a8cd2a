"""Training and evaluation on tiny synthetic data: the loss falls, same seed -> same weights, resume equals
uninterrupted training, the run folder, the train/evaluate commands, schedules and pickle-free state."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmcse.checkpoint import read_checkpoint_meta
from mmcse.cli import main as cli_main
from mmcse.config import FeatureSpec, ModelConfig, StreamSpec, TrainConfig, get_preset
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.data.synthetic import write_synthetic_dataset
from mmcse.metrics import SCORE_KEYS
from mmcse.training import runs, state
from mmcse.training.evaluation import evaluate
from mmcse.training.loop import train
from mmcse.training.optim import build_scheduler, learning_rate
from mmcse.utils.device import cpu_has_native_bf16

# tiny feature shapes keep the tests fast; pseudo-label streams as VALOR ships them
TINY = FeatureSpec(
    name="tiny",
    audio=StreamSpec("aud", (10, 16)),
    visual=StreamSpec("vis", (10, 24)),
    visual_st=StreamSpec("st", (10, 8)),
    pseudo_audio="aud_pseudo",
    pseudo_visual="vis_pseudo",
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> DataPaths:
    root = tmp_path_factory.mktemp("tiny_llp")
    write_synthetic_dataset(root, TINY, n_train=48, n_val=16, n_test=16, seed=3)
    return DataPaths.from_root(root, TINY)


def _cfgs(arch="mmcse", epochs=2, **train_kw):
    model = ModelConfig.for_features(TINY, arch=arch, d_model=32, d_class=16, num_layers=1, num_heads=2)
    train_cfg = TrainConfig(epochs=epochs, batch_size=16, lr=3e-3, seed=5, **train_kw)
    return model, train_cfg


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("arch", ["han", "mmcse"])
def test_training_lowers_the_loss_and_writes_the_run_folder(tiny_data, tmp_path, arch):
    model_cfg, train_cfg = _cfgs(arch, epochs=4)
    result = train(tmp_path / "run", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    run = tmp_path / "run"
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "metrics.csv",
        "best.safetensors",
        "last.safetensors",
        "train_state.safetensors",
    }
    rows = runs.read_metrics(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.8 * losses[0]
    for key in SCORE_KEYS:
        assert 0.0 <= float(rows[-1][f"val_{key}"]) <= 100.0
    assert result["recipe"] == ("weak" if arch == "han" else "pseudo")
    # the best checkpoint is the epoch with the highest val segment Type@AV, and stores its numbers
    best_row = max(rows, key=lambda r: float(r["val_seg_type"]))
    meta = read_checkpoint_meta(run / "best.safetensors")
    assert meta["extra"]["epoch"] == int(best_row["epoch"]) == result["best_epoch"]
    assert meta["metrics"]["val"]["seg_type"] == pytest.approx(float(best_row["val_seg_type"]), abs=1e-4)
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == model_cfg.to_dict() and config["train"] == train_cfg.to_dict()
    assert config["feature_spec"]["name"] == "tiny" and config["recipe"] == result["recipe"]


def test_same_seed_gives_identical_weights(tiny_data, tmp_path):
    model_cfg, train_cfg = _cfgs("mmcse", epochs=1)
    for name in ("a", "b"):
        train(tmp_path / name, tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    assert _same_weights(
        _weights(tmp_path / "a" / "last.safetensors"), _weights(tmp_path / "b" / "last.safetensors")
    )
    other = dataclasses.replace(train_cfg, seed=6)
    train(tmp_path / "c", tiny_data, model_cfg, other, device="cpu", progress=False)
    assert not _same_weights(
        _weights(tmp_path / "a" / "last.safetensors"), _weights(tmp_path / "c" / "last.safetensors")
    )


@pytest.mark.parametrize(
    "schedule, stop_after",
    [({"schedule": "step", "step_size": 2, "gamma": 0.5}, 1), ({"schedule": "cosine", "warmup_epochs": 2}, 1)],
)
def test_resume_equals_uninterrupted_training(tiny_data, tmp_path, schedule, stop_after):
    # dropout on (MM-CSE has it everywhere), so the RNG state must be restored too; the scheduler's state
    # continues the schedule (float32, CPU: bit for bit)
    model_cfg, train_cfg = _cfgs("mmcse", epochs=4, **schedule)
    train(tmp_path / "full", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    first = train(
        tmp_path / "split", tiny_data, model_cfg, train_cfg, device="cpu", progress=False,
        stop_after_epochs=stop_after,
    )  # fmt: skip
    assert first["epochs_done"] == stop_after
    assert len(runs.read_metrics(tmp_path / "split" / "metrics.csv")) == stop_after
    _, meta = state.load_train_state(tmp_path / "split" / "train_state.safetensors")
    assert meta["scheduler"]["last_epoch"] == stop_after
    train(tmp_path / "split", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, resume=True)
    assert _same_weights(
        _weights(tmp_path / "full" / "last.safetensors"), _weights(tmp_path / "split" / "last.safetensors")
    )
    full_rows = runs.read_metrics(tmp_path / "full" / "metrics.csv")
    split_rows = runs.read_metrics(tmp_path / "split" / "metrics.csv")
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(full_rows) == drop(split_rows)
    expected_lrs = [learning_rate(train_cfg, e) for e in range(4)]
    assert expected_lrs[2] != expected_lrs[1]  # the schedule moves after the interruption
    assert [float(r["lr"]) for r in split_rows] == pytest.approx(expected_lrs, rel=1e-12)
    # optimizer moments equal too
    full_state, split_state = (_weights(tmp_path / d / "train_state.safetensors") for d in ("full", "split"))
    assert _same_weights(
        {k: v for k, v in full_state.items() if k.startswith("optim.")},
        {k: v for k, v in split_state.items() if k.startswith("optim.")},
    )


def test_a_run_killed_between_its_checkpoint_and_its_state_resumes_as_the_same_run(tiny_data, tmp_path):
    """Killed after last.safetensors of epoch 3 was renamed into place but before train_state.safetensors
    (still epoch 2): the state holds its own weights, so --resume continues epoch 2's run exactly."""
    import shutil

    model_cfg, train_cfg = _cfgs("mmcse", epochs=4)
    train(tmp_path / "full", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    train(tmp_path / "ahead", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, stop_after_epochs=3)
    train(tmp_path / "killed", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, stop_after_epochs=2)
    shutil.copy(tmp_path / "ahead" / "last.safetensors", tmp_path / "killed" / "last.safetensors")
    train(tmp_path / "killed", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, resume=True)
    assert _same_weights(
        _weights(tmp_path / "full" / "last.safetensors"), _weights(tmp_path / "killed" / "last.safetensors")
    )


def test_resume_of_a_state_without_scheduler_recomputes_the_lr(tiny_data, tmp_path):
    # train_state.safetensors written before the scheduler was stored: one warning, the same run
    from safetensors import safe_open
    from safetensors.torch import save_file

    model_cfg, train_cfg = _cfgs("mmcse", epochs=3, schedule="cosine", warmup_epochs=2)
    train(tmp_path / "full", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    train(tmp_path / "old", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, stop_after_epochs=2)
    path = tmp_path / "old" / "train_state.safetensors"
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()[state.STATE_META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    del meta["scheduler"]
    for group in meta["optimizer"]["param_groups"]:  # as the older loop left it: the last epoch's lr
        group.pop("initial_lr", None)
        group["lr"] = learning_rate(train_cfg, 1)
    save_file(tensors, str(path), metadata={state.STATE_META_KEY: json.dumps(meta)})
    lines = []
    train(tmp_path / "old", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, resume=True,
          log=lines.append)  # fmt: skip
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "no scheduler state" in warnings[0] and "recomputed" in warnings[0]
    assert _same_weights(
        _weights(tmp_path / "full" / "last.safetensors"), _weights(tmp_path / "old" / "last.safetensors")
    )


def test_run_folder_guards(tiny_data, tmp_path):
    model_cfg, train_cfg = _cfgs("han", epochs=1)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tmp_path / "none", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, resume=True)
    train(tmp_path / "run", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(tmp_path / "run", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    with pytest.raises(ValueError, match="another model config"):
        other = dataclasses.replace(model_cfg, num_layers=2)
        train(
            tmp_path / "run",
            tiny_data,
            other,
            dataclasses.replace(train_cfg, epochs=2),
            device="cpu",
            resume=True,
            progress=False,
        )


@pytest.mark.parametrize("field, value", [("d_model", 16), ("num_layers", 2)])
def test_resume_after_config_json_was_edited_names_both_files(tiny_data, tmp_path, capsys, field, value):
    model_cfg, train_cfg = _cfgs("han", epochs=1)
    run = tmp_path / "run"
    train(run, tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != runs.CONFIG_FILE}
    config = json.loads((run / runs.CONFIG_FILE).read_text())
    config["model"][field] = value  # a hand edit: the saved weights are of the other shape
    (run / runs.CONFIG_FILE).write_text(json.dumps(config))
    edited = dataclasses.replace(model_cfg, **{field: value})
    with pytest.raises(ValueError) as err:
        train(run, tiny_data, edited, dataclasses.replace(train_cfg, epochs=2), device="cpu", progress=False,
              resume=True)  # fmt: skip
    message = str(err.value)
    assert message.startswith(
        f"{run / runs.CONFIG_FILE} does not match the weights saved in {run / runs.STATE_FILE} (edited? first "
        "difference "
    )
    assert message.endswith("); restore config.json or train anew with --overwrite")
    if field == "d_model":
        assert ": saved (32, " in message and ", config.json's model (16, " in message
    else:
        assert "only in config.json model" in message
    # the CLI: exit 2 with that one line; nothing in the run folder changed
    assert cli_main(["train", "--out", str(run), "--resume", "--epochs", "2", "--no-progress", "--device", "cpu"]) == 2
    assert "does not match the weights saved in" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != runs.CONFIG_FILE} == before


@pytest.mark.parametrize("tensor_kind", ["model.", "optimizer"])
def test_resume_refuses_a_training_state_holding_nan(tiny_data, tmp_path, capsys, tensor_kind):
    """A train_state.safetensors whose weights (or optimizer moments) hold NaN: --resume refuses it with
    one line naming the file and the tensor, exit 2, and the run folder stays as it was."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    model_cfg, train_cfg = _cfgs("han", epochs=1)
    run = tmp_path / "run"
    train(run, tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    path = run / runs.STATE_FILE
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    name = next(
        k for k, v in tensors.items()
        if v.is_floating_point() and k.startswith("model.") == (tensor_kind == "model.")
    )  # fmt: skip
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(path), metadata=metadata)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    shown = name.removeprefix("model.")
    with pytest.raises(ValueError, match=f"^{path}: .*{shown} holds NaN / inf; this training state is damaged"):
        train(run, tiny_data, model_cfg, dataclasses.replace(train_cfg, epochs=2), device="cpu", progress=False,
              resume=True)  # fmt: skip
    assert cli_main(["train", "--out", str(run), "--resume", "--epochs", "2", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ") and "--overwrite" in err[0], err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_resume_with_fewer_epochs_than_the_run_has_is_refused(tiny_data, tmp_path, capsys):
    """--resume --epochs 1 on a 2-epoch run: not "nothing to train: finished all 1 epochs" and exit 0, but
    one line saying how many epochs the run has, exit 2, the run folder as it was."""
    model_cfg, train_cfg = _cfgs("han", epochs=2)
    run = tmp_path / "run"
    train(run, tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert cli_main(["train", "--out", str(run), "--resume", "--epochs", "1", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {run} has already trained 2 epochs, more than the 1 asked for (--epochs); give --epochs "
                   "above 2 to train on, or use its checkpoints as they are"]  # fmt: skip
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    import subprocess
    import sys

    probe = ("import sys; from mmcse.cli import main; "
             f"print(main(['train', '--out', {str(run)!r}, '--resume', '--epochs', '1']), 'torch' in sys.modules)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stderr  # refused from the state's header, before torch
    assert cli_main(["train", "--out", str(run), "--resume", "--epochs", "2", "--no-progress", "--device", "cpu"]) == 0
    assert f"nothing to train: {run} has finished all 2 epochs" in capsys.readouterr().out


def _authors_lr(cur_epoch, warm_up_epoch, max_epoch, lr_min, lr_max):
    """lr_warm_up_cos_anneal of the authors' main_avvp.py (MM-CSE and VALOR), written out independently:
    epochs from 1; linear warm-up below warm_up_epoch, then a half cosine from lr_max to lr_min."""
    if cur_epoch < warm_up_epoch:
        return lr_max * cur_epoch / warm_up_epoch
    progress = (cur_epoch - warm_up_epoch) / (max_epoch - warm_up_epoch)
    return lr_min + (lr_max - lr_min) * (1.0 + math.cos(math.pi * progress)) / 2.0


def _scheduled_lrs(train_cfg: TrainConfig) -> list[float]:
    """The lr each epoch trains with: build_scheduler, stepped after each epoch as the loop does."""
    opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=train_cfg.lr)
    sched = build_scheduler(opt, train_cfg)
    lrs = []
    for _ in range(train_cfg.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_learning_rate_schedules_follow_the_authors_at_every_epoch():
    # StepLR(10, 0.1) on the MM-CSE preset: 1e-4 for epochs 1-10, 1e-5 for 11-20, ... 1e-9 for 51-60
    step = get_preset("paper-mmcse").train
    expected_step = [1e-4 * 0.1 ** ((k - 1) // 10) for k in range(1, 61)]
    assert _scheduled_lrs(step) == pytest.approx(expected_step, rel=1e-12)
    assert [learning_rate(step, e) for e in range(60)] == pytest.approx(expected_step, rel=1e-12)

    # --schedule cosine on the MM-CSE preset: the authors' defaults, warm-up 5 epochs, down to lr_min 1e-6
    cos = dataclasses.replace(step, schedule="cosine")
    assert (cos.warmup_epochs, cos.lr_min) == (5, 1e-6)
    expected_cos = [_authors_lr(k, 5, 60, 1e-6, 1e-4) for k in range(1, 61)]
    assert _scheduled_lrs(cos) == pytest.approx(expected_cos, rel=1e-12)
    assert [learning_rate(cos, e) for e in range(60)] == pytest.approx(expected_cos, rel=1e-12)
    assert expected_cos[:5] == pytest.approx([2e-5, 4e-5, 6e-5, 8e-5, 1e-4])  # epoch 5: the peak
    assert expected_cos[-1] == pytest.approx(1e-6)  # lr_min at the last epoch

    # VALOR++ (its train script): warm-up 10, lr 3e-4 down to 3e-6
    valor = get_preset("paper-valor").train
    expected_valor = [_authors_lr(k, 10, 60, 3e-6, 3e-4) for k in range(1, 61)]
    assert _scheduled_lrs(valor) == pytest.approx(expected_valor, rel=1e-12)
    assert expected_valor[0] == pytest.approx(3e-5) and expected_valor[-1] == pytest.approx(3e-6)
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(TrainConfig(schedule="linear"), 0)


def test_train_state_round_trip_has_no_pickle(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state.save_train_state(tmp_path / "state.safetensors", opt, {"epoch": 3})
    expected_next = torch.rand(5)
    torch.manual_seed(123)  # disturb the RNG, then restore it from the file
    tensors, meta = state.load_train_state(tmp_path / "state.safetensors")
    state.set_rng_state(tensors, meta["rng"])
    assert torch.equal(torch.rand(5), expected_next)
    assert meta["progress"] == {"epoch": 3}
    fresh = torch.optim.AdamW(model.parameters(), lr=1.0)
    state.load_optimizer_state(fresh, tensors, meta["optimizer"])
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"][0]["betas"] == b["param_groups"][0]["betas"] == (0.5, 0.999)
    for i in a["state"]:
        for k in a["state"][i]:
            assert torch.equal(a["state"][i][k], b["state"][i][k])
    assert (tmp_path / "state.safetensors").read_bytes()[:8] != b"\x80\x04\x95"[:8]  # safetensors, not pickle
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable mmcse training state .*; train anew there with --overwrite$"):
        state.load_train_state(tmp_path / "bad.safetensors")


def test_split_data_batches_follow_the_contract(tiny_data):
    split = open_split(tiny_data, "val")
    order = list(range(len(split)))[::-1]
    batches = list(split.batches(order, 5))
    assert [len(b["filename"]) for b in batches] == [5, 5, 5, 1]
    b = batches[0]
    assert (
        b["audio"].shape == (5, 10, 16)
        and b["visual"].shape == (5, 10, 24)
        and b["visual_st"].shape == (5, 10, 8)
    )
    assert b["label"].shape == (5, 25) and "pseudo_audio" not in b  # pseudo labels: train targets only
    assert next(open_split(tiny_data, "train").batches([0, 1], 2))["pseudo_audio"].shape == (2, 10, 25)
    assert b["gt_audio"].dtype == torch.uint8 and b["gt_audio"].shape == (5, 10, 25)
    assert b["filename"][0] == split.filenames[-1] and b["video_id"][0] == split.filenames[-1][:11]
    # prefetched and plain batches are the same
    plain = list(split.batches(order, 5, prefetch=False))
    assert all(torch.equal(p["audio"], q["audio"]) for p, q in zip(plain, batches))


def test_train_and_evaluate_commands(tiny_data, tmp_path, capsys, monkeypatch):
    root = tiny_data.llp_dir
    out = tmp_path / "cli_run"
    monkeypatch.setattr("mmcse.config.feature_preset", lambda name: TINY)  # the tiny spec by name
    threads_before = torch.get_num_threads()
    rc = cli_main(
        ["train", "--data-root", root, "--features", "tiny", "--model", "valor", "--preset", "small", "--epochs", "2",
         "--batch-size", "16", "--layers", "1", "--heads", "2", "--d-model", "32", "--out", str(out), "--device", "cpu",
         "--no-progress", "--seed", "11", "--threads", "1"]
    )  # fmt: skip
    threads_after, _ = torch.get_num_threads(), torch.set_num_threads(threads_before)
    assert rc == 0 and threads_after == 1
    text = capsys.readouterr().out
    assert "recipe 'pseudo'" in text and "preset small" in text and "torch threads 1" in text
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["arch"] == "valor" and config["model"]["num_layers"] == 1
    assert config["train"]["seed"] == 11 and config["train"]["gating"] == "fused"
    assert len(runs.read_metrics(out / "metrics.csv")) == 2

    json_path = tmp_path / "eval.json"
    rc = cli_main(
        [
            "evaluate",
            "--checkpoint",
            str(out / "best.safetensors"),
            "--data-root",
            root,
            "--split",
            "val",
            "--json",
            str(json_path),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert (
        "stored val metrics reproduced" in text and "gating fused" in text and "AVVP_eval_audio.csv" in text
    )
    report = json.loads(json_path.read_text())
    stored = read_checkpoint_meta(out / "best.safetensors")["metrics"]["val"]
    assert report["scores"] == pytest.approx(stored, abs=1e-9)
    assert report["scores"] == pytest.approx(
        evaluate(out / "best.safetensors", tiny_data, "val", device="cpu")
    )

    # a different gating is measured but not compared with the stored numbers
    rc = cli_main(
        [
            "evaluate",
            "--checkpoint",
            str(out / "best.safetensors"),
            "--data-root",
            root,
            "--split",
            "val",
            "--gating",
            "modality",
        ]
    )
    assert rc == 0 and "not compared: its stored val metrics were measured with gating fused" in capsys.readouterr().out

    # resume from the folder alone: configs come from config.json; --epochs extends the run
    rc = cli_main(
        ["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress", "--device", "cpu"]
    )
    assert rc == 0
    assert [int(r["epoch"]) for r in runs.read_metrics(out / "metrics.csv")] == [1, 2, 3]


def test_no_pseudo_flag_selects_the_han_recipe(tiny_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("mmcse.config.feature_preset", lambda name: TINY)
    rc = cli_main(
        ["train", "--data-root", tiny_data.llp_dir, "--features", "tiny", "--preset", "small", "--epochs", "1",
         "--no-pseudo", "--no-secm", "--w-ec", "0", "--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress"]
    )  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "recipe 'weak'" in text
    assert "epoch 1/1 lr 1.00e-03 loss" in text  # one line per epoch even without a progress bar
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"]["use_secm"] is False and config["model"]["w_ec"] == 0.0
    assert "train_video_v" in runs.read_metrics(tmp_path / "r" / "metrics.csv")[0]


def test_bad_flags_give_one_clear_error(tiny_data, tmp_path, capsys):
    assert (
        cli_main(
            [
                "train",
                "--out",
                str(tmp_path / "x"),
                "--model",
                "han",
                "--no-cafd",
                "--data-root",
                tiny_data.llp_dir,
            ]
        )
        == 2
    )
    assert "do not apply to --model han" in capsys.readouterr().err
    argv = ["train", "--out", str(tmp_path / "x"), "--model", "mmcse", "--ff-dim", "64"]
    argv += ["--data-root", tiny_data.llp_dir]
    assert cli_main(argv) == 2
    assert "--ff-dim sets the HAN/VALOR feed-forward width" in capsys.readouterr().err
    assert cli_main(["train", "--out", str(tmp_path / "x"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert (
        cli_main(["evaluate", "--checkpoint", str(tmp_path / "missing.safetensors"), "--data-root", "."]) == 2
    )
    assert "not found" in capsys.readouterr().err


def test_presets_match_the_papers():
    mm = get_preset("paper-mmcse")
    assert (mm.train.optimizer, mm.train.lr, mm.train.weight_decay, mm.train.betas) == (
        "adamw",
        1e-4,
        1e-3,
        (0.5, 0.999),
    )
    assert (mm.train.clip_grad_norm, mm.train.batch_size, mm.train.epochs, mm.train.seed) == (1.0, 64, 60, 87)
    assert (mm.train.schedule, mm.train.step_size, mm.train.gamma) == ("step", 10, 0.1)
    han = get_preset("paper-han")
    assert (han.model.arch, han.model.d_model, han.model.num_layers, han.model.num_heads) == (
        "han",
        512,
        1,
        1,
    )
    assert (han.train.optimizer, han.train.lr, han.train.batch_size, han.train.epochs) == (
        "adam",
        3e-4,
        16,
        40,
    )
    assert (han.train.weight_decay, han.train.betas, han.train.clip_grad_norm, han.train.seed) == (
        0.0,
        (0.9, 0.999),
        0.0,
        1,
    )
    assert han.model.ff_dim in (0, 512)  # HAN's FFN: 512 -> 512 -> 512
    # VALOR++ as VALOR's scripts/train_valor++.sh
    valor = get_preset("paper-valor")
    assert (valor.model.d_model, valor.model.num_layers, valor.model.num_heads, valor.model.ff_dim) == (
        256,
        4,
        8,
        1024,
    )
    assert (valor.train.lr, valor.train.schedule, valor.train.warmup_epochs, valor.train.batch_size) == (
        3e-4,
        "cosine",
        10,
        64,
    )
    assert (valor.train.optimizer, valor.train.weight_decay, valor.train.betas, valor.train.lr_min) == (
        "adamw",
        1e-3,
        (0.5, 0.999),
        3e-6,
    )
    assert (valor.train.clip_grad_norm, valor.train.epochs, valor.train.seed) == (1.0, 60, 87)
    get_preset("small").train.epochs = 99  # a copy: the registry is unchanged
    assert get_preset("small").train.epochs != 99
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("paper-nope")


def test_evaluate_refuses_features_of_another_spec(tiny_data, tmp_path):
    model_cfg, train_cfg = _cfgs("han", epochs=1)
    train(tmp_path / "run", tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    wider = dataclasses.replace(TINY, name="wider", audio=StreamSpec("aud", (10, 32)))
    other = dataclasses.replace(tiny_data, feature_spec=wider)
    with pytest.raises(ValueError, match="trained on 'tiny' features"):
        evaluate(tmp_path / "run" / "best.safetensors", other, "val", device="cpu")


def test_missing_features_of_the_real_val_split_are_reported_up_front(llp_dir, tmp_path):
    from mmcse.config import VALOR_FEATURES

    for stream in VALOR_FEATURES.streams.values():
        (tmp_path / "feats" / stream.name).mkdir(parents=True)
    paths = DataPaths(llp_dir=str(llp_dir), feature_root=str(tmp_path / "feats"), feature_spec=VALOR_FEATURES)
    with pytest.raises(FileNotFoundError, match=r"649 of 649 clips of the val split .* have no features"):
        open_split(paths, "val")
    with pytest.raises(FileNotFoundError, match="--train-csv"):
        open_split(
            dataclasses.replace(paths, split_csvs={"train": str(tmp_path / "nope.csv")}), "train"
        )


@pytest.mark.slow  # bf16 matmuls are slow on most CPUs
@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (avx512_bf16 / amx_bf16 / "
                    "Arm bf16): torch emulates bf16 matmuls and the test would run for minutes")  # fmt: skip
def test_bf16_autocast_trains_with_float32_weights(tiny_data, tmp_path):
    model_cfg, train_cfg = _cfgs("mmcse", epochs=4)
    train(tmp_path / "run", tiny_data, model_cfg, train_cfg, device="cpu", progress=False, bf16=True)
    losses = [float(r["train_loss"]) for r in runs.read_metrics(tmp_path / "run" / "metrics.csv")]
    assert losses[-1] < 0.8 * losses[0]
    weights = _weights(tmp_path / "run" / "last.safetensors")
    assert all(w.dtype == torch.float32 for w in weights.values())
    assert json.loads((tmp_path / "run" / "config.json").read_text())["bf16"] is True


def test_stored_metrics_are_compared_only_on_the_same_clips_and_name_no_absolute_path(tiny_data, tmp_path, capsys):
    """The best checkpoint records which val clips its stored metrics came from (count + hash): evaluate
    on another set of clips says so instead of "NOT reproduced". Run folders store no absolute path."""
    model_cfg, train_cfg = _cfgs("han", epochs=1)
    run = tmp_path / "run"
    train(run, tiny_data, model_cfg, train_cfg, device="cpu", progress=False)
    best = run / "best.safetensors"
    meta = read_checkpoint_meta(best)
    assert meta["extra"]["val_clips"]["count"] == 16 and len(meta["extra"]["val_clips"]["sha256"]) == 16
    for text in (json.dumps(meta), (run / "config.json").read_text()):
        assert str(tmp_path) not in text and str(tiny_data.llp_dir) not in text
    root = str(tiny_data.llp_dir)
    assert cli_main(["evaluate", "--checkpoint", str(run), "--data-root", root, "--split", "val"]) == 0
    assert "stored val metrics reproduced on the same 16 clips" in capsys.readouterr().out
    subset = tmp_path / "val_subset.csv"
    lines = (Path(tiny_data.llp_dir) / "AVVP_val_pd.csv").read_text().splitlines()
    subset.write_text("\n".join(lines[:9]) + "\n")  # the header and 8 clips
    assert cli_main(["evaluate", "--checkpoint", str(run), "--data-root", root, "--split", "val",
                     "--split-csv", str(subset)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "not compared: its stored val metrics were measured on 16 other clips" in out and "this split has 8" in out
    # a moved run folder still resumes: its data paths are relative to it
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["paths_relative_to"] == "run folder"
    assert DataPaths.from_dict(config["data"], base=run) == tiny_data
