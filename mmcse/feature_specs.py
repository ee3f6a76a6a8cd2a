"""Feature specs from the command line: a preset name (han | valor | demo) or a small JSON / TOML file.

    feature_spec_from_arg("valor")                                  -> the preset
    feature_spec_from_arg("examples/features/vggish_clip_r2p1d.toml")  -> a FeatureSpec read from the file

A spec file names, per stream, the folder under the feature root and the per-clip shape [length, dim],
and optionally the two pseudo-label folders (VALOR's recipe):

    name = "vggish_clip_r2p1d"                  # optional; default: the file name without suffix
    pseudo_audio = "CLAP/segment_pseudo_labels"  # optional, both or neither
    pseudo_visual = "CLIP/segment_pseudo_labels"
    [audio]
    folder = "vggish"
    shape = [10, 128]
    description = "VGGish, one embedding per segment"   # optional
    [visual]
    folder = "CLIP/features"
    shape = [10, 768]
    [visual_st]
    folder = "r2plus1d_18"
    shape = [10, 512]

JSON takes the same keys (a checkpoint's ``feature_spec`` dict also loads: ``name`` is accepted for
``folder``). The shapes are checked against what the models accept (mmcse.models.layers.InputProjection):
audio length 10 (one step per segment) or 64 (a CLAP map), visual length a multiple of 10 (frames averaged
in groups), visual_st length 10; every length 1 to 10000 and dim 1 to 65536 (the JSON Schema
mmcse.validation.feature_spec_schema). Every problem is one ValueError naming the file and the field.
TOML is read by ``tomllib`` (Python 3.11+) or the ``tomli`` package (Python 3.10).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmcse import config, validation
from mmcse.classes import NUM_SEGMENTS
from mmcse.config import FeatureSpec, StreamSpec

SPEC_SUFFIXES = (".json", ".toml")
STREAM_KEYS = ("audio", "visual", "visual_st")
AUDIO_LENGTHS = (NUM_SEGMENTS, 64)  # per-segment audio, or a CLAP map mixed to 10 steps


def looks_like_spec_file(value: str) -> bool:
    """A ``--features`` value that names a file rather than a preset."""
    return value.endswith(SPEC_SUFFIXES) or "/" in value or "\\" in value or Path(value).is_file()


def feature_spec_from_arg(value: str) -> FeatureSpec:
    """``--features`` -> FeatureSpec: a preset name (han | valor | demo) or a .json / .toml spec file."""
    if not looks_like_spec_file(value):
        try:
            return config.feature_preset(value)  # looked up on the module: tests may swap the registry
        except ValueError:
            raise ValueError(
                f"unknown feature preset {value!r}; expected one of: {', '.join(config.FEATURE_PRESETS)}, "
                "or a .json / .toml feature spec file (see examples/features/)"
            ) from None
    return read_feature_spec_file(value)


def read_feature_spec_file(path: str | Path) -> FeatureSpec:
    """Read and check a .json or .toml feature spec file (format: this module's docstring)."""
    path = Path(path)
    if path.suffix not in SPEC_SUFFIXES:
        raise ValueError(f"feature spec {path}: expected a .json or .toml file (or a preset name)")
    if not path.is_file():
        raise FileNotFoundError(
            f"feature spec file {path} not found; give a preset (han | valor | demo) or a spec file"
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"feature spec {path}: not valid JSON ({exc})") from None
    else:
        data = _parse_toml(text, path)
    return feature_spec_from_mapping(data, path)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the tomli package (a dependency there), the same parser
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ValueError(
                f"feature spec {path}: reading TOML on Python 3.10 needs the tomli package (pip install tomli); "
                "or write the same keys as a .json file"
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"feature spec {path}: not valid TOML ({exc})") from None


def feature_spec_from_mapping(data: Any, where: str | Path = "feature spec") -> FeatureSpec:
    """A checked FeatureSpec from the parsed contents of a spec file; ``where`` names it in errors. The
    form is checked against ``validation.feature_spec_schema(stored=False)``; what a schema does not say
    (folder vs name, relative folders, pseudo folders in pairs, the models' lengths, preset names) here."""
    source = f"feature spec {where}"
    refusal = validation.schema_refusal(data, source, stored=False)
    if refusal is not None:
        raise refusal
    streams = {key: _stream(data[key], key, source) for key in STREAM_KEYS}
    audio, visual = data.get("pseudo_audio"), data.get("pseudo_visual")
    if (audio is None) != (visual is None):
        raise ValueError(f"{source}: give both pseudo_audio and pseudo_visual, or neither")
    name = data.get("name", Path(str(where)).stem)
    spec = FeatureSpec(name=name.strip(), **streams, pseudo_audio=audio, pseudo_visual=visual)
    check_model_lengths(spec, where)
    _check_not_a_preset_impostor(spec, where)
    return spec


def _stream(s: dict[str, Any], key: str, source: str) -> StreamSpec:
    if "folder" in s and "name" in s and s["folder"] != s["name"]:
        raise ValueError(f"{source}: {key} gives both folder and name; give folder only")
    folder = s.get("folder", s.get("name"))
    if Path(folder).is_absolute():
        raise ValueError(
            f"{source}: {key}.folder {folder!r} is an absolute path; give the folder relative to the "
            "feature root (e.g. 'vggish' or 'CLIP/features')"
        )
    shape = (int(s["shape"][0]), int(s["shape"][1]))
    return StreamSpec(name=folder, shape=shape, description=s.get("description", ""))


def check_model_lengths(spec: FeatureSpec, where: str | Path = "feature spec") -> None:
    """The per-clip lengths every model here accepts (mmcse.models.layers.InputProjection)."""
    audio_len, visual_len, st_len = (s.shape[0] for s in spec.streams.values())
    if audio_len not in AUDIO_LENGTHS:
        raise ValueError(
            f"feature spec {where}: audio.shape length {audio_len}; the models take {NUM_SEGMENTS} "
            "(one step per 1-s segment) or 64 (a CLAP feature map)"
        )
    if visual_len % NUM_SEGMENTS != 0:
        raise ValueError(
            f"feature spec {where}: visual.shape length {visual_len}; expected a multiple of {NUM_SEGMENTS} "
            f"(frames are averaged in groups to {NUM_SEGMENTS} segments)"
        )
    if st_len != NUM_SEGMENTS:
        raise ValueError(f"feature spec {where}: visual_st.shape length {st_len}; expected {NUM_SEGMENTS}")


def _check_not_a_preset_impostor(spec: FeatureSpec, where) -> None:
    """A file may repeat a preset, but not reuse its name for other streams (run folders would mislead)."""
    preset = config.FEATURE_PRESETS.get(spec.name)
    if preset is not None and not preset.same_inputs(spec):
        raise ValueError(
            f"feature spec {where}: name {spec.name!r} is the name of a preset with other streams; "
            "give the spec its own name"
        )
