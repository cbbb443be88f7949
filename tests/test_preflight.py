"""Before Hydra makes a run folder: unknown group choices and output folders that cannot work are one
sentence, exit 2."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import env
from unlearn_bench.cli.choices import group_choices, unknown_choice
from unlearn_bench.cli.preflight import folder_problem, output_problem


def test_group_choices_merge_the_package_and_the_user_config_folders(tmp_path):
    (tmp_path / "method").mkdir()
    (tmp_path / "method" / "mine.yaml").write_text("_target_: x.Y\n")
    from unlearn_bench.conf import CONF_DIR

    choices = group_choices("method", [CONF_DIR, tmp_path])
    assert "mine" in choices and "ssd" in choices
    assert group_choices("nosuchgroup", [CONF_DIR, tmp_path]) is None


@pytest.mark.parametrize(("overrides", "refused"), [
    (["method=ssd", "dataset=digits"], None),
    (["method=ssd,nosuch"], "method=nosuch is not a choice of method"),
    (["+method=nosuch"], "method=nosuch is not a choice of method"),
    (["method.alpha=3", "method=glob(*)", "hydra/launcher=nosuch", "nosuchgroup=x"], None),
    (["debug=null"], None),
])
def test_unknown_choices_are_found_and_sweep_syntax_is_left_to_hydra(overrides, refused):
    found = unknown_choice(overrides)
    assert (found is None) if refused is None else found.startswith(refused)


def test_a_folder_that_is_a_file_or_cannot_be_written_is_named(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert folder_problem(afile / "outputs") == f"{afile} is a file, not a folder"
    assert folder_problem(tmp_path / "new" / "deeper") is None

    def read_only(self, data):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    assert folder_problem(tmp_path) == f"{tmp_path} cannot be written (Read-only file system)"


def test_the_root_is_checked_only_when_no_output_folder_is_given(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert output_problem([], {"UNLEARN_BENCH_ROOT": str(afile)}).startswith(f"UNLEARN_BENCH_ROOT={afile}: ")
    assert output_problem([f"hydra.run.dir={tmp_path / 'run'}"], {"UNLEARN_BENCH_ROOT": str(afile)}) is None
    assert output_problem([f"hydra.run.dir={afile}"], {}).startswith(f"hydra.run.dir={afile}: {afile} is a file")
    assert output_problem(["hydra.run.dir=${paths.root_dir}/x"], {"UNLEARN_BENCH_ROOT": str(tmp_path)}) is None


def test_an_outputs_folder_under_the_root_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    write_bytes = Path.write_bytes

    def read_only_outputs(self, data):
        if self.parent == outputs:
            raise OSError(errno.EACCES, "Permission denied", str(self))
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only_outputs)
    problem = output_problem([], {"UNLEARN_BENCH_ROOT": str(tmp_path)})
    assert problem.startswith(f"UNLEARN_BENCH_ROOT={tmp_path}: {outputs} cannot be written (Permission denied)")


@pytest.mark.parametrize("where", ["root", "run_dir"])
def test_cli_an_output_folder_that_is_a_file_exits_2_with_one_line(tmp_path, where):
    afile = tmp_path / "afile"
    afile.write_text("")
    if where == "root":
        args, extra = ["scale=smoke"], {"UNLEARN_BENCH_ROOT": str(afile)}
    else:
        args, extra = ["scale=smoke", f"paths.root_dir={tmp_path}", f"hydra.run.dir={afile}"], {}
    proc = subprocess.run([sys.executable, "-m", "unlearn_bench", *args], cwd=tmp_path, env={**env(), **extra},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert f"{afile} is a file, not a folder" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_searchpath_on_the_command_line_adds_its_choices(tmp_path):
    (tmp_path / "method").mkdir()
    (tmp_path / "method" / "mine.yaml").write_text("_target_: x.Y\n")
    assert unknown_choice(["method=mine"]) is not None
    assert unknown_choice(["method=mine", f"hydra.searchpath=[file://{tmp_path}]"]) is None
    assert unknown_choice(["method=mine", "hydra.searchpath=[pkg://elsewhere.conf]"]) is None  # Hydra decides


@pytest.mark.parametrize("override", ["~method", "~model", "~dataset=digits", "~protocol"])
def test_removing_a_group_the_presets_need_is_one_sentence(override):
    from unlearn_bench.cli.choices import removed_group

    message = removed_group(["seed=1", override])
    assert message.startswith(f"{override} removes the ") and message.endswith(".")
    assert removed_group(["~lenses.ulira", "seed=1"]) is None
