from unlearn_bench.experiment.runner import run


def test_default_config_runs_end_to_end(make_cfg):
    record = run(make_cfg())
    assert record["method"] == "ssd"
    assert record["metrics"]["original"]["forget_test_acc"] > 50
