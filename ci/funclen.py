#!/usr/bin/python3
"""make lint: no function in server/src is longer than 60 lines (its
body, between the '{' and '}' that open and close it in column 0, as
style(9) lays functions out), so each one reads on a screen.

Usage: funclen.py [MAX] FILE...
"""
import sys


def long_functions(path, limit):
    with open(path) as fh:
        lines = fh.read().split("\n")
    start = None
    for i, line in enumerate(lines):
        if line == "{":
            start = i
        elif line == "}" and start is not None:
            if i - start - 1 > limit:
                yield start, lines[start - 1], i - start - 1
            start = None


def main():
    args = sys.argv[1:]
    limit = 60
    if args and args[0].isdigit():
        limit = int(args.pop(0))
    bad = 0
    for path in args:
        for line, name, n in long_functions(path, limit):
            print("funclen: %s:%d: %s is %d lines (at most %d)"
                  % (path, line, name.split("(")[0], n, limit))
            bad += 1
    if bad == 0:
        print("funclen: every function of %d files within %d lines"
              % (len(args), limit))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
