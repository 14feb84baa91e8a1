"""`split: {by: stratified}`: a random split within each label class (each decile of a
continuous label), so a rare class keeps its share in train and test. Valid on a table
without time, like `random`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from specops.runtime.data.build_training_set import split_rows
from specops.runtime.engine.op_interface import OpError


def test_each_class_keeps_its_share_and_the_split_is_deterministic() -> None:
    label = pl.Series([1] * 20 + [0] * 180)          # a rare positive class (10 %)
    rows = pl.Series(np.arange(200))
    mask = split_rows(rows, "stratified", 0.25, 7, label)
    y = label.to_numpy()
    assert mask.sum() == 50
    assert mask[y == 1].sum() == 5 and mask[y == 0].sum() == 45
    assert (split_rows(rows, "stratified", 0.25, 7, label) == mask).all()
    assert not (split_rows(rows, "stratified", 0.25, 8, label) == mask).all()
    # a plain random split of the same rows does not promise the 5 positives
    shares = {int(split_rows(rows, "random", 0.25, s)[y == 1].sum()) for s in range(20)}
    assert shares != {5}


def test_a_continuous_label_is_stratified_by_decile() -> None:
    label = pl.Series(np.linspace(0.0, 99.9, 1000))
    mask = split_rows(pl.Series(np.arange(1000)), "stratified", 0.2, 1, label)
    deciles = (label.to_numpy() // 10).astype(int)
    assert [int(mask[deciles == d].sum()) for d in range(10)] == [20] * 10


def test_stratified_needs_the_label() -> None:
    with pytest.raises(OpError, match="needs the label"):
        split_rows(pl.Series([1, 2, 3]), "stratified", 0.5, 0)
