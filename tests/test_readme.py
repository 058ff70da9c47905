"""The README's library example, run as written (only the site's address is this test's)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from crawler.testing import Page, TestSite

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    library = text.split("## Library", 1)[1]
    match = re.search(r"```python\n(.*?)```", library, re.DOTALL)
    assert match, "the README's Library section has no python example"
    return match.group(1)


async def test_the_readme_library_example_crawls_the_site(tmp_path: Path) -> None:
    async with TestSite("127.0.0.1") as site:
        site.add("/", Page(title="Home", body_text="", links=["/a", "/b"], extra_head=""))
        site.add("/a", Page(title="A", links=["/b"]))
        site.add("/b", Page(title="B"))
        code = readme_example().replace("https://example.com/", site.url("/"))
        code = code.replace('"config.toml"', repr(str(ROOT / "config.toml")))
        script = tmp_path / "example.py"
        script.write_text(
            "import os\nos.chdir(" + repr(str(tmp_path)) + ")\n" + textwrap.dedent(code)
        )
        proc = await _run(script)
    assert proc.returncode == 0, proc.stderr
    # crawl() stored the seed and queued its links; run() crawled on from them.
    assert site.hits["/"] == 1
    assert site.hits["/a"] == 1
    assert site.hits["/b"] == 1
    assert "'pages_ok': 3" in proc.stdout


async def _run(script: Path) -> subprocess.CompletedProcess[str]:
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return subprocess.CompletedProcess(
        [str(script)], process.returncode or 0, out.decode(), err.decode()
    )
