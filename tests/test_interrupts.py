"""Signals in one process: raised at once by default; held between an Optuna search's trials and
raised when the next trial body starts; a second signal is never held."""

from __future__ import annotations

import os
import signal

import pytest

from unlearn_bench.cli import interrupts
from unlearn_bench.cli.interrupts import Interrupted


@pytest.fixture(autouse=True)
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in interrupts.SIGNALS}
    interrupts.install()
    yield
    interrupts.take_pending()
    interrupts.install()  # held = False for the next test
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _send(sig: int = signal.SIGTERM) -> None:
    os.kill(os.getpid(), sig)  # the handler runs before os.kill returns: the signal is for this thread


def test_a_signal_is_raised_at_once_with_the_shell_exit_code():
    with pytest.raises(Interrupted) as stop:
        _send(signal.SIGINT)
    assert stop.value.signum == signal.SIGINT and stop.value.exit_code == 130


def test_a_held_signal_is_raised_when_the_released_block_starts():
    interrupts.hold()
    _send()
    entered = []
    with pytest.raises(Interrupted) as stop:
        with interrupts.released():
            entered.append(True)
    assert stop.value.signum == signal.SIGTERM and stop.value.exit_code == 143
    assert entered == []  # the trial body never started
    assert interrupts.take_pending() is None


def test_inside_a_released_block_a_signal_is_raised_and_after_it_signals_are_held_again():
    interrupts.hold()
    with pytest.raises(Interrupted):
        with interrupts.released():
            _send()
    _send(signal.SIGINT)
    assert interrupts.take_pending() == signal.SIGINT


def test_a_second_signal_while_one_is_held_is_raised_at_once():
    interrupts.hold()
    _send()
    with pytest.raises(Interrupted) as stop:
        _send(signal.SIGINT)
    assert stop.value.signum == signal.SIGINT


def test_without_hold_released_changes_nothing():
    with interrupts.released():
        pass
    with pytest.raises(Interrupted):
        _send()


def test_after_stop_holding_the_held_signal_is_returned_and_the_next_is_raised():
    interrupts.hold()
    _send()
    assert interrupts.stop_holding() == signal.SIGTERM
    with pytest.raises(Interrupted):
        _send()


def test_a_signal_held_as_the_search_ends_exits_with_the_shell_code_and_one_line(capsys):
    from unlearn_bench.cli.entry import run_entry

    def search_whose_last_trial_was_signalled():
        interrupts.hold()
        _send()

    with pytest.raises(SystemExit) as end:
        run_entry(search_whose_last_trial_was_signalled)
    assert end.value.code == 143
    assert capsys.readouterr().err == "error: stopped by SIGTERM after the last trial (the search's results are kept).\n"


def _search_config(tmp_path, *overrides: str):
    from hydra import compose, initialize_config_module

    with initialize_config_module("unlearn_bench.conf", version_base="1.3"):
        return compose("config", return_hydra_config=True, overrides=[
            "hparams_search=ssd_optuna", f"paths.root_dir={tmp_path}", f"search.dir={tmp_path / 'optuna'}", *overrides])


@pytest.mark.parametrize(("launcher", "held"), [([], True), (["hydra/launcher=local"], False)])
def test_a_search_holds_signals_only_when_its_trials_run_in_this_process(tmp_path, launcher, held):
    from unlearn_bench.cli.hydra_callbacks import OptunaStudy

    OptunaStudy(method="ssd").on_multirun_start(_search_config(tmp_path, *launcher))
    if held:
        _send()
        assert interrupts.stop_holding() == signal.SIGTERM
    else:  # submitit runs the trials elsewhere: holding here would hold the signal for the whole search
        with pytest.raises(Interrupted):
            _send()
