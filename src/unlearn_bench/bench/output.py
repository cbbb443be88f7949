"""Where a benchmark's result goes: `<name>.json` and `<name>.md` under its `--out` folder."""

from __future__ import annotations

import json
from pathlib import Path


def write_result(out: str | Path, name: str, result: dict, text: str) -> tuple[Path, Path]:
    """Write the result as JSON and its markdown `text`; print the markdown and where both went."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(result, indent=2))
    md_path.write_text(text)
    print(text)
    print(f"Wrote {json_path} and {md_path}.")
    return json_path, md_path
