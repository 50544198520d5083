#!/usr/bin/env python3
"""List C++ functions in src/ longer than a limit (default 60 lines, braces included).

Usage: scripts/check_function_length.py [--limit N] [DIR ...]   (default DIR: src)
Exit status 1 when a function is over the limit, unless it is marked as a data table
with a comment `// function-length: data table` on the line before its header.

A small brace matcher, not a parser: comments, string and character literals are blanked
first; a `{` opens a function when the text before it (back to the previous `;`, `{` or
`}`) ends with a parameter list, optionally followed by qualifiers, an initializer list
or a trailing return type, and the brace is not inside another function.
"""
import argparse
import pathlib
import re
import sys

SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^()]*$|extern\s+\"C\"\s*$")
CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else|return)\b")


def blank(text):
    """Comments and literals replaced by spaces, newlines kept (line numbers stay)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)


def functions(path):
    raw = path.read_text(errors="replace")
    text = blank(raw)
    raw_lines = raw.splitlines()
    stack = []  # (kind, start_line, name)
    last_stop = 0
    for i, c in enumerate(text):
        if c == "{":
            head = text[last_stop:i]
            inside_function = any(k == "function" for k, _, _ in stack)
            kind = "block"
            if not inside_function:
                h = " ".join(head.split())
                if SCOPE.search(h):
                    kind = "scope"
                elif re.search(r"\)\s*(const|noexcept|override|final|mutable|->[^{]*|:[^{]*|\s)*$", h) and not CONTROL.match(h) and "=" not in h.split("(")[0]:
                    kind = "function"
            start = text.count("\n", 0, last_stop + len(head) - len(head.lstrip())) + 1
            name = re.findall(r"([~\w:]+)\s*\(", head)
            stack.append((kind, start, name[0] if name else "?"))
            last_stop = i + 1
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "function":
                    end = text.count("\n", 0, i) + 1
                    marked = start >= 2 and "function-length: data table" in raw_lines[start - 2]
                    yield name, start, end - start + 1, marked
            last_stop = i + 1
        elif c == ";":
            last_stop = i + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("dirs", nargs="*", default=["src"])
    a = ap.parse_args()
    over = []
    for d in a.dirs:
        for p in sorted(pathlib.Path(d).rglob("*")):
            if p.suffix in (".cpp", ".h", ".hpp", ".cc"):
                for name, line, length, marked in functions(p):
                    if length > a.limit and not marked:
                        over.append((length, f"{p}:{line}: {name} is {length} lines (limit {a.limit})"))
    for _, msg in sorted(over, reverse=True):
        print(msg)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
