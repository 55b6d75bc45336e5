#!/usr/bin/env python3
"""A real allocation-heavy program for the LD_PRELOAD test: builds a large nested data
structure, sorts and groups it, serialises it to JSON on stdout and checks that
the JSON reads back equal. The output depends only on RECORDS, so a run under
libmultiheap.so must print exactly what a run without it prints.

usage: realprog_data.py RECORDS
"""
import json
import random
import sys

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]


def make_record(rng, i):
    return {
        "id": i,
        "name": "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))),
        "score": round(rng.uniform(-1000, 1000), 3),
        "tags": sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 5))}),
        "samples": [rng.randint(0, 1 << 40) for _ in range(rng.randint(0, 12))],
        "blob": "x" * rng.choice((0, 8, 100, 1000, 9000, 70000)) if rng.random() < 0.01 else "",
        "child": {"depth": rng.randint(0, 9), "label": rng.choice(WORDS).upper()},
    }


def group_by_first_word(records):
    groups = {}
    for r in records:
        groups.setdefault(r["name"].split("-")[0], []).append(r["id"])
    return {k: sorted(v) for k, v in sorted(groups.items())}


def main(argv):
    if len(argv) != 2 or not argv[1].isdigit() or int(argv[1]) < 1:
        print("realprog_data.py: give the number of records as a positive integer, "
              "e.g. realprog_data.py 100000", file=sys.stderr)
        return 2
    rng = random.Random(20261123)
    records = [make_record(rng, i) for i in range(int(argv[1]))]
    records.sort(key=lambda r: (r["name"], -r["score"], r["id"]))
    document = {"records": records, "groups": group_by_first_word(records)}
    text = json.dumps(document, sort_keys=True)
    if json.loads(text) != document:
        print("realprog_data.py: the JSON did not read back equal", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
