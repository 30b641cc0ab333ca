"""VIDIT layouts, any-to-any sampling and datasets, on data made by the synthetic renderer."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from relightcli import RelightError
from relightcli.data import (
    SETTINGS,
    AnyToAnyDataset,
    PairDataset,
    Setting,
    any_to_any_pairs,
    pool_folders,
    scan_flat,
    scan_pairs,
    split_scenes,
)
from relightcli.io import read_depth, read_image
from relightcli.synth import synthesize


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, scenes=3, size=32, seed=1, pairs=5, supersample=1)
    return root


def test_setting_names_and_parsing() -> None:
    assert len(SETTINGS) == 40 and len(set(SETTINGS)) == 40
    assert str(Setting(4500, "E")) == "4500_E" and Setting(4500, "E").azimuth == 90.0
    assert Setting.parse("3500K/nw") == Setting(3500, "NW") == Setting.parse("3500_NW")
    with pytest.raises(RelightError, match="unknown lighting setting '3000K/N'; valid: 2500K/N, 2500K/NE"):
        Setting.parse("3000K/N")


def test_flat_reader_round_trip(synth_root: Path) -> None:
    index = scan_flat(synth_root / "train")
    assert index.scenes == ["000", "001", "002"]
    ds = AnyToAnyDataset(index, seed=0, cache_dir=synth_root / "cache")
    assert len(ds) == 3 * 40
    item = ds[0]
    p = ds.pairs[0]
    assert item["input"].shape == (8, 32, 32) and item["target"].shape == (3, 32, 32)
    assert item["input"].dtype == torch.float32 and item["input"].min() >= 0 and item["input"].max() <= 1
    # channels are exactly the files the pair names, in the documented order
    src = read_image(index.image(p.scene, p.source)).rgb
    guide = read_image(index.image(p.guide_scene, p.target)).rgb
    target = read_image(index.image(p.scene, p.target)).rgb
    np.testing.assert_array_equal(item["input"][:3].numpy(), src.transpose(2, 0, 1))
    np.testing.assert_array_equal(item["input"][3:6].numpy(), guide.transpose(2, 0, 1))
    np.testing.assert_array_equal(item["input"][6].numpy(), read_depth(index.depth(p.scene)))
    np.testing.assert_array_equal(item["input"][7].numpy(), read_depth(index.depth(p.guide_scene)))
    np.testing.assert_array_equal(item["target"].numpy(), target.transpose(2, 0, 1))
    assert item["scene"] == p.scene and item["target_setting"] == str(p.target)


def test_pair_reader_round_trip(synth_root: Path) -> None:
    index = scan_pairs(synth_root / "val")
    assert index.pairs == [f"Pair00{i}" for i in range(5)] and index.has_target
    ds = PairDataset(index)
    item = ds[2]
    assert item["input"].shape == (8, 32, 32) and item["target"].shape == (3, 32, 32)
    np.testing.assert_array_equal(item["target"].numpy(), read_image(index.target("Pair002")).rgb.transpose(2, 0, 1))
    raw = np.load(index.input("Pair002")[1], allow_pickle=True).item()  # trusted: we just made it
    assert set(raw) == {"normalized_depth", "ref_center_dis"}
    assert raw["normalized_depth"].min() == 0.0 and raw["normalized_depth"].max() == 1.0


def test_sampler_invariants() -> None:
    scenes = ["a", "b", "c", "d"]
    pairs = any_to_any_pairs(scenes, seed=3, epoch=0)
    assert len(pairs) == 160
    assert Counter((p.scene, p.source) for p in pairs) == Counter({(s, t): 1 for s in scenes for t in SETTINGS})
    for p in pairs:
        assert p.guide_scene != p.scene and p.target != p.source and p.guide_scene in scenes
    assert pairs == any_to_any_pairs(scenes, seed=3, epoch=0)
    assert pairs != any_to_any_pairs(scenes, seed=3, epoch=1) and pairs != any_to_any_pairs(scenes, seed=4)
    same = any_to_any_pairs(scenes, seed=3, same_scene_guides=True)
    assert all(p.guide_scene == p.scene and p.target != p.source for p in same)
    with pytest.raises(RelightError, match="at least 2 scenes"):
        any_to_any_pairs(["a"])


def test_repeats_weigh_scenes_and_never_guide_a_scene_by_itself() -> None:
    scenes, repeats = ["a", "b", "c", "d"], [3, 1, 1, 2]
    pairs = any_to_any_pairs(scenes, seed=3, repeats=repeats)
    assert len(pairs) == 7 * 40
    inputs = Counter((p.scene, p.source) for p in pairs)
    assert inputs == Counter({(s, t): r for s, r in zip(scenes, repeats, strict=True) for t in SETTINGS})
    assert all(p.guide_scene != p.scene and p.target != p.source for p in pairs)
    guides = Counter(p.guide_scene for p in pairs if p.scene == "b")  # b's guides: a, c, d in proportion 3:1:2
    assert guides["a"] > guides["d"] > guides["c"] > 0
    assert pairs == any_to_any_pairs(scenes, seed=3, repeats=repeats)
    assert any_to_any_pairs(scenes, seed=3, repeats=[1] * 4) == any_to_any_pairs(scenes, seed=3)  # unweighted
    for bad in ([1, 2], [1, 0, 1, 1], [1.5, 1, 1, 1]):
        with pytest.raises(RelightError, match="repeats"):
            any_to_any_pairs(scenes, repeats=bad)


def test_pooled_folders_keep_scenes_apart(tmp_path: Path) -> None:
    for name, seed in (("one", 1), ("two", 2)):
        synthesize(tmp_path / name, scenes=2, size=16, seed=seed, supersample=1)
    one, two = scan_flat(tmp_path / "one" / "train"), scan_flat(tmp_path / "two" / "train")
    pool = pool_folders([one, two], [1, 3])
    assert pool.scenes == ["0-000", "0-001", "1-000", "1-001"] and pool.folder_scenes(1) == ["1-000", "1-001"]
    assert pool.image("1-001", SETTINGS[5]) == two.image("001", SETTINGS[5]) and pool.depth("0-000") == one.depth("000")
    assert [pool.weight(s) for s in pool.scenes] == [1, 1, 3, 3]
    with pytest.raises(KeyError):
        pool.image("2-000", SETTINGS[0])
    for weights, message in (([1], "2 --data folders"), ([1, 0], "whole numbers")):
        with pytest.raises(RelightError, match=message):
            pool_folders([one, two], weights)


def test_dataset_item_names_its_files(synth_root: Path) -> None:
    ds = AnyToAnyDataset(scan_flat(synth_root / "train"), seed=5)
    for i in range(0, 120, 17):
        item, p = ds[i], ds.pairs[i]
        assert item["guide_scene"] != item["scene"] and item["source_setting"] != item["target_setting"]
        assert (item["scene"], item["source_setting"], item["target_setting"]) == (
            p.scene,
            str(p.source),
            str(p.target),
        )


def test_split_is_by_scene_and_deterministic() -> None:
    scenes = [f"{i:03d}" for i in range(10)]
    train, val = split_scenes(scenes, 0.2, seed=1)
    assert len(val) == 2 and not set(train) & set(val) and sorted(train + val) == scenes
    assert (train, val) == split_scenes(scenes, 0.2, seed=1)
    assert split_scenes(scenes, 0.0) == (scenes, [])
    assert len(split_scenes(scenes[:2], 0.01)[1]) == 1
    with pytest.raises(RelightError, match=r"in \[0, 1\)"):
        split_scenes(scenes, 1.0)


def test_resize_is_done_once_and_cached(synth_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import relightcli.data.datasets as datasets

    calls = Counter()
    real = datasets.read_image
    monkeypatch.setattr(datasets, "read_image", lambda p: calls.update([p]) or real(p))
    cache = synth_root / "cache16"
    ds = AnyToAnyDataset(scan_flat(synth_root / "train"), seed=0, size=16, cache_dir=cache)
    first = ds[0]
    assert first["input"].shape == (8, 16, 16)
    n = sum(calls.values())
    again = AnyToAnyDataset(scan_flat(synth_root / "train"), seed=0, size=16, cache_dir=cache)[0]
    assert sum(calls.values()) == n  # served from the cache, no decode
    assert torch.equal(first["input"], again["input"])
    assert len(list((cache / "16").glob("*.npy"))) >= 3


def test_hflip_mirrors_images_and_direction_labels(synth_root: Path) -> None:
    index = scan_flat(synth_root / "train")
    plain = AnyToAnyDataset(index, seed=0)
    flipped = AnyToAnyDataset(index, seed=0, hflip=True)
    mirrored = {"E": "W", "W": "E", "NE": "NW", "SE": "SW", "N": "N", "S": "S", "NW": "NE", "SW": "SE"}
    n_flipped = 0
    for i in range(40):
        a, b = plain[i], flipped[i]
        if torch.equal(a["input"], b["input"]):
            assert a["source_setting"] == b["source_setting"]
            continue
        n_flipped += 1
        assert torch.equal(a["input"].flip(-1), b["input"]) and torch.equal(a["target"].flip(-1), b["target"])
        t, d = a["target_setting"].split("_")
        assert b["target_setting"] == f"{t}_{mirrored[d]}"
    assert 5 < n_flipped < 35


def _copy_train(synth_root: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in (synth_root / "train").iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_flat_layout_errors(synth_root: Path, tmp_path: Path) -> None:
    root = _copy_train(synth_root, tmp_path / "t1")
    (root / "Image001.npy").unlink()
    with pytest.raises(RelightError, match=r"Image001.npy: depth file for scene 001 is missing"):
        scan_flat(root)
    root = _copy_train(synth_root, tmp_path / "t2")
    (root / "Image002_3500_SW.png").unlink()
    with pytest.raises(RelightError, match="scene 002 has 39 of 40 settings; missing 3500_SW"):
        scan_flat(root)
    root = _copy_train(synth_root, tmp_path / "t3")
    (root / "photo_1.png").write_bytes((root / "Image000_2500_N.png").read_bytes())
    with pytest.raises(RelightError, match="photo_1.png: not a VIDIT training image name"):
        scan_flat(root)
    root = _copy_train(synth_root, tmp_path / "t4")
    (root / "Image000_3000_N.png").write_bytes(b"")
    with pytest.raises(RelightError, match="Image000_3000_N.png: not a VIDIT training image name"):
        scan_flat(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RelightError, match="no VIDIT training images"):
        scan_flat(tmp_path / "empty")


def test_unreadable_png_in_a_dataset_names_the_file(synth_root: Path, tmp_path: Path) -> None:
    root = _copy_train(synth_root, tmp_path / "t")
    ds = AnyToAnyDataset(scan_flat(root), seed=0)
    p = ds.pairs[0]
    ds.index.image(p.scene, p.source).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(RelightError, match=f"Image{p.scene}_{p.source}.png: not a readable image"):
        ds[0]


def test_pair_layout_errors(synth_root: Path, tmp_path: Path) -> None:
    with pytest.raises(RelightError, match="input: missing"):
        scan_pairs(tmp_path)
    import shutil

    root = tmp_path / "val"
    shutil.copytree(synth_root / "val", root)
    (root / "guide" / "Pair003.npy").unlink()
    with pytest.raises(RelightError, match=r"guide/Pair003.npy: missing \(needed for Pair003\)"):
        scan_pairs(root)
    shutil.rmtree(root / "target")
    (root / "guide" / "Pair003.npy").write_bytes((root / "guide" / "Pair001.npy").read_bytes())
    assert not scan_pairs(root).has_target and "target" not in PairDataset(scan_pairs(root))[0]
