"""Every C example of the docs compiles, against the series' own uapi header.

The C blocks are those of ``docs/**/*.rst`` (``code-block``/``code``/``sourcecode``
with language ``c``, and ``literalinclude`` with ``:language: c``), the C files of
``docs/examples/``, and the literal (``::``) blocks of the kernel's
``Documentation/userspace-api/ptag.rst`` that hold C, which
``tools/extract-kernel-doc`` pulls out of ``linux-patch/``, as it does the headers:
``include/uapi/linux/ptag.h`` and the lines the series adds to
``include/uapi/linux/prctl.h`` are written into a temporary include directory
(``<linux/prctl.h>`` is the system's with those lines added), nothing else.

A block with an ``#include`` is a translation unit and is compiled as it stands
(``gcc -std=gnu11 -O2 -Wall -Wextra -Werror -c``): an example must say what it
includes.  A block without one is a synopsis (declarations and calls): its
declarations are compiled after ``<linux/types.h>`` and ``<sys/prctl.h>``, its calls
inside a function that declares the variables they name (:data:`SYNOPSIS_VARIABLES`,
the types the surrounding text gives them), and a ``struct`` it declares must be
the header's, token for token.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GCC = shutil.which("gcc")
SYSTEM_PRCTL = Path("/usr/include/linux/prctl.h")

#: Variables a synopsis may use without declaring them, with their declarations.
SYNOPSIS_VARIABLES = {"args": "struct ptag_args args = {0};"}

#: Examples known not to compile, by id, with the reason: marked xfail(strict=True),
#: so each turns into a failure the day it is fixed and its entry must go.  (The
#: kernel doc's example lacked ``#include <stdint.h>`` for ``uintptr_t`` until
#: 28f0aa4; this test, run on the series before it, fails that example.)
KNOWN_BROKEN: dict[str, str] = {}

_C_DIRECTIVE = re.compile(r"^(\s*)\.\. (?:code-block|code|sourcecode):: c\s*$")
_LITERALINCLUDE = re.compile(r"^(\s*)\.\. literalinclude:: (\S+)\s*$")
_LOOKS_C = re.compile(r"#include\s*<|^\s*struct \w+ \{|^\s*\w+\(.*\);\s*$", re.M)


def _extract_tool() -> ModuleType:
    path = ROOT / "tools" / "extract-kernel-doc"
    loader = importlib.machinery.SourceFileLoader("extract_kernel_doc", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


KERNEL = _extract_tool().extract(ROOT / "linux-patch")


class Block:
    """One C example: where it is, its text, and whether it is a synopsis."""

    def __init__(self, ident: str, text: str) -> None:
        self.ident = ident
        self.text = text
        self.synopsis = "#include" not in text and not ident.endswith(".h")


def _indented_block(lines: list[str], start: int, base: int) -> tuple[str, int]:
    """The block of lines indented deeper than ``base`` from ``start`` (options of a
    directive, ``   :name: value``, are skipped), dedented; and the next index."""
    i = start
    while i < len(lines) and lines[i].strip().startswith(":") and lines[i].strip() != "::":
        i += 1
    body: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= base:
            break
        body.append(line)
        i += 1
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    indent = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
    return "".join(x[indent:] + "\n" for x in body), i


def rst_blocks(text: str, origin: str, *, literal_c: bool, base_dir: Path | None) -> list[Block]:
    """The C blocks of one reST text, named ``origin:SECTION#N``; with ``literal_c``,
    also the ``::`` literal blocks that look like C."""
    lines = text.split("\n")
    out: list[Block] = []
    section, count = "top", 0
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        underline = re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", nxt.strip())
        if line.strip() and underline and len(nxt.strip()) >= len(line.strip()):
            section, count = line.strip(), 0
        code = _C_DIRECTIVE.match(line)
        inc = _LITERALINCLUDE.match(line)
        body: str | None = None
        name = ""
        if code:
            body, i = _indented_block(lines, i + 1, len(code.group(1)))
        elif inc and base_dir is not None:
            j = i + 1
            opts: list[str] = []
            while j < len(lines) and lines[j].strip().startswith(":"):
                opts.append(lines[j].strip())
                j += 1
            if ":language: c" in opts:
                body, name = _included(base_dir, inc.group(2)), Path(inc.group(2)).name
            i = j
        elif literal_c and line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            indent = len(line) - len(line.lstrip())
            text_, i = _indented_block(lines, i + 1, indent)
            if _LOOKS_C.search(text_) and not text_.lstrip().startswith("$"):
                body = text_
        else:
            i += 1
            continue
        if body is not None:
            count += 1
            out.append(Block(f"{origin}:{section}#{count}" + (f":{name}" if name else ""), body))
    return out


def _included(base_dir: Path, rel: str) -> str:
    """A literalinclude's file; ``_generated/`` is what extract-kernel-doc makes."""
    if rel.startswith("_generated/") and rel[len("_generated/") :] in KERNEL:
        text: str = KERNEL[rel[len("_generated/") :]]
        return text
    return (base_dir / rel).read_text(encoding="utf-8")


def all_blocks() -> list[Block]:
    blocks: list[Block] = []
    for rst in sorted(DOCS.rglob("*.rst")):
        rel = rst.relative_to(ROOT)
        if rel.parts[1] in ("_build", "_generated"):
            continue
        blocks += rst_blocks(
            rst.read_text(encoding="utf-8"), str(rel), literal_c=False, base_dir=rst.parent
        )
    for src in sorted((DOCS / "examples").glob("*.[ch]")):
        blocks.append(Block(str(src.relative_to(ROOT)), src.read_text(encoding="utf-8")))
    blocks += rst_blocks(
        KERNEL["ptag.rst"],
        "kernel:Documentation/userspace-api/ptag.rst",
        literal_c=True,
        base_dir=None,
    )
    return blocks


BLOCKS = all_blocks()


@pytest.fixture(scope="module")
def include_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``linux/ptag.h`` of the series and ``linux/prctl.h`` with the series' lines."""
    inc = tmp_path_factory.mktemp("include")
    (inc / "linux").mkdir()
    (inc / "linux" / "ptag.h").write_text(KERNEL["uapi-ptag.h"])
    prctl = SYSTEM_PRCTL.read_text()
    end = prctl.rindex("#endif")
    (inc / "linux" / "prctl.h").write_text(
        prctl[:end] + KERNEL["uapi-prctl.h"] + "\n" + prctl[end:]
    )
    return inc


def _tokens(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.findall(r"\w+|[^\s\w]", text)


def _struct(text: str, name: str) -> list[str] | None:
    m = re.search(r"struct " + name + r" \{.*?\};", text, re.S)
    return None if m is None else _tokens(m.group(0))


def _split_synopsis(text: str) -> tuple[str, str]:
    """(declarations, calls): a top-level chunk that starts with ``name(`` is a call."""
    decls: list[str] = []
    calls: list[str] = []
    chunk: list[str] = []
    depth = 0
    for line in text.split("\n"):
        chunk.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and line.rstrip().endswith((";", "}")):
            piece = "\n".join(chunk).strip()
            (calls if re.match(r"\w+\s*\(", piece) else decls).append(piece)
            chunk = []
    rest = "\n".join(chunk).strip()
    if rest:
        decls.append(rest)
    return "\n\n".join(decls), "\n".join(calls)


def compile_c(source: str, inc: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    src = tmp / "example.c"
    src.write_text(source)
    cmd = [GCC or "gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"]
    cmd += ["-I", str(inc), "-c", "-o", str(tmp / "example.o"), str(src)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_found_the_examples() -> None:
    """The extraction finds what the docs hold today, so a parser that silently
    finds nothing cannot pass: the kernel doc's example and synopsis, and the
    uapi headers kernel-abi.rst includes."""
    idents = [b.ident for b in BLOCKS]
    assert "kernel:Documentation/userspace-api/ptag.rst:Example#1" in idents
    assert any(i.startswith("kernel:") and b.synopsis for i, b in zip(idents, BLOCKS))
    assert any(i.startswith("docs/kernel-abi.rst") and i.endswith("uapi-ptag.h") for i in idents)
    assert any(i.endswith("uapi-prctl.h") for i in idents)
    # and nothing that is not C: the /proc line format and the shell transcript
    assert not any("$ cat" in b.text or b.text.startswith("<owner>") for b in BLOCKS)


@pytest.mark.skipif(GCC is None, reason="no gcc (tools/setup installs build-essential)")
@pytest.mark.parametrize(
    "block",
    [
        pytest.param(
            b, id=b.ident, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[b.ident])
        )
        if b.ident in KNOWN_BROKEN
        else pytest.param(b, id=b.ident)
        for b in BLOCKS
    ],
)
def test_c_example_compiles(block: Block, include_dir: Path, tmp_path: Path) -> None:
    if not block.synopsis:
        p = compile_c(block.text, include_dir, tmp_path)
        assert p.returncode == 0, f"{block.ident} does not compile:\n{block.text}\n{p.stderr}"
        return
    decls, calls = _split_synopsis(block.text)
    for name in re.findall(r"struct (\w+) \{", decls):
        header = _struct(KERNEL["uapi-ptag.h"], name)
        if header is not None:
            assert _struct(decls, name) == header, (
                f"{block.ident}: struct {name} is not the header's"
            )
    used = [decl for var, decl in SYNOPSIS_VARIABLES.items() if re.search(rf"\b{var}\b", calls)]
    source = (
        "#include <linux/types.h>\n#include <sys/prctl.h>\n\n"
        + decls
        + "\n\nint doc_synopsis(void);\nint doc_synopsis(void)\n{\n"
        + "".join(f"\t{d}\n" for d in used)
        + "".join(f"\t{line}\n" for line in calls.split("\n") if line)
        + "\treturn 0;\n}\n"
    )
    p = compile_c(source, include_dir, tmp_path)
    assert p.returncode == 0, f"{block.ident} does not compile:\n{source}\n{p.stderr}"


def test_system_prctl_header_is_there() -> None:
    """The include directory is built on the system's <linux/prctl.h>."""
    assert SYSTEM_PRCTL.is_file(), "linux-libc-dev is missing (tools/setup installs it)"
