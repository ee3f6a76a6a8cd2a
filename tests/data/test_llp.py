"""LLP annotation readers on the real CSVs (../shared/llp), checked against independent simple code."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mmcse.classes import CLASS_INDEX, NUM_CLASSES, class_index
from mmcse.data import llp


def _rows(path):
    """Independent reader: header + rows split on TAB, no pandas."""
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:] if line]


def _split_filenames(llp_dir):
    return {s: [r[0] for r in _rows(llp.split_csv(llp_dir, s))[1]] for s in ("train", "val", "test")}


def _naive_dense(path, filenames):
    """Independent rasterisation: set segments onset..offset-1 for onset < offset, exact filename match."""
    index = {f: i for i, f in enumerate(filenames)}
    grid = np.zeros((len(filenames), 10, NUM_CLASSES), dtype=np.uint8)
    for name, onset, offset, event in _rows(path)[1]:
        if name in index:
            for t in range(int(onset), int(offset)):
                grid[index[name], t, CLASS_INDEX[event]] = 1
    return grid


# ----------------------------------------------------------------------------------------------------------
# weak labels


def test_split_row_counts_and_label_statistics(llp_dir):
    counts = {}
    for split, expected in (("train", 10_000), ("val", 649), ("test", 1_200)):
        filenames, labels = llp.read_weak_labels(llp.split_csv(llp_dir, split))
        assert len(filenames) == expected == len(_rows(llp.split_csv(llp_dir, split))[1])
        assert labels.shape == (expected, 25) and labels.dtype == np.uint8
        counts[split] = Counter(labels.sum(axis=1).tolist())
    assert counts["train"] == {1: 4032, 2: 5879, 3: 89}  # avvp_protocol.md §7
    assert sum(n for k, n in counts["test"].items() if k >= 4) == 29
    filenames, _ = llp.read_weak_labels(llp.full_csv(llp_dir))
    assert len(filenames) == 11_849


def test_weak_labels_match_independent_parse(llp_dir):
    path = llp.split_csv(llp_dir, "val")
    filenames, labels = llp.read_weak_labels(path)
    for i, (name, text) in enumerate(_rows(path)[1]):
        assert filenames[i] == name
        assert set(np.flatnonzero(labels[i])) == {CLASS_INDEX[c] for c in text.split(",")}


def test_repeated_label_counts_once(llp_dir):
    path = llp.split_csv(llp_dir, "test")
    rows = [r for r in _rows(path)[1] if r[1].split(",").count("Clapping") == 2]
    assert len(rows) == 1
    filenames, labels = llp.read_weak_labels(path)
    i = filenames.index(rows[0][0])
    assert labels[i, CLASS_INDEX["Clapping"]] == 1
    assert labels[i].sum() == len(set(rows[0][1].split(",")))


def test_fractional_filename_and_ids_with_underscore_or_dash(llp_dir):
    filenames, labels = llp.read_weak_labels(llp.split_csv(llp_dir, "train"))
    i = filenames.index("AP0061o0Nvk_101.8_111.8")
    assert llp.video_id(filenames[i]) == "AP0061o0Nvk"
    assert np.flatnonzero(labels[i]).tolist() == [CLASS_INDEX["Cello"]]
    assert sum("." in f for f in llp.read_weak_labels(llp.full_csv(llp_dir))[0]) == 5
    assert llp.video_id("9_jO5lSk-og_30_40") == "9_jO5lSk-og"
    assert llp.video_id("HKYc0AlZp_A_10_20") == "HKYc0AlZp_A"
    test_names = llp.read_weak_labels(llp.split_csv(llp_dir, "test"))[0]
    assert "9_jO5lSk-og_30_40" in test_names
    # every id is exactly the first 11 characters, followed by "_<start>_<end>"
    for f in filenames:
        vid = llp.video_id(f)
        assert len(vid) == 11 and f[11] == "_" and len(f[12:].split("_")) == 2


# ----------------------------------------------------------------------------------------------------------
# dense labels


@pytest.mark.parametrize("audio_gt", ["fixed", "pre2024"])
def test_dense_labels_match_independent_rasterisation(llp_dir, audio_gt):
    audio_csv, visual_csv = llp.dense_csvs(llp_dir, audio_gt)
    for split in ("val", "test"):
        filenames, _ = llp.read_weak_labels(llp.split_csv(llp_dir, split))
        gt_a, gt_v = llp.read_dense_labels(audio_csv, visual_csv, filenames)
        assert gt_a.shape == gt_v.shape == (len(filenames), 10, 25) and gt_a.dtype == np.uint8
        np.testing.assert_array_equal(gt_a, _naive_dense(audio_csv, filenames))
        np.testing.assert_array_equal(gt_v, _naive_dense(visual_csv, filenames))


def test_empty_and_reversed_rows_add_nothing(llp_dir, tmp_path):
    audio_csv, visual_csv = llp.dense_csvs(llp_dir)
    header, rows = _rows(audio_csv)
    empty = [r for r in rows if int(r[1]) >= int(r[2])]
    assert len(empty) == 6 and ["8DF2PxdT5tE_390_400", "9", "0", "Cheering"] in empty
    # dropping those rows changes nothing
    kept = tmp_path / "audio_kept.csv"
    kept.write_text("\n".join("\t".join(r) for r in [header] + [r for r in rows if r not in empty]) + "\n")
    names = _split_filenames(llp_dir)["val"] + _split_filenames(llp_dir)["test"]
    gt_all, _ = llp.read_dense_labels(audio_csv, visual_csv, names)
    gt_kept, _ = llp.read_dense_labels(kept, visual_csv, names)
    np.testing.assert_array_equal(gt_all, gt_kept)
    # the reversed "9 0" row: Cheering of that clip comes only from its other rows (if any)
    i = names.index("8DF2PxdT5tE_390_400")
    other = [r for r in rows if r[0] == names[i] and r[3] == "Cheering" and r not in empty]
    expected = np.zeros(10, dtype=np.uint8)
    for r in other:
        expected[int(r[1]) : int(r[2])] = 1
    np.testing.assert_array_equal(gt_all[i, :, CLASS_INDEX["Cheering"]], expected)


def test_orphan_rows_are_never_matched(llp_dir):
    splits = _split_filenames(llp_dir)
    known = set().union(*splits.values())
    audio_csv, visual_csv = llp.dense_csvs(llp_dir)
    orphans_a = [r for r in _rows(audio_csv)[1] if r[0] not in known]
    orphans_v = [r for r in _rows(visual_csv)[1] if r[0] not in known]
    assert (len(orphans_a), len(orphans_v)) == (14, 11)
    assert any(r[0] == "CSWQ_HzQ_10_20" for r in orphans_a)  # truncated id
    names = splits["val"] + splits["test"]
    gt_a, gt_v = llp.read_dense_labels(audio_csv, visual_csv, names)
    # total positives equal those of the matched rows alone
    for gt, path in ((gt_a, audio_csv), (gt_v, visual_csv)):
        matched = {}
        for name, onset, offset, event in _rows(path)[1]:
            if name in known:
                cells = matched.setdefault(name, set())
                cells.update((t, event) for t in range(int(onset), int(offset)))
        assert int(gt.sum()) == sum(len(c) for c in matched.values())


def test_duplicate_rows_are_harmless(llp_dir, tmp_path):
    audio_csv, visual_csv = llp.dense_csvs(llp_dir)
    header, rows = _rows(audio_csv)
    seen, unique = set(), []
    for r in rows:
        if tuple(r) not in seen:
            seen.add(tuple(r))
            unique.append(r)
    assert len(rows) - len(unique) == 8
    dedup = tmp_path / "audio_dedup.csv"
    dedup.write_text("\n".join("\t".join(r) for r in [header] + unique) + "\n")
    names = _split_filenames(llp_dir)["test"]
    np.testing.assert_array_equal(
        llp.read_dense_labels(audio_csv, visual_csv, names)[0],
        llp.read_dense_labels(dedup, visual_csv, names)[0],
    )


def test_fixed_vs_pre2024_audio_gt(llp_dir):
    fixed, visual_csv = llp.dense_csvs(llp_dir, "fixed")
    pre, _ = llp.dense_csvs(llp_dir, "pre2024")
    lines_fixed, lines_pre = fixed.read_text().splitlines(), pre.read_text().splitlines()
    assert len(lines_fixed) == len(lines_pre)
    assert sum(a != b for a, b in zip(lines_fixed, lines_pre)) == 3
    names = _split_filenames(llp_dir)["test"]
    gt_fixed = llp.read_dense_labels(fixed, visual_csv, names)[0]
    gt_pre = llp.read_dense_labels(pre, visual_csv, names)[0]
    changed = sorted(names[i] for i in np.flatnonzero((gt_fixed != gt_pre).any(axis=(1, 2))))
    assert changed == ["JfZEqeLZqWk_30_40", "KvIjsmANkxI_10_20"]
    cat = CLASS_INDEX["Cat"]
    k = names.index("KvIjsmANkxI_10_20")  # pre2024 row "KvIjsmANkxI_10_20`" (backtick) matched nothing
    assert gt_fixed[k, 0, cat] == 1 and gt_pre[k, 0, cat] == 0
    s = CLASS_INDEX["Speech"]
    j = names.index("JfZEqeLZqWk_30_40")  # pre2024 rows were filed under "Baby_cry_infant_cry"
    assert gt_fixed[j, :, s].tolist() == [1, 1, 1, 1, 0, 0, 0, 1, 1, 1] and gt_pre[j, :, s].sum() == 0


def test_read_split(llp_dir):
    test = llp.read_split(llp_dir, "test")
    assert len(test["filenames"]) == 1200 and test["gt_audio"].shape == (1200, 10, 25)
    assert test["video_ids"][0] == test["filenames"][0][:11]
    assert llp.read_split(llp_dir, "train")["gt_audio"] is None
    with pytest.raises(ValueError, match="unknown LLP split"):
        llp.split_csv(llp_dir, "dev")
    with pytest.raises(ValueError, match="pre2024"):
        llp.dense_csvs(llp_dir, "old")


# ----------------------------------------------------------------------------------------------------------
# bad input -> one clear error naming the file and line


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        llp.read_weak_labels(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ValueError, match=rf"^{tmp_path / 'dir.csv'} is a folder; expected a TAB-separated LLP"):
        llp.read_weak_labels(tmp_path / "dir.csv")


def test_comma_separated_file(tmp_path):
    path = _write(tmp_path, "comma.csv", 'filename,event_labels\nabcdefghijk_0_10,"Speech,Dog"\n')
    with pytest.raises(ValueError, match=r"comma.csv:1: .*TAB-separated"):
        llp.read_weak_labels(path)


def test_wrong_columns(tmp_path):
    path = _write(tmp_path, "cols.csv", "name\tlabels\nabcdefghijk_0_10\tSpeech\n")
    with pytest.raises(ValueError, match=r"cols.csv:1: .*expected .*'filename', 'event_labels'"):
        llp.read_weak_labels(path)
    # a weak-label file passed where dense GT is expected
    weak = _write(tmp_path, "weak.csv", "filename\tevent_labels\nabcdefghijk_0_10\tSpeech\n")
    with pytest.raises(ValueError, match="'onset', 'offset'"):
        llp.read_dense_labels(weak, weak, ["abcdefghijk_0_10"])


def test_unknown_class_names_line(tmp_path):
    path = _write(
        tmp_path, "bad.csv", "filename\tevent_labels\nabcdefghijk_0_10\tSpeech\n\nbcdefghijkl_0_10\tDgo\n"
    )
    with pytest.raises(ValueError, match=r"bad.csv:4: unknown LLP class 'Dgo'"):
        llp.read_weak_labels(path)
    dense = _write(
        tmp_path, "dense.csv", "filename\tonset\toffset\tevent_labels\nabcdefghijk_0_10\t0\t3\tSpeach\n"
    )
    with pytest.raises(ValueError, match=r"dense.csv:2: unknown LLP class 'Speach'"):
        llp.read_dense_labels(dense, dense, ["abcdefghijk_0_10"])


def test_non_numeric_onset(tmp_path):
    text = (
        "filename\tonset\toffset\tevent_labels\nabcdefghijk_0_10\t0\t3\tDog\nabcdefghijk_0_10\tone\t3\tDog\n"
    )
    path = _write(tmp_path, "onset.csv", text)
    with pytest.raises(ValueError, match=r"onset.csv:3: onset 'one' is not a number"):
        llp.read_dense_labels(path, path, ["abcdefghijk_0_10"])


def test_float_onsets_truncate_like_official(tmp_path):
    text = "filename\tonset\toffset\tevent_labels\nabcdefghijk_0_10\t1.0\t3.7\tDog\n"
    path = _write(tmp_path, "f.csv", text)
    gt_a, _ = llp.read_dense_labels(path, path, ["abcdefghijk_0_10", "missingclip_0_10"])
    assert gt_a[0, :, CLASS_INDEX["Dog"]].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert gt_a[1].sum() == 0


def test_reversed_and_negative_rows_warn_with_file_and_line_and_keep_official_numbers(tmp_path):
    audio = tmp_path / "a.csv"
    audio.write_text("filename\tonset\toffset\tevent_labels\nclipAAAAAAA_0_10\t9\t0\tSpeech\n"
                     "clipAAAAAAA_0_10\t-1\t3\tDog\nclipAAAAAAA_0_10\t2\t4\tCat\n")  # fmt: skip
    visual = tmp_path / "v.csv"
    visual.write_text("filename\tonset\toffset\tevent_labels\n")
    with pytest.warns(llp.LLPDataWarning) as record:
        gt_a, _ = llp.read_dense_labels(audio, visual, ["clipAAAAAAA_0_10"])
    messages = [str(w.message) for w in record]
    assert len(messages) == 3
    assert messages[2] == f"{visual}: the file has a header and no rows; every clip is scored as having no visual events; check the file"
    assert messages[0].startswith(f"{audio}:2: Speech in clipAAAAAAA_0_10: onset 9 > offset 0; the row marks no segment")
    assert messages[1].startswith(f"{audio}:3: Dog in clipAAAAAAA_0_10: negative onset -1; the row marks no segment")
    # the numbers stay official: only Cat 2-4 is on
    assert gt_a.sum() == 2 and gt_a[0, 2:4, class_index("Cat")].all()


def test_a_clip_listed_twice_in_a_split_warns_and_is_kept_twice(tmp_path):
    split = tmp_path / "s.csv"
    split.write_text("filename\tevent_labels\nclipAAAAAAA_0_10\tSpeech\nclipBBBBBBB_0_10\tDog\nclipAAAAAAA_0_10\tSpeech\n")
    with pytest.warns(llp.LLPDataWarning, match=rf"{split}:4: clip clipAAAAAAA_0_10 is listed again \(first on line 2\); "
                      r"it counts twice \(scored or trained on twice, as the official code does\)"):
        names, labels = llp.read_weak_labels(split)
    assert names == ["clipAAAAAAA_0_10", "clipBBBBBBB_0_10", "clipAAAAAAA_0_10"] and labels.shape == (3, 25)


def test_the_real_llp_files_warn_only_about_their_reversed_row(llp_dir):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for split in ("train", "val", "test"):
            names, _ = llp.read_weak_labels(llp.split_csv(llp_dir, split))
            if split != "train":
                llp.read_dense_labels(*llp.dense_csvs(llp_dir), names)
    messages = [str(w.message) for w in caught if issubclass(w.category, llp.LLPDataWarning)]
    assert len(messages) == 1 and "Cheering in 8DF2PxdT5tE_390_400: onset 9 > offset 0" in messages[0]


DENSE_HEADER = "filename\tonset\toffset\tevent_labels\n"


def test_split_rows_without_dense_rows_warn_with_split_line_and_score_as_empty(tmp_path):
    split = _write(tmp_path, "AVVP_test_pd.csv", "filename\tevent_labels\nclipAAAAAAA_0_10\tDog\n"
                   "clipBBBBBBB_0_10 \tCat\nclipCCCCCCC_0_10\tCat\n")  # fmt: skip
    audio = _write(tmp_path, "AVVP_eval_audio.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t0\t4\tDog\n"
                   "clipBBBBBBB_0_10\t0\t4\tCat\n")  # fmt: skip
    visual = _write(tmp_path, "AVVP_eval_visual.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t2\t3\tDog\n")
    names, _, lines = llp.read_weak_rows(split)
    with pytest.warns(llp.LLPDataWarning) as record:
        gt_a, gt_v = llp.read_dense_labels(audio, visual, names, split, lines)
    assert [str(w.message) for w in record] == [
        "clip 'clipBBBBBBB_0_10 ' in AVVP_test_pd.csv line 3 has no row in AVVP_eval_audio.csv or "
        "AVVP_eval_visual.csv (its name has leading/trailing spaces: remove them): scored as having no events",
        "clip 'clipCCCCCCC_0_10' in AVVP_test_pd.csv line 4 has no row in AVVP_eval_audio.csv or "
        "AVVP_eval_visual.csv: scored as having no events",
    ]
    assert gt_a[0].sum() == 4 and gt_v[0].sum() == 1 and gt_a[1:].sum() == 0 and gt_v[1:].sum() == 0


def test_many_clips_without_dense_rows_give_one_warning_with_the_count(tmp_path):
    names = [f"clip{i:07d}_0_10" for i in range(12)]
    dense = _write(tmp_path, "d.csv", DENSE_HEADER + f"{names[0]}\t0\t4\tDog\n")
    with pytest.warns(llp.LLPDataWarning) as record:
        llp.read_dense_labels(dense, dense, names)
    (message,) = [str(w.message) for w in record]
    assert message.startswith("11 of the 12 clips have no row in d.csv (first: 'clip0000001_0_10', ")


def test_rows_past_the_clip_warn_and_keep_official_numbers(tmp_path):
    dense = _write(tmp_path, "d.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t12\t15\tDog\n"
                   "clipAAAAAAA_0_10\t7\t14\tCat\nclipAAAAAAA_0_10\t10\t10\tCat\n")  # fmt: skip
    visual = _write(tmp_path, "v.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t0\t1\tDog\n")
    with pytest.warns(llp.LLPDataWarning) as record:
        gt_a, _ = llp.read_dense_labels(dense, visual, ["clipAAAAAAA_0_10"])
    messages = [str(w.message) for w in record]
    assert len(messages) == 2  # the zero-length "10 10" row (as in the real files) is not worth a warning
    assert messages[0].startswith(f"{dense}:2: Dog in clipAAAAAAA_0_10: onset 12 is past the clip's 10 "
                                  "one-second segments (0-9); the row marks no segment")  # fmt: skip
    assert messages[1].startswith(f"{dense}:3: Cat in clipAAAAAAA_0_10: offset 14 is past the clip's 10 "
                                  "one-second segments; the row marks segments 7-9")  # fmt: skip
    assert gt_a.sum() == 3 and gt_a[0, 7:, class_index("Cat")].all()


def test_a_csv_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "AVVP_val_pd.csv"
    rows = "".join(f"clip{i:07d}_0_10\tDog\n" for i in range(3000))  # past pandas' first decode chunk
    path.write_bytes(("filename\tevent_labels\n" + rows).encode() + "clipZZZZZZZ_0_10\tCaf\xe9\n".encode("latin1"))
    with pytest.raises(ValueError) as info:
        llp.read_weak_labels(path)
    assert str(info.value).startswith(f"{path}:3002: not UTF-8 text (byte 0xe9 cannot be decoded); LLP CSVs are "
                                      "UTF-8: re-save the file as UTF-8")  # fmt: skip


def test_check_split_csvs_refuses_an_unknown_class_without_importing_torch(tmp_path):
    import subprocess
    import sys

    _write(tmp_path, "AVVP_train.csv", "filename\tevent_labels\nclipAAAAAAA_0_10\tDog\n")
    _write(tmp_path, "AVVP_val_pd.csv", "filename\tevent_labels\nclipAAAAAAA_0_10\tDog\n")
    _write(tmp_path, "AVVP_eval_audio.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t0\t3\tDog\n")
    _write(tmp_path, "AVVP_eval_visual.csv", DENSE_HEADER + "clipAAAAAAA_0_10\t0\t3\tDogg\n")
    code = (
        "import sys\nfrom mmcse.data.paths import DataPaths, check_split_csvs\n"
        f"paths = DataPaths.from_root({str(tmp_path)!r}, 'demo')\n"
        "check_split_csvs(paths, ['train'])\n"
        "try:\n    check_split_csvs(paths, ['train', 'val'])\nexcept ValueError as exc:\n    print(exc)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(f"{tmp_path / 'AVVP_eval_visual.csv'}:2: unknown LLP class 'Dogg'; expected one of:")
    assert out[1] == "False"


def _weak_csv(tmp_path, *rows: str):
    path = tmp_path / "split.csv"
    path.write_text("filename\tevent_labels\n" + "".join(f"{r}\n" for r in rows))
    return path


def test_clips_by_id_keep_one_row_per_id_and_refuse_rows_that_would_replace_each_other(tmp_path, recwarn):
    """extract / pseudo-label write one <id>.npy per clip: an exact repeat counts once (without the
    evaluation's "counts twice" warning); another window or other labels under one id, or no rows, are one
    ValueError naming the lines."""
    names, labels = llp.read_clips_by_id(_weak_csv(tmp_path, "AbCdEfGhIjK_30_40\tDog,Speech", "ZyXwVuTsRqP_0_10\tCar",
                                                   "AbCdEfGhIjK_30_40\tDog,Speech"))  # fmt: skip
    assert names == ["AbCdEfGhIjK_30_40", "ZyXwVuTsRqP_0_10"] and not recwarn.list
    assert labels.shape == (2, NUM_CLASSES) and labels[0].sum() == 2 and labels[1, class_index("Car")] == 1
    path = _weak_csv(tmp_path, "AbCdEfGhIjK_30_40\tDog", "ZyXwVuTsRqP_0_10\tCar", "AbCdEfGhIjK_50_60\tDog")
    with pytest.raises(ValueError, match=f"^{path}:4: clips AbCdEfGhIjK_30_40 and AbCdEfGhIjK_50_60 share the id "
                                         "'AbCdEfGhIjK' \\(first on line 2\\); .*keep one row per id$"):  # fmt: skip
        llp.read_clips_by_id(path)
    path = _weak_csv(tmp_path, "AbCdEfGhIjK_30_40\tDog", "AbCdEfGhIjK_30_40\tSpeech")
    with pytest.raises(ValueError, match="^.*:3: clip AbCdEfGhIjK_30_40 is listed again with other labels"):
        llp.read_clips_by_id(path)
    with pytest.raises(ValueError, match="lists no clips; expected at least one row under the header"):
        llp.read_clips_by_id(_weak_csv(tmp_path))
