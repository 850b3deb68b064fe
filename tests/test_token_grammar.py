"""One module owns the token grammar: ``masker.tokens.scheme``.

No other source file under addons/ spells a scheme or its mark out in a
string (code, regexes, messages); they import ``TOKEN_MARK``, the schemes,
``VAULT_PREFIX`` / ``AEAD_PREFIX``, ``SCHEME_RE``, ``might_hold_token`` or
``is_token`` instead. Docstrings and comments may name the schemes.
"""

from __future__ import annotations

import ast
from pathlib import Path

from masker.tokens import scheme

ROOT = Path(__file__).resolve().parents[1]
ADDONS = ROOT / "addons"
OWNER = "addons/masker/tokens/scheme.py"


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, nodes) and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)
    }


def mark_literals(path: Path) -> list[int]:
    """Lines of the string and bytes constants of ``path`` (docstrings aside) that hold the token mark."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docs = _docstrings(tree)
    mark = scheme.TOKEN_MARK
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docs:
            continue
        value = node.value
        if (isinstance(value, str) and mark in value) or (isinstance(value, bytes) and mark.encode() in value):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_the_scheme_spells_a_token_mark_out() -> None:
    found = []
    for path in sorted(ADDONS.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == OWNER:
            continue
        found += [f"{rel}:{line}" for line in mark_literals(path)]
    assert not found, "token grammar spelled out outside masker.tokens.scheme (import its names): " + ", ".join(found)


def test_the_scan_sees_a_mark_in_code_but_not_in_a_docstring(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""MSKV1 tokens are mentioned here."""\n'
        "def f(text):\n"
        '    """MSK1 too."""\n'
        '    return "MSK" in text or b"MSK1." in text\n'
    )
    assert mark_literals(sample) == [4, 4]
    assert mark_literals(ROOT / OWNER)  # the owner does spell them out


def test_the_names_of_the_grammar() -> None:
    assert all(s.startswith(scheme.TOKEN_MARK) for s in scheme.SCHEMES)
    assert scheme.PREFIXES == (scheme.VAULT_SCHEME + ".", scheme.AEAD_SCHEME + ".")
    vault = scheme.format_token(scheme.VAULT_SCHEME, "NAME", "K_TEST", "A" * scheme.VAULT_BODY_LEN)
    aead = scheme.format_token(scheme.AEAD_SCHEME, "NAME", "K_TEST", "B" * scheme.MIN_AEAD_BODY_LEN)
    assert scheme.is_token(vault) and scheme.is_token(aead)
    assert not scheme.is_token(vault + " ") and not scheme.is_token(vault[:-1])
    for text in (vault, aead, f"x {vault} y"):
        assert scheme.might_hold_token(text) and scheme.might_hold_token(text.encode())
    assert not scheme.might_hold_token("MSKCC") and not scheme.might_hold_token(b"MSKV1")
