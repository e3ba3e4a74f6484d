#!/usr/bin/env python3
"""Rewrite the commit at HEAD for posting (run by 'tools/ktree series' under git rebase --exec).

PTAG_OLD is the development series' placeholder identity, PTAG_NEW the poster's,
both as 'Name <mail>'.  The commit's Signed-off-by and the MAINTAINERS M: line
take the poster's identity; author and committer come from the environment
(--reset-author); the author date is kept.
"""

import os
import subprocess


def git(*args: str, stdin: "str | None" = None) -> str:
    return subprocess.run(
        ["git", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def main() -> None:
    old, new = os.environ["PTAG_OLD"], os.environ["PTAG_NEW"]
    with open("MAINTAINERS", encoding="utf-8") as f:
        text = f.read()
    if "M:\t" + old in text:
        with open("MAINTAINERS", "w", encoding="utf-8") as f:
            f.write(text.replace("M:\t" + old, "M:\t" + new))
        git("add", "MAINTAINERS")
    message = git("log", "-1", "--format=%B").replace(
        "Signed-off-by: " + old, "Signed-off-by: " + new
    )
    date = git("log", "-1", "--format=%aI").strip()
    git(
        "commit",
        "-q",
        "--amend",
        "--no-verify",
        "--reset-author",
        "--date",
        date,
        "-F",
        "-",
        stdin=message,
    )


if __name__ == "__main__":
    main()
