import pytest
from PIL import Image

from test_report import record, write
from unlearn_bench.report.__main__ import main as report_main
from unlearn_bench.report.render import _md_cell
from unlearn_bench.report.style import KNOWN_METHODS, method_color, method_marker
from unlearn_bench.report.tables import Cell

PNG_MAGIC, PDF_MAGIC = b"\x89PNG", b"%PDF"


def test_each_known_method_has_its_own_colour_and_marker():
    assert len({method_color(m) for m in KNOWN_METHODS}) == len(KNOWN_METHODS)
    assert len({method_marker(m) for m in KNOWN_METHODS}) == len(KNOWN_METHODS)


def test_a_method_keeps_its_colour_whatever_else_is_plotted():
    assert method_color("ssd") == "#56B4E9" and method_marker("ssd") == "*"
    assert method_color("my_method") == method_color("my_method")  # unknown names: stable hash


def test_a_variant_keeps_its_methods_colour_with_another_marker():
    assert method_color("ssd (recompute []_D)") == method_color("ssd") == "#56B4E9"
    assert method_marker("ssd (recompute []_D)") != method_marker("ssd")
    assert method_marker("ssd (recompute []_D)") == method_marker("ssd (recompute []_D)")


@pytest.mark.parametrize("n, text", [(1, "70.50 (—)"), (2, "70.50 [70.00, 71.00] (—)")])
def test_no_interval_for_a_single_run(n, text):
    assert _md_cell(Cell(mean=70.5, std=0.0 if n == 1 else 0.7071, n=n, low=70.0, high=71.0), "Dr") == text


def test_figures_written_as_png_and_pdf_at_print_resolution(tmp_path):
    for seed in (0, 1):
        for method, dr in (("retrain", 95.0), ("ssd", 94.0), ("finetune", 90.0)):
            write(tmp_path / "runs", f"{method}{seed}", record(method, seed, dr, 0.0, 1.0, t=2.0 + seed))
    out = tmp_path / "report"
    assert report_main([str(tmp_path / "runs"), "--out", str(out)]) == 0

    for name in ("fig2_time", "gap_scatter"):
        assert (out / f"{name}.png").read_bytes()[:4] == PNG_MAGIC
        assert (out / f"{name}.pdf").read_bytes()[:4] == PDF_MAGIC
        with Image.open(out / f"{name}.png") as img:
            assert round(img.info["dpi"][0]) == 300
