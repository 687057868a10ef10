"""Every code block in README.md runs as written.

How the README is read, the rule a user who copies its blocks can rely on:

- **One section at a time.** A section is a ``##`` heading with everything under it,
  its ``###`` subsections included (the text before the first ``##`` is one section
  too). A section's blocks run top to bottom in one namespace and one fresh,
  empty working folder of their own: a block may use the names an earlier block of
  the *same* section defined and the files it wrote, never those of another
  section. So a reader can start at any section and copy its blocks in order.
- ``python`` blocks are executed as they stand.
- ``bash`` and ``sh`` blocks run line by line (a line ending in ``\\`` joined with
  the next; comments dropped) in that folder: a ``tsrnn ...`` line in this process
  through :func:`tsrnn.cli.main`, with its ``< file`` and ``> file`` redirections;
  any other line in ``bash`` with the environment's ``bin`` folder (where the
  ``tsrnn`` command is installed) first on ``PATH``.
- A block right after ``<!-- not run by tests: REASON -->`` is not run. That is for
  blocks about this repository itself (building its environment, benchmarks that
  run for minutes), and :data:`NOT_RUN` counts them, so no new block slips out
  of the test unnoticed.
- A fence in another language is a decision to make here: the languages in
  :data:`SHOWN` are data to read (none run), and any other language, or a fence
  without one, fails :func:`test_every_block_is_run_or_marked`.

Training is shrunk so that the README keeps its real parameters (``input_len=168``,
30 epochs, three networks) and the test still takes seconds: every training goes
through :func:`tsrnn.training.fit_module`, which here trains one epoch of two
batches and validates on one batch. What is tested is that every line works as
written, not the models it trains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_lines import command_lines, run_command

README = Path(__file__).resolve().parents[1] / "README.md"
RUN = {"python", "bash", "sh"}
SHOWN = {"text", "toml", "yaml", "csv", "json"}
NOT_RUN = 5  # `make demo` / `make test`; the detection benchmark (minutes per seed);
# `tsrnn stream --mqtt` (needs a broker: tests/test_mqtt.py runs it against one);
# a distributed="ddp" script, which Lightning runs again, and torchrun and srun over
# several machines (tests/test_ddp.py runs ddp scripts on two local processes)
MARK = re.compile(r"<!--\s*not run by tests:\s*(?P<reason>\S.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)\s*$")
SHORT = {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1}


@dataclass
class Block:
    section: str
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None  # the reason, when marked


def _blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order."""
    blocks, section, lines = [], "(top)", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = FENCE.match(line)
        if fence is None:
            i += 1
            continue
        indent, start = len(fence["indent"]), i
        body = []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i][indent:])
            i += 1
        assert i < len(lines), f"README.md:{start + 1}: a code block that never closes"
        before = next((p.strip() for p in reversed(lines[:start]) if p.strip()), "")
        mark = MARK.fullmatch(before)
        blocks.append(
            Block(
                section,
                start + 1,
                fence["lang"].lower(),
                "\n".join(body) + "\n",
                mark["reason"] if mark else None,
            )
        )
        i += 1
    return blocks


BLOCKS = _blocks(README.read_text(encoding="utf-8"))
SECTIONS = list(dict.fromkeys(b.section for b in BLOCKS if b.lang in RUN and b.not_run is None))


@pytest.fixture
def short_training(monkeypatch):
    """Every training, from Python or the command line, one short epoch."""
    from tsrnn import training

    fit_module = training.fit_module

    def fit_short(module, train_loader, val_loader=None, **kwargs):
        kwargs["max_epochs"] = SHORT["max_epochs"]
        limits = {k: v for k, v in SHORT.items() if k != "max_epochs"}
        kwargs["trainer_kwargs"] = {**(kwargs.get("trainer_kwargs") or {}), **limits}
        return fit_module(module, train_loader, val_loader, **kwargs)

    monkeypatch.setattr(training, "fit_module", fit_short)


def test_the_readme_blocks_are_found():
    """The parser itself, on a small text: sections, languages, marks, indented fences."""
    text = (
        "intro\n```bash\nmake x\n```\n## One\n<!-- not run by tests: slow -->\n\n"
        "```python\na = 1\n```\n### Sub\n  ```sh\n  echo \\\n    b\n  ```\n## Two\n"
        "```\nplain\n```\n"
    )
    blocks = _blocks(text)
    assert [(b.section, b.lang, b.not_run) for b in blocks] == [
        ("(top)", "bash", None),
        ("One", "python", "slow"),
        ("One", "sh", None),
        ("Two", "", None),
    ]
    assert blocks[2].code == "echo \\\n  b\n" and command_lines(blocks[2].code) == ["echo b"]
    assert command_lines("make demo   # builds\n            # and more\n") == [
        "make demo   # builds"
    ]


def test_other_lines_run_in_bash_with_tsrnn_on_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_command("command -v tsrnn > where.txt", "test")
    assert Path((tmp_path / "where.txt").read_text().strip()).name == "tsrnn"
    with pytest.raises(AssertionError, match="exited with 3"):
        run_command("exit 3", "test")


def test_every_block_is_run_or_marked():
    """Every block is in a language that runs or is only shown, and exactly the
    known blocks are marked as not run, each with its reason."""
    assert BLOCKS, "no code blocks found in README.md"
    odd = [f"README.md:{b.line}: ```{b.lang}" for b in BLOCKS if b.lang not in RUN | SHOWN]
    assert not odd, f"blocks in a language neither run nor shown: {odd}"
    not_run = [b for b in BLOCKS if b.not_run is not None]
    assert len(not_run) == NOT_RUN, [f"README.md:{b.line}: {b.not_run}" for b in not_run]
    assert all(b.lang in RUN for b in not_run), "a mark before a block that never runs"
    marks = len(MARK.findall(README.read_text(encoding="utf-8")))
    assert marks == NOT_RUN, "a 'not run by tests' mark that is not right before a block"


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_section_runs_as_written(section, tmp_path, monkeypatch, short_training):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for block in BLOCKS:
        if block.section != section or block.not_run is not None or block.lang not in RUN:
            continue
        where = f"README.md:{block.line}"
        if block.lang == "python":
            # Padded so that a traceback gives the line numbers of README.md.
            exec(compile("\n" * block.line + block.code, str(README), "exec"), namespace)
        else:
            for line in command_lines(block.code):
                run_command(line, where)
