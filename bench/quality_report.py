"""Turn ``semindex evaluate loop --json`` output into the markdown tables of docs/quality.md.

    semindex --store runs/loop_forms evaluate loop --eval ../shared/data/forms/dev.jsonl \\
        --canonical ../shared/data/forms/canonical.json --hints data/sample/canonical.hints.json \\
        --json > runs/forms_loop.out
    python bench/quality_report.py runs/forms_loop.out

With ``evaluate loop --cross`` the output holds each held-out fold's run and the pooled
reports: the table gives both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from semindex.evaluation import intervals_text, step_precision


def load(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    start = text.rfind('\n{\n  "eval"')  # Ray may print log lines before the JSON
    data: dict[str, Any] = json.loads(text[start + 1:] if start >= 0 else text)
    return data


def report(data: dict[str, Any], max_keys: int | None = None) -> str:
    seeds = (f"; fold seed {data['fold_seed']}, training seed {data['train_seed']}"
             if "train_seed" in data else "")
    if "cross_validated" in data:  # `--cross`: every fold held out in turn, all rows pooled
        lines = [f"eval: `{data['eval']}`, {data['rows']} rows; {data['cross_validated']}-fold "
                 f"cross-validation: each row scored by the version trained on the other folds' "
                 f"feedback ({data['feedback_rows']} reviewer feedback rows in all){seeds}", "",
                 "| held-out fold | rows | feedback rows | zero-shot: accuracy / precision | "
                 "after loop: accuracy / precision / recall |", "|---|---|---|---|---|"]
        for f in data["folds"]:
            z, a = f["reports"]["semindex zero-shot"], f["reports"]["semindex after loop"]
            lines.append(f"| {f['held_out']} | {f['fold_b']} | {f['feedback_rows']} | "
                         f"{z['accuracy']:.3f} / {z['precision']:.3f} | {a['accuracy']:.3f} / "
                         f"{a['precision']:.3f} / {a['recall']:.3f} |")
        lines += ["", "All rows pooled:", ""]
    else:
        lines = [f"eval: `{data['eval']}`, {data['rows']} rows; fold A {data['fold_a']} rows "
                 f"({data['feedback_rows']} reviewer feedback rows), fold B {data['fold_b']} rows"
                 + seeds, ""]
    lines += ["| system | accuracy | precision (accepted) | recall | abstain rate |",
              "|---|---|---|---|---|"]
    for name, m in data["reports"].items():
        lines.append(f"| {name} | {m['accuracy']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | "
                     f"{m['abstain_rate']:.3f} |")
    after = data["reports"]["semindex after loop"]
    zero = data["reports"]["semindex zero-shot"]
    if intervals := intervals_text(after):
        lines += ["", f"95 % intervals (Wilson) after the loop: {intervals}"]
    lines += ["", "| key | support | F1 zero-shot | F1 after loop |", "|---|---|---|---|"]
    keys = sorted(after["per_key"].items(), key=lambda kv: -kv[1]["support"])
    for key, row in keys[:max_keys]:
        z = zero["per_key"].get(key, {}).get("f1", 0.0)
        lines.append(f"| {key} | {row['support']} | {z:.2f} | {row['f1']:.2f} |")
    if max_keys is not None and len(keys) > max_keys:
        lines.append(f"| ({len(keys) - max_keys} more keys) | | | |")
    lines += ["", "Most frequent confusions after the loop (expected -> predicted): " +
              ", ".join(f"{c} ({n})" for c, n in after["confusions"][:8])]
    if "by_reason" in after:
        for row in after["by_reason"].values():  # outputs written before `wrong` was counted
            row.setdefault("wrong", round(row["accepted"] * (1 - row["precision"])))
        lines += ["", "| decided by (after loop) | fields | accepted | right | wrong accepts | "
                  "precision of accepted | all accepted, were its wrong accepts abstentions |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r} | {row['n']} | {row['accepted']} | {row['correct']} | "
                  + (f"{row['wrong']} | {row['precision']:.3f} | " if row["accepted"] else "0 | – | ")
                  + (f"{row['precision_without_wrong']:.4f} |" if row["wrong"] else "– |")
                  for r, row in step_precision(after["by_reason"]).items()]
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("outputs", nargs="+")
    ap.add_argument("--max-keys", type=int, default=None, help="per-key rows to show (by support)")
    args = ap.parse_args()
    for p in args.outputs:
        print(report(load(p), args.max_keys))
        print()
