"""mmcse.validation: bad flags, spec files, config.json and checkpoint metadata give ONE line naming the
source, the field and the valid range (a ValueError, exit 2), before torch is imported; writers never
store NaN; every shipped preset and example spec still passes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mmcse import validation
from mmcse.config import DEMO_FEATURES, PRESETS, FeatureSpec, ModelConfig, TrainConfig, get_preset
from mmcse.feature_specs import feature_spec_from_arg

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    """A tiny demo-feature MM-CSE checkpoint written by save_checkpoint (with a train config)."""
    import torch

    from mmcse.checkpoint import save_checkpoint
    from mmcse.models import create_model

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(DEMO_FEATURES, d_model=16, d_class=8, num_layers=1, num_heads=2)
    path = tmp_path_factory.mktemp("good") / "best.safetensors"
    save_checkpoint(path, create_model(cfg), model_config=cfg, feature_spec=DEMO_FEATURES,
                    train_config=TrainConfig(seed=3), metrics={"val": {"seg_type": 50.0}})  # fmt: skip
    return path


def _rewritten(good: Path, out: Path, change) -> Path:
    """A copy of ``good`` (same tensors, numpy only) whose metadata ``change(meta)`` has edited."""
    from safetensors.numpy import load_file, save_file

    from mmcse.checkpoint import read_checkpoint_meta

    meta = read_checkpoint_meta(good)
    change(meta)
    save_file(load_file(str(good)), str(out), metadata={"mmcse": json.dumps(meta)})  # NaN as bare NaN
    return out


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return change


def _delete(*keys):
    def change(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]

    return change


BAD_METADATA = {
    # missing fields
    "d_model missing": (_delete("model_config", "d_model"), r"model_config lacks model_config\.d_model"),
    "spec without visual": (_delete("feature_spec", "visual"), r"lacks feature_spec\.visual \("),
    "no arch": (_delete("arch"), "the metadata lacks arch"),
    # wrong types
    "d_model a string": (_set("model_config", "d_model", "64"),
                         r"model_config\.d_model = '64' is a string, not a whole number; expected a whole number from 2 to 8192"),
    "d_model a float": (_set("model_config", "d_model", 64.5), r"model_config\.d_model = 64\.5 is not a whole number"),
    "switch as 1": (_set("model_config", "use_secm", 1), r"model_config\.use_secm = 1 is a whole number, not true or false"),
    "format_version null": (_set("format_version", None),
                            "format_version = null is not a format version; expected a whole number from 1 to 1"),
    "format_version newer": (_set("format_version", 7), r"format_version = 7 is newer than this mmcse reads \(1\)"),
    "spec a list": (_set("feature_spec", [1, 2]), "feature_spec is a list; expected an object"),
    # zero, negative, absurd
    "d_model 0": (_set("model_config", "d_model", 0), r"model_config\.d_model = 0 is below 2; expected a whole number from 2 to 8192"),
    "d_model -64": (_set("model_config", "d_model", -64), r"model_config\.d_model = -64 is below 2"),
    "d_model 10^7": (_set("model_config", "d_model", 10**7), r"model_config\.d_model = 10000000 is above 8192"),
    "layers 100000": (_set("model_config", "num_layers", 100_000), r"model_config\.num_layers = 100000 is above 64"),
    "d_class 10^11": (_set("model_config", "d_class", 99_999_999_999), r"model_config\.d_class = 99999999999 is above 8192"),
    "dropout 1": (_set("model_config", "dropout", 1.0), r"model_config\.dropout = 1 is not below 1; expected a finite number >= 0 and < 1"),
    "20 classes": (_set("model_config", "num_classes", 20), r"model_config\.num_classes = 20 is below 25; expected 25 \(the LLP classes\)"),
    "huge spec": (_set("feature_spec", "visual", "shape", [10, 10**12]),
                  r"feature_spec\.visual\.shape = \[10, 1000000000000\] is a dim 1000000000000 that is above 65536"),
    "batch 0": (_set("train_config", "batch_size", 0), r"train_config\.batch_size = 0 is below 1"),
    "seed 2^64": (_set("train_config", "seed", 2**64), r"train_config\.seed = 18446744073709551616 is above 4294967295"),
    # NaN / inf (json.dumps writes them as bare NaN / Infinity)
    "w_ec NaN": (_set("model_config", "w_ec", math.nan), r"model_config\.w_ec = nan is not finite; expected a finite number >= 0"),
    "lr inf": (_set("train_config", "lr", math.inf), r"train_config\.lr = inf is not finite; expected a finite number > 0 and <= 1"),
    "lr 0": (_set("train_config", "lr", 0.0), r"train_config\.lr = 0 is not above 0"),
    "domain NaN": (_set("domain", {"threshold": {"audio": math.nan, "visual": 1.0, "visual_st": 1.0}}),
                   r"domain\.threshold\.audio = nan is not finite"),
    # contradictions and cross-field rules
    "arch han": (_set("arch", "han"), r"arch = 'han' contradicts model_config\.arch = 'mmcse'"),
    "gating": (_set("gating", "fused"), r"gating = 'fused' contradicts train_config\.gating = 'mmcse'"),
    "dims vs spec": (_set("model_config", "audio_dim", 64),
                     r"model_config\.audio_dim = 64 contradicts feature_spec\.audio\.shape = \[10, 128\]"),
    "heads": (_set("model_config", "num_heads", 3),
              r"model_config\.d_class = 8 is not divisible by model_config\.num_heads = 3"),
    "unknown field": (_set("model_config", "d_hidden", 3), r"model_config\.d_hidden is not a field of model_config"),
    "unknown train field": (_set("train_config", "momentum", 0.9), r"train_config\.momentum is not a field"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_METADATA, ids=list(BAD_METADATA))
def test_bad_checkpoint_metadata_names_the_checkpoint_and_the_field(good_checkpoint, tmp_path, case):
    from mmcse.checkpoint import load_checkpoint, read_checkpoint_meta

    change, message = BAD_METADATA[case]
    bad = _rewritten(good_checkpoint, tmp_path / "bad.safetensors", change)
    for read in (read_checkpoint_meta, load_checkpoint):
        with pytest.raises(ValueError, match=message) as err:
            read(bad)
        assert str(err.value).startswith(f"checkpoint {bad}: ") and "\n" not in str(err.value)


def test_the_good_checkpoint_and_its_copy_read_back(good_checkpoint, tmp_path):
    """The rewriting helper itself keeps a valid checkpoint valid (the refusals above are the edits')."""
    from mmcse.checkpoint import load_checkpoint

    copy = _rewritten(good_checkpoint, tmp_path / "copy.safetensors", lambda meta: None)
    loaded = load_checkpoint(copy)
    assert loaded.model_config.d_class == 8 and loaded.train_config.seed == 3
    assert loaded.feature_spec == DEMO_FEATURES


def test_a_bad_checkpoint_is_refused_by_the_cli_before_torch_loads(good_checkpoint, tmp_path):
    bad = _rewritten(good_checkpoint, tmp_path / "bad.safetensors", _set("model_config", "d_model", 0))
    code = (
        "import sys; from mmcse.cli import main; "
        f"rc = main(['evaluate', '--checkpoint', {str(bad)!r}, '--data-root', '.']); "
        "print(rc, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.stdout.split() == ["2", "False"], proc.stderr
    assert f"checkpoint {bad}: model_config.d_model = 0 is below 2" in proc.stderr
    assert "this is a bug" not in proc.stderr and "Traceback" not in proc.stderr


def test_reading_metadata_and_configs_never_imports_torch(good_checkpoint, tmp_path):
    code = (
        "import sys\n"
        "from mmcse.checkpoint import read_checkpoint_meta\n"
        "from mmcse.config import FeatureSpec, ModelConfig, TrainConfig\n"
        f"meta = read_checkpoint_meta({str(good_checkpoint)!r})\n"
        "ModelConfig.from_dict(meta['model_config']); TrainConfig.from_dict(meta['train_config'])\n"
        "FeatureSpec.from_dict(meta['feature_spec'])\n"
        "try:\n    ModelConfig(d_model=1)\nexcept ValueError as e:\n    print(e)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.strip() == "model config: d_model = 1 is below 2; expected a whole number from 2 to 8192"
    )


# ---------------------------------------------------------------------------------------------- writers


def test_checkpoints_are_strict_json_and_a_nan_config_is_never_written(tmp_path):
    import torch

    from mmcse.checkpoint import read_checkpoint_meta, save_checkpoint
    from mmcse.models import create_model

    cfg = ModelConfig.for_features(DEMO_FEATURES, d_model=16, d_class=8, num_layers=1, num_heads=2)
    model = create_model(cfg)
    path = tmp_path / "a.safetensors"
    save_checkpoint(path, model, model_config=cfg, feature_spec=DEMO_FEATURES,
                    metrics={"val": {"seg_type": math.nan, "seg_a": 40.0}})  # fmt: skip
    header = path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")]

    def no_constants(name):
        raise AssertionError(f"{name} in the header")

    meta = json.loads(json.loads(header)["__metadata__"]["mmcse"], parse_constant=no_constants)
    assert meta["metrics"] == {"val": {"seg_type": None, "seg_a": 40.0}}  # NaN stored as null
    assert read_checkpoint_meta(path)["metrics"] == meta["metrics"]

    cfg.w_ec = math.nan  # a config edited after it was built (ModelConfig is not frozen)
    bad = tmp_path / "b.safetensors"
    with pytest.raises(ValueError, match=rf"checkpoint {bad}: model_config\.w_ec = nan is not finite"):
        save_checkpoint(bad, model, model_config=cfg, feature_spec=DEMO_FEATURES)
    assert not bad.exists() and not list(tmp_path.glob("*.tmp"))
    del torch


# ------------------------------------------------------------------------------------- configs and flags


def test_every_way_of_making_a_config_is_checked():
    with pytest.raises(ValueError, match="model config: d_model = 1 is below 2"):
        ModelConfig(d_model=1)  # would train zero-size tensors
    with pytest.raises(ValueError, match=r"model config: d_model = 100 is not divisible by num_heads = 3"):
        dataclasses.replace(ModelConfig(arch="han"), d_model=100, num_heads=3)
    with pytest.raises(ValueError, match="model config: audio_len = 20 is not a length the models take"):
        ModelConfig.for_features(DEMO_FEATURES, audio_len=20)
    with pytest.raises(
        ValueError,
        match=r"train config: betas = \[0\.5, 1\.5\] is not below 1; expected two numbers, each >= 0 and < 1",
    ):
        TrainConfig(betas=(0.5, 1.5))
    with pytest.raises(
        ValueError, match="train config: optimizer = 'sgd' is not a known value; expected one of adamw, adam"
    ):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="use_intra and use_cross are both false with num_layers = 1"):
        ModelConfig(num_layers=1, use_intra=False, use_cross=False)
    assert ModelConfig(num_layers=0, use_intra=False, use_cross=False).num_layers == 0  # no FGSE: fine


def test_from_dict_names_the_file_and_accepts_what_to_dict_wrote():
    source = "runs/a/config.json"
    with pytest.raises(ValueError, match=r"^runs/a/config\.json: model\.w_ec = nan is not finite"):
        ModelConfig.from_dict({"w_ec": math.nan}, source, "model.")
    with pytest.raises(ValueError, match=r"^runs/a/config\.json: train\.momentum is not a field of train"):
        TrainConfig.from_dict({"momentum": 0.9}, source, "train.")  # was a TypeError (exit 3)
    with pytest.raises(ValueError, match=r"^runs/a/config\.json: train\.epochs = true is a boolean"):
        TrainConfig.from_dict({"epochs": True}, source, "train.")
    train = TrainConfig(lr=3e-4, betas=(0.9, 0.999))
    assert TrainConfig.from_dict(json.loads(json.dumps(train.to_dict()))) == train  # betas list -> tuple
    lr = TrainConfig.from_dict({"lr": 1}).lr
    assert lr == 1.0 and isinstance(lr, float)  # JSON's 1 is the float 1.0
    with pytest.raises(
        ValueError, match=r"^feature spec: audio\.shape = \[10, 0\] is a dim 0 that is below 1"
    ):
        FeatureSpec.from_dict({**DEMO_FEATURES.to_dict(), "audio": {"name": "a", "shape": [10, 0]}})


def test_every_shipped_preset_and_example_spec_passes():
    for name in PRESETS:
        preset = get_preset(name)
        assert ModelConfig.from_dict(preset.model.to_dict()) == preset.model
    for path in sorted((REPO / "examples" / "features").glob("*.toml")):
        spec = feature_spec_from_arg(str(path))
        validation.validate_feature_spec(spec.to_dict(), str(path))
        ModelConfig.for_features(spec)


@pytest.mark.parametrize(
    "field, text, message",
    [
        ("lr", "inf", "inf is not finite; expected a finite number > 0 and <= 1"),
        ("lr", "nan", "nan is not finite; expected a finite number > 0 and <= 1"),
        ("lr", "fast", "'fast' is not a number; expected a finite number > 0 and <= 1"),
        ("dropout", "1.0", "1.0 is not below 1; expected a finite number >= 0 and < 1"),
        ("w_rec", "inf", "inf is not finite; expected a finite number >= 0 and <= 1000000"),
        ("w_ec", "-0.1", "-0.1 is below 0; expected a finite number >= 0 and <= 1000000"),
        ("num_layers", "100000", "100000 is above 64; expected a whole number from 0 to 64"),
        ("d_class", "99999999999", "99999999999 is above 8192; expected a whole number from 2 to 8192"),
        ("d_model", "1", "1 is below 2; expected a whole number from 2 to 8192"),
        ("num_heads", "2.5", "'2.5' is not a whole number; expected a whole number from 1 to 64"),
        (
            "clip_grad_norm",
            "-1",
            "-1 is below 0; expected a finite number >= 0 and <= 1000000 (0 disables clipping)",
        ),
        ("seed", "-1", "-1 is below 0; expected a whole number from 0 to 4294967295"),
    ],
)
def test_flag_types_refuse_out_of_range_values_with_the_range(field, text, message):
    parse = validation.flag_type(field)
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse(text)
    assert str(err.value) == message


def test_flag_types_in_a_parser_give_one_argparse_line(capsys):
    parser = argparse.ArgumentParser(prog="train", exit_on_error=False)
    parser.add_argument("--lr", type=validation.flag_type("lr"))
    parser.add_argument("--layers", type=validation.flag_type("num_layers"))
    args = parser.parse_args(["--lr", "3e-4", "--layers", "2"])
    assert (args.lr, args.layers) == (3e-4, 2)
    with pytest.raises(argparse.ArgumentError, match="argument --lr: inf is not finite"):
        parser.parse_args(["--lr", "inf"])


def test_cross_field_messages_say_which_value_came_from_a_flag_and_which_from_the_preset():
    labels = validation.flag_labels(given={"num_heads"}, preset="small")
    cfg = {**get_preset("small").model.to_dict(), "num_heads": 3}
    with pytest.raises(ValueError) as err:
        validation.validate_model_config(cfg, "train flags", labels=labels)
    assert str(err.value) == (
        "train flags: d_class (preset 'small') = 32 is not divisible by --heads = 3; expected a d_class that "
        "is a multiple of num_heads (mmcse splits d_class across the heads)"
    )
