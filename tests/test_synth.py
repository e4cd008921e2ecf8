"""SynthPortraits writer outside the notebook: `generate_dataset` on a tiny config in a temp dir is resumable (a second
call writes nothing; a writer killed between a clip file and the manifest is completed by the next call), and the
result reads back through `dataset.FrameDataset` / `ClipDataset` with the cross-reenactment targets in place."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vividportraits import synth
from vividportraits.dataset import ClipDataset, FrameDataset, Manifest, pairs, read_clip

CFG = dict(identities=4, clips_per_identity=2, frames=3, size=32, test_fraction=0.5, seed=7, progress=False)


def snapshot(root):
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_generate_resume_and_read(tmp_path):
    root = synth.generate_dataset(tmp_path / "ds", **CFG)
    m = Manifest.load(root)
    # 4 identities x 2 clips + 2 cross targets (2 test identities: A<-B and B<-A)
    assert len(m.ok_ids()) == 10 and len(m.ok_ids("cross_target")) == 2
    assert len(pairs(root, "self")) == 4 and len(pairs(root, "cross")) == 2
    before = snapshot(root)
    synth.generate_dataset(root, **CFG)
    assert snapshot(root) == before, "a second call must not rewrite anything"
    ds = FrameDataset(root, split="train", reference="first")
    assert len(ds) == 2 * 2 * 3
    s = ds[4]
    assert s["rgb"].shape == (3, 32, 32) and s["ref_frame"] == 0 and s["identity"] in {"id0000", "id0001"}
    assert set(s["params"]) == {"identity", "expression", "pose"}
    assert int(s["parsing"].max()) < 11 and (s["mask"][0][s["parsing"] > 0] == 1).all()
    c = ClipDataset(root, split="test")[0]
    assert c["rgb"].shape == (3, 3, 32, 32)
    for p in pairs(root, "cross"):
        assert read_clip(root, p["target"])["rgb"].shape == (3, 32, 32, 3)


def test_killed_writer_is_completed(tmp_path):
    """Kill the writer right after it wrote a clip file (before the manifest): the dataset still loads, and the
    next call finishes it with the same bytes as an uninterrupted run."""
    root = tmp_path / "ds"
    code = textwrap.dedent(f"""
        import os
        from vividportraits import dataset, synth
        real = dataset.Manifest.save
        n = {{"saves": 0}}
        def save(self):
            n["saves"] += 1
            if n["saves"] == 3: os._exit(9)  # die before the 3rd manifest write: clip 3's file exists, its entry does not
            return real(self)
        synth.Manifest.save = save
        synth.generate_dataset({str(root)!r}, **{CFG!r})
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 9, r.stderr[-2000:]
    m = Manifest.load(root)
    assert len(m.clips) == 2 and (root / "clips" / "id0001_c00.npz").exists()
    synth.generate_dataset(root, **CFG)
    ref = synth.generate_dataset(tmp_path / "ref", **CFG)
    assert [c["id"] for c in Manifest.load(root).clips] == [c["id"] for c in Manifest.load(ref).clips]
    for cid in Manifest.load(ref).ok_ids():
        a, b = read_clip(root, cid), read_clip(ref, cid)
        for k in a: np.testing.assert_array_equal(a[k], b[k])


def test_other_config_refused(tmp_path):
    synth.generate_dataset(tmp_path, **CFG)
    with pytest.raises(ValueError, match="another synth config"):
        synth.generate_dataset(tmp_path, **{**CFG, "frames": 4})


def test_without_numba_same_frames(tmp_path):
    """numba is optional: without it the painter runs as plain Python and gives the same frames (slowly)."""
    code = textwrap.dedent(f"""
        import sys, warnings
        sys.modules["numba"] = None  # import numba -> ImportError
        import numpy as np
        from vividportraits import synth
        assert not synth.HAVE_NUMBA
        rng = np.random.default_rng(0)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = synth.render(synth.sample_identity(rng, 2), synth.expression_preset("surprise"), synth.neutral_pose(),
                             synth.sample_background(rng), 32)
        assert any("numba is not installed" in str(x.message) for x in w)
        np.savez({str(tmp_path / "py.npz")!r}, **r)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rng = np.random.default_rng(0)
    ref = synth.render(synth.sample_identity(rng, 2), synth.expression_preset("surprise"), synth.neutral_pose(),
                       synth.sample_background(rng), 32)
    py = np.load(tmp_path / "py.npz")
    for k in ref:
        assert np.abs(py[k].astype(float) - ref[k]).max() <= (1 if k == "rgb" else 1e-3), k
