"""Disk faults at the end of a run: a run folder that cannot take the results, a file system without
hard links, a signal during the final write. Unit tests on the writers, and one CLI run per fault
(scale=smoke on digits, the fault injected by tests/faulty_disk.py)."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cli_helpers import finish, start
from unlearn_bench.cache.files import atomic_write_bytes
from unlearn_bench.cli import interrupts
from unlearn_bench.experiment.record import write_results
from unlearn_bench.experiment.rescue import RESCUE_FOLDER, RunRescued, save_run


@pytest.fixture
def no_link(monkeypatch):
    def refuse(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted", str(src), None, str(dst))

    monkeypatch.setattr(os, "link", refuse)


def test_without_hard_links_a_new_file_still_lands_whole_and_never_replaces_one(tmp_path, no_link):
    path = tmp_path / "results.json"
    atomic_write_bytes(path, b"first", replace=False)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        atomic_write_bytes(path, b"second", replace=False)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temporary file left
    assert write_results({"a": 1}, tmp_path).name == "results-2.json"


@pytest.fixture
def full_run_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    real_open = os.open

    def full(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT and Path(path).parent == out:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", full)
    return out


def cfg_for(tmp_path, out):
    return OmegaConf.create({"paths": {"output_dir": str(out), "root_dir": str(tmp_path / "root")},
                             "save": {"unlearned_model": True}, "dataset": {"num_classes": 2},
                             "model": {"net": {"_target_": "torch.nn.Linear"}}})


def test_a_run_folder_that_cannot_take_the_results_sends_them_to_a_named_rescue_folder(tmp_path, full_run_folder):
    import torch

    with pytest.raises(RunRescued) as caught:
        save_run(cfg_for(tmp_path, full_run_folder), {"method": "m", "distance_to_gold": 1.0}, torch.nn.Linear(2, 2))
    rescued = list((tmp_path / "root" / RESCUE_FOLDER).glob("*/results.json"))
    assert len(rescued) == 1
    assert str(rescued[0]) in str(caught.value) and "No space left on device" in str(caught.value)
    record = json.loads(rescued[0].read_text())
    assert record["distance_to_gold"] == 1.0 and (rescued[0].parent / record["artifacts"]["unlearned_model"]).is_file()
    assert list(full_run_folder.iterdir()) == []


def test_when_no_folder_takes_the_results_the_error_says_so(tmp_path, monkeypatch):
    def full(path, flags, mode=0o777, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(RunRescued, match=r"neither its folder .* nor a rescue folder .* could take its results"):
        save_run(cfg_for(tmp_path, tmp_path / "run"), {"method": "m"}, None)


@pytest.fixture
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in interrupts.SIGNALS}
    interrupts.install()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_signal_during_the_final_write_is_raised_after_it_naming_the_complete_file(tmp_path, handlers, monkeypatch):
    real_link = os.link

    def link_under_signal(src, dst, *args, **kwargs):
        signal.raise_signal(signal.SIGTERM)
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link_under_signal)
    with pytest.raises(interrupts.Interrupted) as caught, interrupts.FinalWrite() as final:
        final.written = str(write_results({"done": True}, tmp_path))
    assert caught.value.written == str(tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text()) == {"done": True}
    assert str(caught.value) == f"stopped by SIGTERM as the run ended: its results are complete in {tmp_path / 'results.json'}."


def test_a_signal_during_a_final_write_that_fails_says_no_results(tmp_path, handlers):
    with pytest.raises(interrupts.Interrupted) as caught, interrupts.FinalWrite():
        signal.raise_signal(signal.SIGINT)
        raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.written is None and "this run wrote no results" in str(caught.value)


def _cli(tmp_path, fault: str, run_dir: Path):
    proc = start(tmp_path, "method=baseline", f"hydra.run.dir={run_dir}", module="faulty_disk",
                 extra_env={"UB_FAULT": fault})
    return finish(proc)


def test_cli_full_run_folder_exits_1_and_names_where_the_results_went(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = _cli(tmp_path, f"full:{run_dir}", run_dir)
    rescued = list((tmp_path / RESCUE_FOLDER).glob("*/results.json"))
    assert code == 1 and "Traceback" not in err, err[-3000:]
    assert len(rescued) == 1
    assert err.strip().splitlines()[-1] == (
        f"error: the run finished, but its folder {run_dir} could not take its results (No space left on "
        f"device: {run_dir / 'unlearned_model.safetensors'}); they were written to {rescued[0]} instead.")


def test_cli_without_hard_links_writes_its_results_in_place(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = _cli(tmp_path, "no_link", run_dir)
    assert code == 0, err[-3000:]
    assert json.loads((run_dir / "results.json").read_text())["method"] == "baseline"


def test_cli_sigterm_at_the_results_link_reports_the_complete_results(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = _cli(tmp_path, "term_at_link", run_dir)
    assert code == 143 and "Traceback" not in err, err[-3000:]
    assert json.loads((run_dir / "results.json").read_text())["method"] == "baseline"
    assert err.strip().splitlines()[-1] == (
        f"error: stopped by SIGTERM as the run ended: its results are complete in {run_dir / 'results.json'}.")


def test_a_single_runs_killed_results_write_is_removed_by_its_next_run(tmp_path):
    from omegaconf import OmegaConf

    from unlearn_bench.cli.job import single_run

    killed_write = tmp_path / ".results.json.0123abcd.tmp"  # as a kill -9 during the write leaves it
    killed_write.write_text("{half")
    seen = []
    value = single_run(OmegaConf.create({"paths": {"output_dir": str(tmp_path)}}),
                       lambda cfg: seen.append(killed_write.exists()) or {"distance_to_gold": 1.5})
    assert seen == [False] and value == 1.5
