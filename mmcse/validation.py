"""One validation layer for what users and files hand us: flags, feature specs, config.json and checkpoint
metadata. Plain Python, no torch: it runs before any model is built, and every refusal is ONE line

    "<source>: <field> = <value> is <problem>; expected <valid range>"

naming where the value came from (``source``: "checkpoint runs/a/best.safetensors", "train flags", ...)
and the field as the user knows it (``model_config.d_model`` in a checkpoint, ``--d-model`` for a flag).

    validate_model_config(d, source)       a ModelConfig dict: types, ranges, heads dividing the width, ...
    validate_train_config(d, source)       a TrainConfig dict
    validate_feature_spec(d, source)       a FeatureSpec dict (``FeatureSpec.to_dict`` form)
    validate_checkpoint_meta(meta, source, max_version=..., model_fields=..., train_fields=...)
    flag_type("lr")                        an argparse ``type=`` that checks one flag against its field's rule
    flag_labels(given, preset)             field -> "--d-model" or "d_model (preset 'small')", for messages
    finite_or_null(obj)                    NaN / inf -> None, before ``json.dumps(obj, allow_nan=False)``

ModelConfig / TrainConfig / FeatureSpec call these on construction and in ``from_dict`` (mmcse.config),
so a config with ``d_model`` 0, a NaN loss weight or a [10, 10^12] stream never reaches torch.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ARCHS = ("mmcse", "han", "valor")
GATINGS = ("mmcse", "fused", "modality")
NUM_CLASSES = 25  # the LLP classes (mmcse.classes)
NUM_SEGMENTS = 10
CLAP_MAP_LENGTH = 64  # an audio stream of 64 steps is a CLAP map, time-mixed to 10 segments
MAX_LENGTH = 10_000  # steps per clip of one stream
MAX_DIM = 65_536  # features per step of one stream
STREAM_KEYS = ("audio", "visual", "visual_st")


@dataclass(frozen=True)
class Rule:
    """What one field accepts. ``kind`` int | float | str | bool; floats must be finite; ``low`` / ``high``
    bound numbers (``*_open``: the bound itself is refused); ``pair``: a list of two such numbers."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    pair: bool = False
    note: str = ""  # appended to "expected ...", e.g. "(the 25 LLP classes)"

    def describe(self) -> str:
        """The valid values in words: "a whole number from 2 to 8192"."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return "a string"
        noun = "a whole number" if self.kind is int else "a finite number"
        if self.low is not None and self.low == self.high:
            text = f"{_show(self.low)}"
        elif self.kind is int and self.low is not None and self.high is not None:
            text = f"{noun} from {_show(self.low)} to {_show(self.high)}"
        else:
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {_show(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {_show(self.high)}")
            text = f"{noun} {' and '.join(bounds)}".rstrip()
        if self.pair:
            text = f"two numbers, each {text.removeprefix('a finite number ')}"
        return f"{text} {self.note}".rstrip()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks the rule ("is below 2"), or None when it is valid."""
        if self.pair:
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                return "not a pair of numbers"
            return next((p for p in map(self._problem_of_one, value) if p), None)
        return self._problem_of_one(value)

    def _problem_of_one(self, value: Any) -> str | None:
        if self.kind is bool:
            return None if isinstance(value, bool) else f"{_kind_of(value)}, not true or false"
        if self.kind is str:
            if not isinstance(value, str):
                return f"{_kind_of(value)}, not a string"
            if self.choices and value not in self.choices:
                return "not a known value"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{_kind_of(value)}, not {'a whole number' if self.kind is int else 'a number'}"
        if self.kind is int and not isinstance(value, int):
            return "not a whole number"
        if not math.isfinite(value):
            return "not finite"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"{'not above' if self.low_open else 'below'} {_show(self.low)}"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return f"{'not below' if self.high_open else 'above'} {_show(self.high)}"
        return None

    def clean(self, value: Any) -> Any:
        """A valid value in its canonical type (ints for floats given as 1, a tuple for a pair)."""
        if self.pair:
            return tuple(float(v) for v in value)
        return float(value) if self.kind is float else value


def _whole(low: int, high: int, note: str = "") -> Rule:
    return Rule(int, low, high, note=note)


def _number(low=None, high=None, *, low_open=False, high_open=False, note="") -> Rule:
    return Rule(float, low, high, low_open=low_open, high_open=high_open, note=note)


_SWITCH = Rule(bool)
_LOSS_WEIGHT = _number(0.0, 1e6)

MODEL_RULES: dict[str, Rule] = {
    "arch": Rule(str, choices=ARCHS),
    "audio_dim": _whole(1, MAX_DIM),
    "audio_len": _whole(1, MAX_LENGTH),
    "visual_dim": _whole(1, MAX_DIM),
    "visual_len": _whole(1, MAX_LENGTH),
    "visual_st_dim": _whole(1, MAX_DIM),
    "num_classes": _whole(NUM_CLASSES, NUM_CLASSES, "(the LLP classes)"),
    "num_segments": _whole(NUM_SEGMENTS, NUM_SEGMENTS, "(1-s segments of a 10-s clip)"),
    "d_model": _whole(2, 8192),
    "d_class": _whole(2, 8192),
    "num_layers": _whole(0, 64),
    "num_heads": _whole(1, 64),
    "dropout": _number(0.0, 1.0, high_open=True),
    "ff_dim": _whole(0, 65_536, note="(0: d_model)"),
    **dict.fromkeys(("use_cafd", "use_background", "dynamic_fusion", "use_secm", "use_lgsf"), _SWITCH),
    **dict.fromkeys(("use_intra", "use_cross"), _SWITCH),
    **dict.fromkeys(("w_video", "w_segment", "w_rec", "w_ort", "w_ec"), _LOSS_WEIGHT),
}

TRAIN_RULES: dict[str, Rule] = {
    "epochs": _whole(1, 100_000),
    "batch_size": _whole(1, 1_000_000),
    "lr": _number(0.0, 1.0, low_open=True),
    "weight_decay": _number(0.0, 10.0),
    "betas": Rule(float, 0.0, 1.0, high_open=True, pair=True),
    "optimizer": Rule(str, choices=("adamw", "adam")),
    "schedule": Rule(str, choices=("step", "cosine")),
    "step_size": _whole(1, 100_000),
    "gamma": _number(0.0, 1.0, low_open=True),
    "warmup_epochs": _whole(0, 100_000),
    "lr_min": _number(0.0, 1.0),
    "clip_grad_norm": _number(0.0, 1e6, note="(0 disables clipping)"),
    "seed": _whole(0, 2**32 - 1),
    "num_workers": _whole(0, 256),
    "gating": Rule(str, choices=GATINGS),
}

# the train command's flags -> config fields (for flag_type and flag_labels)
FLAG_FIELDS: dict[str, str] = {
    "--layers": "num_layers", "--heads": "num_heads", "--d-model": "d_model", "--d-class": "d_class",
    "--dropout": "dropout", "--w-rec": "w_rec", "--w-ort": "w_ort", "--w-ec": "w_ec", "--model": "arch",
    "--epochs": "epochs", "--batch-size": "batch_size", "--lr": "lr", "--weight-decay": "weight_decay",
    "--optimizer": "optimizer", "--schedule": "schedule", "--warmup-epochs": "warmup_epochs", "--lr-min": "lr_min", "--ff-dim": "ff_dim",
    "--clip-grad-norm": "clip_grad_norm", "--seed": "seed", "--gating": "gating",
}  # fmt: skip


def _show(value: Any) -> str:
    """A value as a user wrote it: JSON words for null / booleans, repr for strings, short otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_of(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", str: "a string", list: "a list", tuple: "a list",
             dict: "an object", int: "a whole number", float: "a number"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _refuse(source: str, label: str, value: Any, problem: str, expected: str) -> ValueError:
    return ValueError(f"{source}: {label} = {_show(value)} is {problem}; expected {expected}")


def _generic_rule(default: Any) -> Rule | None:
    """The rule of a config field without an entry in the tables above: its default's type."""
    if isinstance(default, bool):
        return _SWITCH
    if isinstance(default, int):
        return Rule(int)
    if isinstance(default, float):
        return _number()
    if isinstance(default, str):
        return Rule(str)
    return None  # a list, a tuple, None: not checked here


def check_fields(
    d: Any,
    rules: Mapping[str, Rule],
    source: str,
    *,
    prefix: str = "",
    labels: Mapping[str, str] | None = None,
    fields: Mapping[str, Any] | None = None,
    required: Iterable[str] = (),
) -> dict[str, Any]:
    """Check every field of ``d`` against ``rules`` (plus, for ``fields`` -- a dataclass's defaults -- the
    fields without a rule, by their default's type); refuse unknown and missing ``required`` ones.
    Returns ``d`` with canonical values (floats as float, pairs as tuples)."""
    what = prefix.rstrip(".") or "the config"
    if not isinstance(d, Mapping):
        raise ValueError(f"{source}: {what} is {_kind_of(d)}; expected an object of fields")
    labels = labels or {}
    known = set(fields) if fields is not None else set(rules)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(
            f"{source}: {prefix}{unknown[0]} is not a field of {what}; "
            f"expected some of: {', '.join(sorted(known))}"
        )
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{source}: {what} lacks {', '.join(prefix + k for k in missing)}")
    out = dict(d)
    for key, value in d.items():
        rule = rules.get(key) or _generic_rule((fields or {}).get(key))
        if rule is None:
            continue
        problem = rule.problem(value)
        if problem:
            raise _refuse(source, labels.get(key, prefix + key), value, problem, rule.describe())
        out[key] = rule.clean(value)
    return out


def validate_model_config(
    d: Any,
    source: str,
    *,
    prefix: str = "",
    labels: Mapping[str, str] | None = None,
    fields: Mapping[str, Any] | None = None,
    required: Iterable[str] = (),
) -> dict[str, Any]:
    """A ModelConfig dict, checked field by field and across fields (the attention heads divide the width
    they split, input lengths the models take, an FGSE branch left on). Returns the canonical dict."""
    out = check_fields(d, MODEL_RULES, source, prefix=prefix, labels=labels, fields=fields, required=required)
    label = {k: (labels or {}).get(k, prefix + k) for k in MODEL_RULES}
    arch, heads, layers = out.get("arch", "mmcse"), out.get("num_heads"), out.get("num_layers", 1)
    width = "d_class" if arch == "mmcse" else "d_model"  # MM-CSE attends across classes in d_class
    if heads is not None and out.get(width) is not None and layers > 0 and out[width] % heads:
        raise ValueError(
            f"{source}: {label[width]} = {out[width]} is not divisible by {label['num_heads']} = {heads}; "
            f"expected a {width} that is a multiple of num_heads ({arch} splits {width} across the heads)"
        )
    segments = out.get("num_segments", NUM_SEGMENTS)
    if "audio_len" in out and out["audio_len"] not in (segments, CLAP_MAP_LENGTH):
        raise _refuse(source, label["audio_len"], out["audio_len"], "not a length the models take",
                      f"{segments} (one step per segment) or {CLAP_MAP_LENGTH} (a CLAP map)")  # fmt: skip
    if "visual_len" in out and out["visual_len"] % segments:
        raise _refuse(source, label["visual_len"], out["visual_len"], f"not a multiple of {segments}",
                      f"a multiple of {segments} (frames are averaged in groups to {segments})")  # fmt: skip
    if arch == "mmcse" and layers > 0 and out.get("use_intra") is False and out.get("use_cross") is False:
        raise ValueError(
            f"{source}: {label['use_intra']} and {label['use_cross']} are both false with "
            f"{label['num_layers']} "
            f"= {layers}; expected at least one FGSE branch on (or num_layers 0)"
        )
    return out


def validate_train_config(
    d: Any,
    source: str,
    *,
    prefix: str = "",
    labels: Mapping[str, str] | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A TrainConfig dict, checked field by field. Returns the canonical dict (betas as a tuple)."""
    return check_fields(d, TRAIN_RULES, source, prefix=prefix, labels=labels, fields=fields)


_LENGTH, _DIM = _whole(1, MAX_LENGTH), _whole(1, MAX_DIM)


def shape_problem(shape: Any) -> str | None:
    """Why a stream shape [length, dim] is refused (None when valid): two whole numbers, length 1 to
    10000, dim 1 to 65536."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 2:
        return "not [length, dim]"
    for name, rule, n in (("length", _LENGTH, shape[0]), ("dim", _DIM, shape[1])):
        problem = rule.problem(n)
        if problem:
            return f"a {name} {_show(n)} that is {problem}"
    return None


SHAPE_EXPECTED = f"[length, dim], whole numbers, length 1 to {MAX_LENGTH} and dim 1 to {MAX_DIM}"


def feature_spec_schema(stored: bool) -> dict[str, Any]:
    """The JSON Schema of a feature spec. ``stored``: ``FeatureSpec.to_dict``'s form (checkpoints, run
    configs: every field named, a stream's folder is its ``name``); else a spec file's (mmcse.feature_specs:
    ``name`` optional, a stream's folder is ``folder`` or ``name``). Each part's ``description`` is what
    it expects, for the one-line refusals of ``schema_refusal``."""
    folder = {"type": "string", "pattern": r"\S", "description": "a non-empty string (a name or folder)"}
    shape = {
        "type": "array", "minItems": 2, "maxItems": 2, "description": SHAPE_EXPECTED,
        "prefixItems": [{"type": "integer", "minimum": 1, "maximum": MAX_LENGTH, "title": "length"},
                        {"type": "integer", "minimum": 1, "maximum": MAX_DIM, "title": "dim"}],
    }  # fmt: skip
    fields = ("name", "shape", "description") if stored else ("folder", "shape", "description")
    stream = {
        "type": "object", "description": "an object with name and shape" if stored else "a table with folder and shape",
        "properties": {"folder": folder, "name": folder, "shape": shape,
                       "description": {"type": "string", "description": "a string"}},
        "required": ["name", "shape"] if stored else ["shape"],
        "additionalProperties": False, "$comment": ", ".join(fields),  # the fields to name in a refusal
    }  # fmt: skip
    if not stored:
        stream["anyOf"] = [{"required": ["folder"]}, {"required": ["name"]}]
    pseudo = {**folder, "type": ["string", "null"]}
    top = ("name", *STREAM_KEYS, "pseudo_audio", "pseudo_visual")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "description": "an object with audio, visual, visual_st",
        "properties": {"name": folder, **dict.fromkeys(STREAM_KEYS, stream), "pseudo_audio": pseudo,
                       "pseudo_visual": pseudo},
        "required": [*(["name"] if stored else []), *STREAM_KEYS],
        "additionalProperties": False, "$comment": ", ".join(sorted(top)),
    }  # fmt: skip


_SCHEMA_VALIDATORS: dict[bool, Any] = {}


def _schema_validator(stored: bool):
    """A jsonschema validator of ``feature_spec_schema(stored)`` (built once) whose integers are whole
    numbers written as such (JSON Schema counts 1000.0 as an integer, a shape must not) and whose arrays
    may be tuples."""
    if stored not in _SCHEMA_VALIDATORS:
        import jsonschema

        base = jsonschema.Draft202012Validator
        types = base.TYPE_CHECKER.redefine_many({
            "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool),
            "array": lambda _, v: isinstance(v, (list, tuple)),  # to_dict's shapes are tuples
        })  # fmt: skip
        validator = jsonschema.validators.extend(base, type_checker=types)
        _SCHEMA_VALIDATORS[stored] = validator(feature_spec_schema(stored))
    return _SCHEMA_VALIDATORS[stored]


_TYPE_WORDS = {"integer": "a whole number", "string": "a string", "array": "a list", "object": "an object"}


def schema_refusal(d: Any, source: str, *, stored: bool, prefix: str = "") -> ValueError | None:
    """The first way ``d`` breaks the feature spec schema, as one line naming ``source`` and the field
    (``prefix`` + its path), or None when ``d`` fits it."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_schema_validator(stored).iter_errors(d))
    if error is None:
        return None
    path = [str(p) for p in error.absolute_path]
    what = prefix.rstrip(".") or "the feature spec"
    where = prefix + ".".join(path)
    keyword, schema, value = error.validator, error.schema, error.instance
    if keyword in ("required", "anyOf"):  # anyOf: a spec file's stream without folder (or name)
        missing = next(m for m in schema["required"] if m not in value) if keyword == "required" else "folder"
        field = f"{where}.{missing}" if path else prefix + missing
        why = ("every feature spec names audio, visual, visual_st" if not path
               else "the folder of its .npy files under the feature root" if missing == "folder"
               else f"{where} needs it")  # fmt: skip
        return ValueError(f"{source}: {what} lacks {field} ({why})")
    if keyword == "additionalProperties":
        extra = sorted(set(value) - set(schema["properties"]))[0]
        of = f" of {what}" if not path else ""
        return ValueError(f"{source}: {f'{where}.' if path else prefix}{extra} is not a field{of}; "
                          f"expected {schema['$comment']}")  # fmt: skip
    if "title" in schema:  # a number of a shape: named in the whole shape, as "a dim 0 that is below 1"
        shape = d
        for p in list(error.absolute_path)[:-1]:
            shape = shape[p]
        inner = _schema_problem(keyword, schema, value)
        shown = repr(value) if isinstance(value, float) else _show(value)  # 1000.0, not 1000
        return _refuse(source, prefix + ".".join(path[:-1]), shape, f"a {schema['title']} {shown} that is {inner}",
                       SHAPE_EXPECTED)  # fmt: skip
    if not path:  # not an object at all
        return ValueError(f"{source}: {what} is {_kind_of(d)}; expected {schema['description']}")
    return _refuse(source, where, value, _schema_problem(keyword, schema, value), schema.get("description", "?"))


def _schema_problem(keyword: str, schema: dict, value: Any) -> str:
    """What a value breaking ``schema``'s ``keyword`` is, in words ("below 1", "a string, not a list")."""
    if keyword == "type":
        wanted = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
        return f"{_kind_of(value)}, not {_TYPE_WORDS.get(wanted, wanted)}"
    if keyword == "minimum":
        return f"below {_show(schema['minimum'])}"
    if keyword == "maximum":
        return f"above {_show(schema['maximum'])}"
    if keyword in ("minItems", "maxItems"):
        return "not [length, dim]"
    if keyword == "pattern":
        return "an empty string"
    return f"refused by the schema ({keyword})"


def validate_feature_spec(d: Any, source: str, *, prefix: str = "") -> None:
    """A FeatureSpec dict as ``FeatureSpec.to_dict`` writes it (streams with ``name`` and ``shape``),
    checked against ``feature_spec_schema(stored=True)``."""
    refusal = schema_refusal(d, source, stored=True, prefix=prefix)
    if refusal is not None:
        raise refusal


def validate_checkpoint_meta(
    meta: Any,
    source: str,
    *,
    format_name: str,
    max_version: int,
    model_fields: Mapping[str, Any] | None = None,
    train_fields: Mapping[str, Any] | None = None,
) -> None:
    """The metadata of an mmcse checkpoint: its format and version, the model, train and feature configs,
    and that the copies of a value agree (arch, gating, seed; the model's input dims and the spec's shapes).
    ``model_fields`` / ``train_fields``: the config dataclasses' defaults (mmcse.config.field_defaults)."""
    if not isinstance(meta, Mapping):
        raise ValueError(f"{source}: the metadata is {_kind_of(meta)}; expected an object")
    if meta.get("format") != format_name:
        raise _refuse(source, "format", meta.get("format"), "not an mmcse checkpoint's", repr(format_name))
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _refuse(
            source,
            "format_version",
            version,
            "not a format version",
            f"a whole number from 1 to {max_version}",
        )
    if version > max_version:
        raise _refuse(source, "format_version", version, f"newer than this mmcse reads ({max_version})",
                      f"a version up to {max_version}; update mmcse to read this checkpoint")  # fmt: skip
    for key in ("model_config", "feature_spec"):
        if key not in meta:
            raise ValueError(f"{source}: the metadata lacks {key}")
    model = validate_model_config(meta["model_config"], source, prefix="model_config.", fields=model_fields,
                                  required=CHECKPOINT_MODEL_FIELDS)  # fmt: skip
    validate_feature_spec(meta["feature_spec"], source, prefix="feature_spec.")
    _check_inputs_match_spec(model, meta["feature_spec"], source)
    if "arch" not in meta:
        raise ValueError(f"{source}: the metadata lacks arch")
    if meta["arch"] != model["arch"]:
        raise ValueError(
            f"{source}: arch = {_show(meta['arch'])} contradicts model_config.arch = {_show(model['arch'])}; "
            "the metadata was edited or damaged: re-create the checkpoint"
        )
    train = meta.get("train_config")
    if train is not None:
        train = validate_train_config(train, source, prefix="train_config.", fields=train_fields)
    for key, rule in (("gating", TRAIN_RULES["gating"]), ("seed", TRAIN_RULES["seed"])):
        value = meta.get(key)
        if value is None:
            continue
        problem = rule.problem(value)
        if problem:
            raise _refuse(source, key, value, problem, rule.describe())
        if train is not None and key in train and train[key] != value:
            raise ValueError(
                f"{source}: {key} = {_show(value)} contradicts train_config.{key} = {_show(train[key])}; "
                "the metadata was edited or damaged: re-create the checkpoint"
            )
    for key in ("metrics", "extra"):
        if meta.get(key) is not None and not isinstance(meta[key], Mapping):
            raise _refuse(source, key, meta[key], _kind_of(meta[key]), "an object (or null)")
    _check_domain(meta.get("domain"), source)


# the fields a checkpoint's model_config must state (every mmcse version writes them): without them the
# weights cannot be matched to a model
CHECKPOINT_MODEL_FIELDS = ("arch", "audio_dim", "audio_len", "visual_dim", "visual_len", "visual_st_dim",
                           "d_model", "d_class", "num_layers", "num_heads")  # fmt: skip


def _check_inputs_match_spec(model: Mapping[str, Any], spec: Mapping[str, Any], source: str) -> None:
    """The model's input dims are the spec's shapes (ModelConfig.for_features): both describe one model."""
    pairs = (("audio_len", "audio", 0), ("audio_dim", "audio", 1), ("visual_len", "visual", 0),
             ("visual_dim", "visual", 1), ("visual_st_dim", "visual_st", 1))  # fmt: skip
    for field, stream, axis in pairs:
        if field in model and model[field] != spec[stream]["shape"][axis]:
            raise ValueError(
                f"{source}: model_config.{field} = {model[field]} contradicts feature_spec.{stream}.shape = "
                f"{list(spec[stream]['shape'])}; the metadata was edited or damaged: re-create the checkpoint"
            )
    if spec["visual_st"]["shape"][0] != NUM_SEGMENTS:
        raise _refuse(source, "feature_spec.visual_st.shape", spec["visual_st"]["shape"],
                      f"not {NUM_SEGMENTS} steps long", f"[{NUM_SEGMENTS}, dim]")  # fmt: skip


_THRESHOLD = _number(0.0)


def _check_domain(domain: Any, source: str) -> None:
    """The out-of-domain statistics' metadata: a finite threshold >= 0 per stream (or no domain at all)."""
    if domain is None:
        return
    if not isinstance(domain, Mapping) or not isinstance(domain.get("threshold"), Mapping):
        raise _refuse(
            source, "domain", domain, "not an object with a threshold per stream", "an object or null"
        )
    for key in STREAM_KEYS:
        value = domain["threshold"].get(key)
        problem = _THRESHOLD.problem(value)
        if problem:
            raise _refuse(source, f"domain.threshold.{key}", value, problem, _THRESHOLD.describe())


def finite_or_null(value: Any) -> Any:
    """``value`` (nested dicts / lists) with NaN and inf as None, for ``json.dumps(..., allow_nan=False)``:
    a score that is undefined (an empty class) is stored as JSON null, never as the non-JSON ``NaN``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------- flags


def flag_type(field: str) -> Callable[[str], Any]:
    """An argparse ``type=`` for the flag of a ModelConfig / TrainConfig field: parses the text and refuses
    what the field's rule refuses, e.g. ``t.add_argument("--lr", type=flag_type("lr"))`` refuses inf."""
    rule = MODEL_RULES.get(field) or TRAIN_RULES[field]

    def parse(text: str) -> Any:
        try:
            value = int(text) if rule.kind is int else float(text) if rule.kind is float else text
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if rule.kind is int else 'a number'}; "
                f"expected {rule.describe()}"
            ) from None
        problem = rule.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{text} is {problem}; expected {rule.describe()}")
        return rule.clean(value)

    parse.__name__ = field  # argparse names the type in its own messages
    return parse


def flag_labels(given: Iterable[str], preset: str | None = None) -> dict[str, str]:
    """Field -> how a message names it: the flag for fields ``given`` on the command line ("--d-class"),
    else the field and where it came from ("d_class (preset 'small')")."""
    given = set(given)
    flags = {field: flag for flag, field in FLAG_FIELDS.items()}
    where = f" (preset {preset!r})" if preset else ""
    return {
        field: flags[field] if field in given and field in flags else f"{field}{where}"
        for field in (*MODEL_RULES, *TRAIN_RULES)
    }


__all__ = [
    "CHECKPOINT_MODEL_FIELDS",
    "FLAG_FIELDS",
    "MODEL_RULES",
    "TRAIN_RULES",
    "Rule",
    "check_fields",
    "finite_or_null",
    "flag_labels",
    "flag_type",
    "shape_problem",
    "validate_checkpoint_meta",
    "validate_feature_spec",
    "validate_model_config",
    "validate_train_config",
]
