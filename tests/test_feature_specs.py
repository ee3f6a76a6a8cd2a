"""Feature spec files (--features FILE): the shipped examples load, train and evaluate end to end, the
spec travels in the checkpoint, and every malformed file or dataset gives one line naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcse.checkpoint import read_checkpoint_meta
from mmcse.cli import main as cli_main
from mmcse.config import HAN_FEATURES, VALOR_FEATURES, FeatureSpec
from mmcse.data.synthetic import write_synthetic_dataset
from mmcse.feature_specs import feature_spec_from_arg, feature_spec_from_mapping, read_feature_spec_file

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "features"
TINY_MODEL = ["--preset", "small", "--epochs", "1", "--batch-size", "8", "--d-model", "16", "--d-class", "8",
              "--layers", "1", "--heads", "2", "--device", "cpu", "--no-progress"]  # fmt: skip

# what each example must hold: (audio, visual, visual_st) folders and shapes, pseudo folders
EXPECTED = {
    "vggish_clip_r2p1d": (
        [("vggish", (10, 128)), ("CLIP/features", (10, 768)), ("r2plus1d_18", (10, 512))], None),
    "han_with_valor_pseudo": (
        [("vggish", (10, 128)), ("res152", (80, 2048)), ("r2plus1d_18", (10, 512))],
        ("CLAP/segment_pseudo_labels", "CLIP/segment_pseudo_labels")),
    "valor_plus_plus": (
        [("CLAP/features", (64, 768)), ("CLIP/features", (10, 768)), ("r2plus1d_18", (10, 512))],
        ("CLAP/segment_pseudo_labels", "CLIP/segment_pseudo_labels")),
}  # fmt: skip


def test_the_example_spec_files_hold_the_mixed_sets_of_the_issue():
    assert sorted(p.stem for p in EXAMPLES.glob("*.toml")) == sorted(EXPECTED)
    for name, (streams, pseudo) in EXPECTED.items():
        spec = feature_spec_from_arg(str(EXAMPLES / f"{name}.toml"))
        assert spec.name == name
        assert [(s.name, s.shape) for s in spec.streams.values()] == streams
        assert (spec.pseudo_audio, spec.pseudo_visual) == (pseudo or (None, None))
    # VALOR++ is the valor preset's inputs; the HAN mix has HAN's inputs plus VALOR's pseudo labels
    assert feature_spec_from_arg(str(EXAMPLES / "valor_plus_plus.toml")).same_inputs(VALOR_FEATURES)
    han_mix = feature_spec_from_arg(str(EXAMPLES / "han_with_valor_pseudo.toml"))
    assert han_mix.same_inputs(HAN_FEATURES) and han_mix.pseudo_audio == VALOR_FEATURES.pseudo_audio


def test_presets_by_name_and_json_round_trip_of_a_checkpoint_spec(tmp_path):
    assert feature_spec_from_arg("han") is HAN_FEATURES
    path = tmp_path / "from_checkpoint.json"
    path.write_text(json.dumps(VALOR_FEATURES.to_dict()))  # a checkpoint's feature_spec dict
    assert read_feature_spec_file(path) == VALOR_FEATURES
    with pytest.raises(ValueError, match="unknown feature preset 'clap'.*spec file"):
        feature_spec_from_arg("clap")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_example_trains_one_epoch_and_evaluate_reads_the_spec_back(tmp_path, capsys, name):
    spec_file = EXAMPLES / f"{name}.toml"
    spec = feature_spec_from_arg(str(spec_file))
    data = write_synthetic_dataset(tmp_path / "data", spec, n_train=8, n_val=4, n_test=4, seed=1)
    run = tmp_path / "run"
    rc = cli_main(["train", "--data-root", str(data.root), "--features", str(spec_file), "--out", str(run),
                   *TINY_MODEL])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert f"on {name!r} features" in out
    assert ("recipe 'pseudo'" if spec.pseudo_audio else "recipe 'weak'") in out
    meta = read_checkpoint_meta(run / "best.safetensors")
    assert FeatureSpec.from_dict(meta["feature_spec"]) == spec
    assert meta["model_config"]["visual_len"] == spec.visual.shape[0]
    # evaluate takes no --features: it reads the spec from the checkpoint
    report_path = tmp_path / "eval.json"
    rc = cli_main(["evaluate", "--checkpoint", str(run / "best.safetensors"), "--data-root", str(data.root),
                   "--split", "test", "--device", "cpu", "--json", str(report_path)])  # fmt: skip
    assert rc == 0
    report = json.loads(report_path.read_text())
    assert report["n_clips"] == 4 and set(report["scores"]) >= {"seg_type", "evt_event"}


def _write_spec(tmp_path: Path, text: str, suffix: str = ".toml") -> Path:
    path = tmp_path / f"spec{suffix}"
    path.write_text(text)
    return path


GOOD = {
    "audio": {"folder": "aud", "shape": [10, 16]},
    "visual": {"folder": "vis", "shape": [10, 24]},
    "visual_st": {"folder": "st", "shape": [10, 8]},
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"visual_st": None}, r": the feature spec lacks visual_st \(every feature spec names audio, visual, visual_st\)$"),
        ({"audio": {"folder": "aud", "shape": [10]}}, r"audio.shape = \[10\] is not \[length, dim\]; expected \[length, dim\]"),
        ({"audio": {"folder": "aud", "shape": [10, 0]}}, r"audio.shape = \[10, 0\] is a dim 0 that is below 1; expected"),
        ({"visual": {"folder": "vis", "shape": [10, True]}},
         r"visual.shape = \[10, True\] is a dim true that is a boolean, not a whole number; expected"),
        ({"visual": {"folder": "vis", "shape": "10x24"}}, "visual.shape = '10x24' is a string, not a list; expected"),
        (  # bounded: a typo'd size is refused before any array is allocated
            {"visual": {"folder": "vis", "shape": [10, 1000000000000]}},
            r"visual.shape = \[10, 1000000000000\] is a dim 1000000000000 that is above 65536; expected \[length, dim\], "
            "whole numbers, length 1 to 10000 and dim 1 to 65536$",
        ),
        ({"visual": {"folder": "vis", "shape": [100000, 24]}}, r"visual.shape = \[100000, 24\] is a length 100000 that is above 10000; expected"),
        ({"visual": {"folder": "vis", "shape": [10, 1e3]}}, r"visual.shape = \[10, 1000.0\] is a dim 1000.0 that is a number, not a whole number; expected"),
        ({"audio": {"folder": "aud", "shape": [20, 16]}}, "audio.shape length 20; the models take 10"),
        (
            {"visual": {"folder": "vis", "shape": [15, 24]}},
            "visual.shape length 15; expected a multiple of 10",
        ),
        ({"visual_st": {"folder": "st", "shape": [8, 8]}}, "visual_st.shape length 8; expected 10"),
        ({"audio": {"shape": [10, 16]}}, r"the feature spec lacks audio.folder \(the folder of its .npy files under the feature root\)"),
        ({"audio": {"folder": "/abs/aud", "shape": [10, 16]}}, "audio.folder '/abs/aud' is an absolute path"),
        ({"audio": {"folder": "aud", "shape": [10, 16], "dims": 3}}, r"audio.dims is not a field"),
        ({"pseudo_audio": "pa"}, "give both pseudo_audio and pseudo_visual"),
        ({"streams": 3}, "streams is not a field of the feature spec; expected audio, name, pseudo_audio, pseudo_visual, visual, visual_st"),
        ({"name": "han"}, "name 'han' is the name of a preset with other streams"),
        ({"name": ""}, "name = '' is an empty string; expected a non-empty string"),
    ],
)
def test_a_malformed_spec_names_the_file_and_the_field(tmp_path, change, message):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    path = _write_spec(tmp_path, json.dumps(data), ".json")
    with pytest.raises(ValueError, match=message) as err:
        read_feature_spec_file(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_file_level_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="feature spec file .*nope.toml not found"):
        feature_spec_from_arg(str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="expected a .json or .toml file"):
        feature_spec_from_arg(str(_write_spec(tmp_path, "a: 1", ".yaml")))
    with pytest.raises(ValueError, match="not valid TOML"):
        read_feature_spec_file(_write_spec(tmp_path, "[audio\nfolder = 1"))
    with pytest.raises(ValueError, match="not valid JSON"):
        read_feature_spec_file(_write_spec(tmp_path, "{", ".json"))
    with pytest.raises(ValueError, match="the feature spec is a list; expected an object with audio, visual, visual_st"):
        read_feature_spec_file(_write_spec(tmp_path, "[1, 2]", ".json"))
    # Python 3.10 has no tomllib: the tomli package reads TOML there; without it, one line that says what to do
    import sys

    try:
        import tomllib as parser
    except ModuleNotFoundError:  # Python 3.10
        import tomli as parser
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", parser)  # tomli is the same parser under another name
    assert read_feature_spec_file(EXAMPLES / "valor_plus_plus.toml").name == "valor_plus_plus"
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ValueError, match="on Python 3.10 needs the tomli package .*or write the same keys as a .json file"):
        read_feature_spec_file(EXAMPLES / "valor_plus_plus.toml")


def test_the_name_defaults_to_the_file_name(tmp_path):
    spec = feature_spec_from_mapping(GOOD, tmp_path / "my_set.json")
    assert spec.name == "my_set" and spec.visual.shape == (10, 24) and spec.pseudo_audio is None


TOML_TINY = """name = "tiny_file"
[audio]
folder = "aud"
shape = [10, 16]
[visual]
folder = "vis"
shape = [10, 24]
[visual_st]
folder = "st"
shape = [10, %d]
"""


def test_a_missing_folder_or_a_wrong_shape_gives_the_usual_one_line_errors(tmp_path, capsys):
    spec_file = _write_spec(tmp_path, TOML_TINY % 8)
    spec = read_feature_spec_file(spec_file)
    data = write_synthetic_dataset(tmp_path / "data", spec, n_train=4, n_val=2, n_test=2, seed=2)
    base = ["train", "--data-root", str(data.root), *TINY_MODEL]

    # the dataset holds (10, 8) visual_st files, the spec says (10, 12)
    wrong = _write_spec(tmp_path / "data", TOML_TINY % 12)
    assert cli_main([*base, "--features", str(wrong), "--out", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "st/" in err and "shape (10, 8), expected (10, 12)" in err

    # a stream folder of the spec is missing
    (data.feature_root / "vis").rename(data.feature_root / "vis_gone")
    assert cli_main([*base, "--features", str(spec_file), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "holds no 'tiny_file' features (expected folders aud, vis, st)" in err
    assert np.load(next((data.feature_root / "st").glob("*.npy"))).shape == (10, 8)
