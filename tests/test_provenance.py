"""Every built-in method names the authors' code its defaults follow, and the provenance
table is exactly the one generated from those YAML blocks."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from conftest import REPO
from unlearn_bench.methods.provenance import (
    END,
    START,
    load_all,
    markdown_table,
    method_yamls,
    without_provenance,
)

ROWS = load_all()


def test_every_built_in_method_has_a_provenance_block():
    assert sorted(r.method for r in ROWS) == sorted(method_yamls())
    assert len(ROWS) == 28  # the twenty-five methods, SSD's two follow-ups and their combination


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.method)
def test_provenance_names_a_commit_and_only_settings_the_method_has(row):
    settings = set(method_yamls()[row.method]) - {"_target_", "provenance", "presets", "defaults"}
    if row.code is None:
        assert row.commit is None and row.note, "a method without recorded code says why"
    else:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", row.code) and re.fullmatch(r"[0-9a-f]{40}", row.commit)
        assert row.files
    for key in (*row.differs, *row.unconfirmed):
        assert key in settings, f"{row.method}: provenance lists {key!r}, which is no setting of the method"


def test_the_docs_table_is_the_generated_one():
    readme = (REPO / "docs" / "methods.md").read_text()
    assert START in readme and END in readme, "docs/methods.md lost its provenance markers"
    block = readme[readme.index(START) + len(START):readme.index(END)].strip()
    assert block == markdown_table(), "the provenance table in docs/methods.md drifted: paste `python -m unlearn_bench.methods.provenance`"


def test_the_provenance_block_never_reaches_the_method_class():
    cfg = OmegaConf.create({"_target_": "x.Y", "lr": 0.1, "provenance": {"paper": "p"}})
    assert OmegaConf.to_container(without_provenance(cfg)) == {"_target_": "x.Y", "lr": 0.1}
    presets = OmegaConf.create({"_target_": "x.Y", "k": "${oc.select:presets.k.b,6}", "presets": {"k": {"b": 2}}})
    assert OmegaConf.to_container(without_provenance(presets)) == {"_target_": "x.Y", "k": 2}
    plain = OmegaConf.create({"_target_": "x.Y"})
    assert without_provenance(plain) is plain
