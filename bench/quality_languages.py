"""Fold-B quality of the forms loop by page language, with and without multilingual synonyms.

    python bench/quality_languages.py runs/loop_forms15/model_store  # after `semindex evaluate loop`

Uses the loop's two versions (zero-shot: the oldest, after loop: the newest), the same
site-disjoint folds, and the page's declared ``html_lang``. The loop's versions index the
hints file's other-language synonyms; "zero-shot, canonical file only" re-indexes the
zero-shot model over the forms canonical file alone (what the versions held before the
hints file carried synonyms).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser()
    p.add_argument("store", help="the model store of a forms `semindex evaluate loop` run")
    p.add_argument("--data", default=str(root.parent / "shared" / "data" / "forms"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    from semindex.bundle import load_bundle
    from semindex.data import load_canonical, load_eval_rows
    from semindex.evaluation import score
    from semindex.matcher import Matcher
    from semindex.quality import predict, rebind
    from semindex.splits import split_by_group

    dev = Path(a.data) / "dev.jsonl"
    langs = [(json.loads(line).get("html_lang") or "?").split("-")[0].lower()
             for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = load_eval_rows(dev)
    lang_of = {id(r): lang for r, lang in zip(rows, langs, strict=True)}
    _, fold_b = split_by_group(rows, lambda r: r.group, [0.5], a.seed)
    expected = [r.expected for r in fold_b]
    versions = sorted(v for v in Path(a.store).iterdir() if v.name.startswith("v"))
    canon = load_canonical(Path(a.data) / "canonical.json")
    zero = load_bundle(versions[0])
    systems = {
        "zero-shot, canonical file only": predict(Matcher(rebind(zero, canon)), fold_b),
        "zero-shot": predict(Matcher(zero), fold_b),
        "after loop": predict(Matcher(load_bundle(versions[-1])), fold_b),
    }
    groups = {"all": lambda lang: True, "en": lambda lang: lang == "en",
              "other declared": lambda lang: lang not in ("en", "?"), "undeclared": lambda lang: lang == "?"}
    print("| system | " + " | ".join(f"{g} ({sum(f(lang_of[id(r)]) for r in fold_b)})"
                                     for g, f in groups.items()) + " |")
    print("|---|" + "---|" * len(groups))
    for name, preds in systems.items():
        cells = []
        for f in groups.values():
            idx = [i for i, r in enumerate(fold_b) if f(lang_of[id(r)])]
            m = score([preds[i] for i in idx], [expected[i] for i in idx])
            cells.append(f"{m['accuracy']:.3f} / {m['precision']:.3f} / {m['recall']:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
