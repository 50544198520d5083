#!/usr/bin/env python3
"""Check that every `shiftad` command line in the README and docs/ names what exists.

Usage: scripts/check_doc_commands.py SHIFTAD_BINARY SOURCE_DIR

Every command line of a fenced block (with its `\\` continuations) and every inline code
span that calls `build/shiftad SUBCOMMAND` (or `shiftad SUBCOMMAND`) is read, and each of
its parts is checked against the binary itself, not against a list kept here:
- the subcommand, and every option against `shiftad SUBCOMMAND --help`;
- `--variant`/`--variants` names against `shiftad variants`;
- `--suite NAME` against suites/NAME.yaml (or a file path in the checkout);
- every `--set key=value`, and each value of `--sweep key=v1,v2` (split at commas outside
  brackets, as bench does), through `shiftad config --set` (an unknown key, a value out
  of range or of the wrong kind fails there). Paths are not checked (they are examples).
Placeholders are skipped: words in capitals (NAME, RUN_DIR), `$VAR`, `...`, `<...>`; so
are the inline spans of docs/reliability.md, whose table quotes bad input on purpose.
Exit status 1 with one line per problem (file:line, the command, what is wrong).
"""
import pathlib
import re
import shlex
import subprocess
import sys

# A call begins its segment of the line (after env settings, `time` or `sudo`): prose in
# a comment ("# as shiftad decodes") is none.
CALL = re.compile(r"^\s*(?:[A-Za-z_]+=\S*\s+)*(?:(?:time|sudo|exec|nice)\s+)*(?:\S*/)?shiftad\s+([a-z][a-z-]*)(.*)")
# Options whose values follow until the next option (CLI11 vectors).
MULTI = {"--variants", "--seeds", "--classes", "--merge", "--set", "--images"}


def doc_files(root):
    docs = sorted((root / "docs").glob("*.md")) + sorted((root / "docs" / "results").glob("*.md"))
    return [root / "README.md"] + docs


def command_lines(path):
    """(line number, text) of every command line in a fenced block or an inline span."""
    text = path.read_text(encoding="utf-8")
    out, in_block, pending, start = [], False, None, 0
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip().startswith("```"):
            in_block, pending = not in_block, None
            continue
        if not in_block:
            continue
        part = line.strip()
        pending, start = (part, number) if pending is None else (pending + " " + part, start)
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        out.append((start, pending))
        pending = None
    if path.name == "reliability.md":
        return out  # its table's inline spans quote bad input on purpose (`shiftad trian`)
    outside = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    for m in re.finditer(r"`([^`\n]+)`", outside):
        out.append((outside[: m.start()].count("\n") + 1, m.group(1)))
    return out


def placeholder(word):
    return word in ("...", "\\") or "$" in word or word.startswith("<") or re.fullmatch(r"[A-Z][A-Z0-9_./-]*", word)


class Binary:
    def __init__(self, path):
        self.path = path
        self.options, self.sets = {}, {}
        self.collected = None  # a list while the first pass gathers the values to check
        listing = self.run("variants").stdout
        self.variants = set(re.findall(r"^\s*(\w+)\s", listing, re.M))
        main_help = self.run("--help").stdout
        self.subcommands = set(re.findall(r"^  ([a-z][a-z-]*)\s", main_help.split("Subcommands:")[-1], re.M))

    def run(self, *args):
        return subprocess.run([self.path, *args], capture_output=True, text=True, timeout=60)

    def options_of(self, sub):
        if sub not in self.subcommands:
            return None  # `shiftad typo --help` prints the main help, exit 0
        if sub not in self.options:
            r = self.run(sub, "--help")
            help_text = r.stdout.split("Exit status")[0] if r.returncode == 0 else None
            self.options[sub] = None if help_text is None else set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", help_text))
        return self.options[sub]

    def check_together(self, kvs):
        """One `config` call for every value: when it passes, each does (most runs)."""
        args = [a for kv in sorted(set(kvs)) for a in ("--set", kv)]
        if args and self.run("config", "--threads", "1", *args).returncode == 0:
            self.sets.update({kv: "" for kv in kvs})

    def set_problem(self, kv):
        if self.collected is not None:
            self.collected.append(kv)
            return ""
        if kv not in self.sets:
            r = self.run("config", "--threads", "1", "--set", kv)
            self.sets[kv] = "" if r.returncode == 0 else (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return self.sets[kv]


def sweep_values(values):
    out, depth, start = [], 0, 0
    for i, c in enumerate(values):
        depth += (c == "[") - (c == "]")
        if c == "," and depth == 0:
            out.append(values[start:i])
            start = i + 1
    return out + [values[start:]]


def check_value(binary, root, option, word):
    if option == "--suite" and not (root / "suites" / (word + ".yaml")).exists() and not (root / word).exists():
        return "suite '%s' is neither suites/%s.yaml nor a file of the checkout" % (word, word)
    if option in ("--variant", "--variants"):
        unknown = [v for v in word.split(",") if v and v not in binary.variants]
        return "variant(s) %s not in `shiftad variants`" % ", ".join(unknown) if unknown else ""
    if option == "--set" and "=" in word and not re.search(r"\.(root|path|weights|cache_dir)=", word):
        return "" if placeholder(word.split("=", 1)[1]) else binary.set_problem(word)
    if option == "--sweep" and "=" in word:
        key, values = word.split("=", 1)
        for value in sweep_values(values):
            problem = binary.set_problem(key + "=" + value)
            if problem:
                return "--sweep value %s=%s: %s" % (key, value, problem)
    return ""


def check_call(binary, root, sub, rest):
    options = binary.options_of(sub)
    if options is None:
        return ["unknown subcommand '%s'" % sub]
    try:
        words = shlex.split(re.sub(r"\s#.*", "", rest))
    except ValueError:
        words = rest.split()
    problems, option = [], None
    for word in words:
        if word in ("&&", "||", "|", ";", "&", ">", "2>&1") or word.startswith(">"):
            break  # the next command of the line is checked on its own
        if word.startswith("-") and word != "-" and not re.match(r"-\d", word):
            option = word.split("=")[0]
            if option not in options:
                problems.append("option %s is not in `shiftad %s --help`" % (option, sub))
            continue
        if option and not placeholder(word):
            problem = check_value(binary, root, option, word)
            if problem:
                problems.append(problem)
        if option not in MULTI:
            option = None
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, root = Binary(sys.argv[1]), pathlib.Path(sys.argv[2])
    binary.collected = []
    check_docs(binary, root)
    kvs, binary.collected = binary.collected, None
    binary.check_together(kvs)
    problems, calls = check_docs(binary, root)
    for p in problems:
        print(p)
    print("%d shiftad command lines checked, %d problem(s)" % (calls, len(problems)))
    return 1 if problems else 0


def check_docs(binary, root):
    problems, calls = [], 0
    for path in doc_files(root):
        for number, line in command_lines(path):
            segments = re.split(r"\s(?:&&|\|\||\||;|&)\s|;\s*do\s", line)
            for m in filter(None, (CALL.search(segment) for segment in segments)):
                if placeholder(m.group(1)):
                    continue
                calls += 1
                for p in check_call(binary, root, m.group(1), m.group(2)):
                    problems.append("%s:%d: `%s`: %s" % (path.relative_to(root), number, line.strip()[:160], p))
    return problems, calls


if __name__ == "__main__":
    sys.exit(main())
