"""The set-up the README promises: its commands are the ones CI runs, and the test requirements
file installs what the `test` extra names."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def _commands(block):
    return [line.strip() for line in block.splitlines() if line.strip() and line[0] != "#"]


def test_ci_runs_the_readme_setup_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = _readme_blocks()
    assert len(blocks) >= 2, "README.md must open with its two set-up blocks"
    for block in blocks[:2]:
        for cmd in _commands(block):
            assert re.search(rf"^(python -m )?{re.escape(cmd)}$", ci, re.M), (
                f"README command {cmd!r} is not in .ci/run"
            )


def test_requirements_file_matches_test_extra():
    tomllib = pytest.importorskip("tomllib")
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["test"]
    lines = (ROOT / "tests" / "requirements.txt").read_text().splitlines()
    reqs = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(reqs) == sorted(extra)


def test_readme_python_blocks_run():
    """The usage the README shows runs as shown, block after block in one namespace (CuPy and
    dask are named there in prose only)."""
    import halfkit

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md shows no Python usage"
    namespace: dict = {}
    threads = halfkit.get_num_threads()
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    finally:
        halfkit.unpatch_numpy()
        halfkit.set_num_threads(threads)
