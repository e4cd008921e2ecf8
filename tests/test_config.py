"""The config spine: one definition of each choice list, the ablation notebook's parameters agree with `RunConfig`,
lower configs are derived by field name, and the training-cache keys of the committed results do not move."""
import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest

from vividportraits import config as C

ROOT = Path(__file__).resolve().parents[1]

# --- the ablation notebook's parameters cell --------------------------------------------------------------------

EXCLUDED = set()  # RunConfig fields the notebook deliberately does not expose (none today)


def notebook_parameters(path=ROOT/"nbs"/"ablate.ipynb") -> dict:
    "name -> default of the cell tagged `parameters` (literals only, as papermill requires)."
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{path}: expected one cell tagged 'parameters', found {len(cells)}"
    out = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        if isinstance(node, ast.AnnAssign): target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1: target, value = node.targets[0], node.value
        else: raise AssertionError(f"parameters cell: unexpected statement {ast.dump(node)[:80]}")
        out[target.id] = ast.literal_eval(value)
    return out


def test_ablate_parameters_are_the_run_config_fields():
    params, fields = notebook_parameters(), set(C.field_names(C.RunConfig))
    assert not set(params) - fields, f"nbs/ablate.ipynb names parameter(s) RunConfig lacks: {sorted(set(params) - fields)}"
    assert not fields - EXCLUDED - set(params), \
        f"nbs/ablate.ipynb lacks RunConfig field(s): {sorted(fields - EXCLUDED - set(params))}"


def test_ablate_defaults_equal_the_run_config_defaults():
    "Compared after parsing: the notebook's 'default' scale range is DEFAULT_SCALE_RANGE, None run_dir the derived one."
    base = C.RunConfig()
    for name, value in notebook_parameters().items():
        got = getattr(C.RunConfig.from_params(**{name: value}), name)
        assert got == getattr(base, name), f"nbs/ablate.ipynb: {name} defaults to {value!r} ({got!r}), RunConfig to {getattr(base, name)!r}"
    assert C.RunConfig.from_params(**notebook_parameters()) == base


def test_the_parameters_check_can_fail(tmp_path):
    "The checks above are not vacuous: a stray parameter, a missing one and a changed default are all caught."
    nb = json.loads((ROOT/"nbs"/"ablate.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    src = "".join(cell["source"])
    for bad in (src + "\nwindow: int = 8\n", src.replace("\nseed: int = 0", "\n#"),
                src.replace('scale_range: str = "default"', 'scale_range: str = "[0.9,1.1]"')):
        cell["source"] = bad; p = tmp_path/"ablate.ipynb"; p.write_text(json.dumps(nb))
        params = notebook_parameters(p)
        fields = set(C.field_names(C.RunConfig))
        differs = set(params) ^ fields or any(getattr(C.RunConfig.from_params(**{k: v}), k) != getattr(C.RunConfig(), k)
                                              for k, v in params.items() if k in fields)
        assert differs


# --- one definition of each choice list ------------------------------------------------------------------------

def test_consumers_use_the_config_objects():
    from vividportraits import diffusion, experiment, long_video, model, motion, scaling, train, checkpoint
    assert motion.MOTION_KINDS is C.MOTION_KINDS and experiment.MOTION_KINDS is C.MOTION_KINDS
    assert experiment.LONG_VIDEO_STRATEGIES is C.LONG_VIDEO_STRATEGIES
    assert set(long_video.CONTEXT_SCHEDULERS) == set(C.LONG_VIDEO_STRATEGIES)
    assert long_video.BLEND_RAMPS is C.BLEND_RAMPS
    assert tuple(diffusion.SCHEDULERS) == C.SAMPLERS and diffusion.PREDICTION_TYPES is C.PREDICTION_TYPES
    assert diffusion.auto_prediction_type is C.auto_prediction_type
    assert model.PRESETS is C.MODEL_PRESETS and model.ModelConfig is C.ModelConfig and model.get_preset is C.get_preset
    assert motion.condition_channels is C.condition_channels and motion.check_kind is C.check_kind
    assert scaling.DEFAULT_SCALE_RANGE is C.DEFAULT_SCALE_RANGE and scaling.parse_scale_range is C.parse_scale_range
    assert not hasattr(scaling, "validate_scale_range")          # one scale-range validator
    assert experiment.parse_scale_range is C.parse_scale_range and experiment.RunConfig is C.RunConfig
    assert experiment.EXPERIMENT_PRESETS is C.EXPERIMENT_PRESETS
    assert train.TrainConfig is C.TrainConfig and checkpoint.ModelConfig is C.ModelConfig
    for e in C.EXPERIMENT_PRESETS.values(): assert e.model in C.MODEL_PRESETS


def _choices(parser, command, option):
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[command]
    return next(a for a in sub._actions if option in a.option_strings).choices


def test_cli_choices_are_the_config_lists():
    from vividportraits.cli import build_parser
    p = build_parser()
    assert list(_choices(p, "animate", "--strategy")) == list(C.LONG_VIDEO_STRATEGIES)
    assert list(_choices(p, "animate", "--sampler")) == list(C.SAMPLERS)
    assert list(_choices(p, "model-info", "--model")) == list(C.MODEL_PRESETS)
    assert list(_choices(p, "model-info", "--motion")) == list(C.MOTION_KINDS)
    assert list(_choices(p, "ablate", "--experiment")) == list(C.EXPERIMENT_PRESETS)
    assert list(_choices(p, "demo", "--experiment")) == list(C.EXPERIMENT_PRESETS)


@pytest.mark.parametrize("name", ["MOTION_KINDS", "LONG_VIDEO_STRATEGIES", "SAMPLERS", "PREDICTION_TYPES",
                                  "MIXED_PRECISION", "BLEND_RAMPS", "DEFAULT_SCALE_RANGE"])
def test_no_module_retypes_a_choice_list(name):
    "The literal of each list appears in config only (as a tuple or list, in any quoting)."
    value = getattr(C, name)
    items = r"\s*,\s*".join(re.escape(repr(v)).replace("'", "[\"']") for v in value)
    pat = re.compile(r"[\(\[]\s*" + items + r"\s*,?\s*[\)\]]")
    hits = [p.name for p in (ROOT/"vividportraits").glob("*.py") if p.name not in ("config.py", "_modidx.py")
            and pat.search(p.read_text())]
    assert not hits, f"{name} retyped in {hits}"


# --- derivation by field name ----------------------------------------------------------------------------------

def test_run_config_fields_arrive_in_train_and_model_configs():
    "Every field RunConfig shares with TrainConfig arrives, and the model-level ones reach the ModelConfig."
    changed = dict(motion="landmarks", scale_range=(0.7, 1.3), drop_skin=True, fgbg=False, seed=7)
    shared = set(C.field_names(C.RunConfig)) & set(C.field_names(C.TrainConfig)) - {k for k, v in C.RUN_TO_TRAIN.items() if v is None}
    assert shared == set(changed), "a new shared field: add it to `changed` to see it arrive"
    r = C.RunConfig(preset="cpu", **changed)
    for stage in (1, 2):
        t = r.train_config("d", "o", stage=stage)
        assert {k: getattr(t, k) for k in changed} == changed
        m = t.model_config()
        assert (m.motion, m.drop_skin, m.fgbg, m.temporal) == ("landmarks", True, False, stage == 2)


def test_a_new_field_travels_without_code():
    "A field added to the run config with the name of a training field reaches training: nothing is copied by hand."
    @dataclasses.dataclass
    class Run(C.RunConfig):
        ema: bool = False          # TrainConfig.ema
        snr_gamma: float = 5.0     # TrainConfig.snr_gamma
    t = Run(preset="smoke").train_config("d", "o")
    assert (t.ema, t.snr_gamma) == (False, 5.0)
    assert C.TrainConfig(model_overrides={"max_frames": 16}).model_config().max_frames == 16


def test_stage2_is_the_same_derivation():
    r = C.RunConfig(preset="cpu")
    e = r.experiment
    t1, t2 = r.train_config("d", "o"), r.train_config("d", "o/stage2", stage=2, init_from="ck")
    assert (t1.steps, t1.batch_size, t1.ckpt_every) == (e.train_steps, e.batch_size, max(50, e.train_steps // 4))
    assert (t2.steps, t2.clip_len, t2.batch_size, t2.ckpt_every, t2.warmup_steps, t2.init_from) == \
        (e.temporal_steps, e.window, max(1, e.batch_size // e.window), max(25, e.temporal_steps // 2),
         min(50, e.temporal_steps // 4), "ck")


# --- the committed results' training-cache keys ----------------------------------------------------------------

def test_train_key_matches_the_committed_checkpoint_names():
    "results/cpu/*/seed*/results.json name their checkpoints train-<train_key>; the keys must not move."
    files = sorted((ROOT/"results"/"cpu").glob("*/seed*/results.json"))
    assert files, "no committed results/cpu runs"
    for f in files:
        r = json.loads(f.read_text())
        key = re.search(r"train-([0-9a-f]{12})", r["checkpoint"]).group(1)
        params = {**r["params"], "data": "synth"}
        assert C.RunConfig.from_params(**params).train_key() == key, f
