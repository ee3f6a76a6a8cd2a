"""LLPSplit / collate / make_loader on synthetic datasets in the official layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.splits import split_of
from torch.utils.data import DistributedSampler

from mmcse.config import HAN_FEATURES, FeatureSpec, StreamSpec
from mmcse.data import llp
from mmcse.data.dataset import LLPSplit, collate, make_loader
from mmcse.data.features import FeatureStore, pack_features
from mmcse.data.synthetic import write_synthetic_dataset

# small shapes, the han-style 80-step visual stream, and pseudo labels
SPEC = FeatureSpec(
    name="small",
    audio=StreamSpec("CLAP/features", (64, 16)),
    visual=StreamSpec("res152", (80, 12)),
    visual_st=StreamSpec("r2plus1d_18", (10, 8)),
    pseudo_audio="CLAP/segment_pseudo_labels",
    pseudo_visual="CLIP/segment_pseudo_labels",
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_synthetic_dataset(
        tmp_path_factory.mktemp("llp"), SPEC, n_train=40, n_val=12, n_test=10, seed=3
    )


def _shapes(batch):
    return {k: (tuple(v.shape), v.dtype) for k, v in batch.items() if isinstance(v, torch.Tensor)}


def test_synthetic_dataset_files(data):
    for split, n in (("train", 40), ("val", 12), ("test", 10)):
        filenames, labels = llp.read_weak_labels(data.split_csvs[split])
        assert filenames == data.filenames[split] and len(filenames) == n
        assert 1 <= labels.sum(axis=1).min() and labels.sum(axis=1).max() <= 2
    assert all(len(llp.video_id(f)) == 11 for f in data.filenames["train"])
    assert any("." in f for f in data.filenames["train"])  # fractional start/end like 5 real clips
    # dense GT exists for val/test only and stays inside the weak labels
    val_names = data.filenames["val"]
    gt_a, gt_v = llp.read_dense_labels(data.audio_csv, data.visual_csv, val_names)
    _, weak = llp.read_weak_labels(data.split_csvs["val"])
    np.testing.assert_array_equal((gt_a | gt_v).max(axis=1), weak)
    assert llp.read_dense_labels(data.audio_csv, data.visual_csv, data.filenames["train"])[0].sum() == 0


def test_split_yields_the_batch_contract(data):
    val = split_of(data.llp_dir, "val", SPEC, data.feature_root)
    assert len(val) == 12 and val.has_dense and not val.has_pseudo  # pseudo labels: train targets only
    item = val[0]
    assert item["filename"] == data.filenames["val"][0] and item["video_id"] == item["filename"][:11]
    assert (
        item["audio"].shape == (64, 16)
        and item["visual"].shape == (80, 12)
        and item["visual_st"].shape == (10, 8)
    )
    batch = next(iter(make_loader(val, batch_size=5)))
    assert _shapes(batch) == {
        "audio": ((5, 64, 16), torch.float32),
        "visual": ((5, 80, 12), torch.float32),
        "visual_st": ((5, 10, 8), torch.float32),
        "label": ((5, 25), torch.float32),
        "gt_audio": ((5, 10, 25), torch.uint8),
        "gt_visual": ((5, 10, 25), torch.uint8),
    }
    assert batch["filename"] == data.filenames["val"][:5]
    assert batch["video_id"] == [f[:11] for f in data.filenames["val"][:5]]
    gt_a, gt_v = llp.read_dense_labels(data.audio_csv, data.visual_csv, data.filenames["val"][:5])
    np.testing.assert_array_equal(batch["gt_audio"].numpy(), gt_a)
    np.testing.assert_array_equal(batch["gt_visual"].numpy(), gt_v)
    np.testing.assert_array_equal(batch["label"].numpy(), llp.read_weak_labels(data.split_csvs["val"])[1][:5])
    # train: weak and pseudo labels, no dense keys; pseudo labels never leave the weak labels
    train = split_of(data.llp_dir, "train", SPEC, data.feature_root)
    batch = next(iter(make_loader(train, 8)))
    assert not train.has_dense and train.has_pseudo and "gt_audio" not in batch
    assert batch["pseudo_audio"].shape == batch["pseudo_visual"].shape == (8, 10, 25)
    assert (batch["pseudo_audio"].amax(dim=1) <= batch["label"]).all()


def test_collate_equals_batch_fetch(data):
    split = split_of(data.llp_dir, "test", SPEC, data.feature_root)
    indices = [7, 2, 2, 9]
    by_clip, fetched = collate([split[i] for i in indices]), split.get_batch(indices)
    assert set(by_clip) == set(fetched)
    for key in fetched:
        if isinstance(fetched[key], list):
            assert by_clip[key] == fetched[key]
        else:
            assert by_clip[key].dtype == fetched[key].dtype
            torch.testing.assert_close(by_clip[key], fetched[key], rtol=0, atol=0)
    everything = split.arrays()
    assert everything["audio"].shape == (10, 64, 16) and everything["filename"] == data.filenames["test"]


def test_loader_order_is_seeded_and_covers_every_clip(data):
    split = split_of(data.llp_dir, "train", SPEC, data.feature_root)

    def epoch(loader):
        return [f for batch in loader for f in batch["filename"]]

    loader = make_loader(split, batch_size=16, shuffle=True, seed=5)
    first, second = epoch(loader), epoch(loader)
    assert sorted(first) == sorted(data.filenames["train"]) and first != data.filenames["train"]
    assert first != second  # a new order every epoch ...
    assert epoch(make_loader(split, 16, shuffle=True, seed=5)) == first  # ... reproducible from the seed
    assert epoch(make_loader(split, 16, shuffle=True, seed=6)) != first
    assert epoch(make_loader(split, 16)) == data.filenames["train"]
    assert [len(b["filename"]) for b in make_loader(split, 16, drop_last=True)] == [16, 16]
    # a DistributedSampler (DDP) splits the clips between ranks
    ranks = [
        epoch(make_loader(split, 8, sampler=DistributedSampler(split, num_replicas=2, rank=r, shuffle=False)))
        for r in (0, 1)
    ]
    assert len(ranks[0]) == len(ranks[1]) == 20 and sorted(ranks[0] + ranks[1]) == sorted(
        data.filenames["train"]
    )


def test_packed_and_per_clip_loaders_give_identical_batches(data, tmp_path):
    ids = [f[:11] for f in data.filenames["train"]]
    # every frame kept (pooled stores give the mean of each group of 8 frames: tests/test_features.py)
    packed = pack_features(
        data.feature_root, SPEC, ids, tmp_path / "packed", progress=False, pool_frames=False
    )
    per_clip = split_of(data.llp_dir, "train", SPEC, data.feature_root)
    from_pack = split_of(data.llp_dir, "train", SPEC, packed)
    assert from_pack.store.packed and not per_clip.store.packed
    for a, b in zip(
        make_loader(per_clip, 5, shuffle=True, seed=1), make_loader(from_pack, 5, shuffle=True, seed=1)
    ):
        assert a["filename"] == b["filename"]
        for key in ("audio", "visual", "visual_st", "pseudo_audio", "pseudo_visual", "label"):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    # worker processes get the packed store too
    workers = make_loader(from_pack, 4, num_workers=2)
    assert [f for batch in workers for f in batch["filename"]] == data.filenames["train"]


def test_missing_features_fail_up_front(data, tmp_path):
    ids = [f[:11] for f in data.filenames["train"][:30]]  # 10 train clips left out
    packed = pack_features(data.feature_root, SPEC, ids, tmp_path / "packed", progress=False)
    with pytest.raises(
        FileNotFoundError, match=r"10 of 40 clips of the train split .*AVVP_train.csv.*first: "
    ):
        split_of(data.llp_dir, "train", SPEC, packed)
    # a store passed directly works; features of another spec are refused
    store = FeatureStore.open(data.feature_root, SPEC)
    assert len(LLPSplit(llp.split_csv(data.llp_dir, "test"), store)) == 10
    with pytest.raises(FileNotFoundError, match="vggish"):
        split_of(data.llp_dir, "test", HAN_FEATURES, data.feature_root)


def test_synthetic_labels_are_learnable(tmp_path):
    """A linear probe on time-averaged features finds each clip's classes: the features carry the labels."""
    spec = FeatureSpec(
        "probe", StreamSpec("a", (10, 32)), StreamSpec("v", (10, 32)), StreamSpec("s", (10, 16))
    )
    data = write_synthetic_dataset(tmp_path, spec, n_train=300, n_val=0, n_test=100, seed=0)
    torch.manual_seed(0)

    def pooled(split):
        s = split_of(data.llp_dir, split, spec, data.feature_root).arrays()
        x = torch.cat([s["audio"].mean(1), s["visual"].mean(1), s["visual_st"].mean(1)], dim=1)  # (N, 80)
        return x, s["label"]

    x, y = pooled("train")
    probe = torch.nn.Linear(x.shape[1], 25)
    opt = torch.optim.Adam(probe.parameters(), lr=0.05, weight_decay=1e-2)
    losses = []
    for _ in range(200):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    x_test, y_test = pooled("test")
    top = probe(x_test).argmax(dim=1)
    hit = y_test[torch.arange(len(top)), top]  # the top-scored class is one of the clip's labels
    assert hit.mean().item() >= 0.8


def test_split_and_dense_csvs_that_are_folders_are_named_as_folders(data, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(data.llp_dir, root, ignore=shutil.ignore_patterns("feats"))
    csv = llp.split_csv(root, "val")
    csv.unlink()
    csv.mkdir()
    with pytest.raises(ValueError, match=rf"^split CSV {csv} \(the val split\) is a folder; expected"):
        split_of(root, "val", SPEC, data.feature_root)
    dense = root / "AVVP_eval_audio.csv"
    assert dense.is_file()
    dense.unlink()
    dense.mkdir()
    with pytest.raises(ValueError, match=rf"^dense GT {dense} is a folder; expected"):
        split_of(root, "test", SPEC, data.feature_root)


def test_val_and_test_splits_never_need_pseudo_labels_and_a_missing_file_names_its_stream(tmp_path):
    """Pseudo labels are training targets: a feature root whose pseudo folders hold only the train clips
    opens val / test as they are (not "N of N clips have no features"); a train clip whose pseudo file is
    missing is refused naming that stream."""
    import shutil

    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split

    data = write_synthetic_dataset(tmp_path / "llp", SPEC, n_train=8, n_val=4, n_test=4, seed=5)
    for split in ("val", "test"):
        for name in data.filenames[split]:
            for folder in (SPEC.pseudo_audio, SPEC.pseudo_visual):
                (data.feature_root / folder / f"{name[:11]}.npy").unlink()
    paths = DataPaths.from_root(data.llp_dir, SPEC, feature_root=str(data.feature_root))
    for split in ("val", "test"):
        opened = open_split(paths, split)
        assert len(opened) == 4 and not opened.store.has_pseudo
        assert set(opened.store.load_batch([opened.video_ids[0]])) == {"audio", "visual", "visual_st"}
    assert open_split(paths, "train").store.has_pseudo
    first = data.filenames["train"][0][:11]
    shutil.move(data.feature_root / SPEC.pseudo_visual / f"{first}.npy", tmp_path / "kept.npy")
    with pytest.raises(FileNotFoundError, match=rf"1 of 8 clips of the train split .*\(first: {first}; {first} is "
                                                rf"absent from {SPEC.pseudo_visual}\)"):  # fmt: skip
        open_split(paths, "train").store.check_complete(open_split(paths, "train").video_ids)
