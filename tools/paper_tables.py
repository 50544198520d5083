#!/usr/bin/env python3
"""Extract the paper's published AUROC figures into suites/paper/auroc.csv.

Run once: /usr/bin/python3 tools/paper_tables.py ../shared/reference/paper.txt > suites/paper/auroc.csv
The CSV (not the paper) is committed; the report shows it beside our results
wherever a suite matches one of the paper's benchmarks. Names are mapped to our
suites' domain and class folder names. "mean"/"std" rows are the paper's summaries.
"""
import re
import sys

OFFICE31 = {"Backpack": "back_pack", "Bookcase": "bookcase", "Bottle": "bottle", "Desk Chair": "desk_chair",
            "Desk Lamp": "desk_lamp", "Headphones": "headphones", "Keyboard": "keyboard",
            "Laptop": "laptop_computer", "Mouse": "mouse", "Pen": "pen"}
OFFICEHOME = {"Paperclip": "Paper_Clip"}
DIRECTIONS = {"Clip Art Product (C P)": ("officehome", "Clipart", "Product"),
              "Product Clip Art (P C)": ("officehome", "Product", "Clipart"),
              "Webcam Amazon (W A)": ("office31", "webcam", "amazon"),
              "Amazon Webcam (A W)": ("office31", "amazon", "webcam"),
              "CAD Real": ("visda", "train", "validation")}
SHORT = {"AW": ("office31", "amazon", "webcam"), "WA": ("office31", "webcam", "amazon"),
         "CP": ("officehome", "Clipart", "Product"), "PC": ("officehome", "Product", "Clipart"),
         "VisDA": ("visda", "train", "validation")}
# method label, the shiftad variant it corresponds to ("" when none)
T1 = [("Source only DSVDD", "source_only"), ("BiOST", ""), ("TSA", ""), ("ILDR", ""), ("IRAD", ""), ("MsRA", ""),
      ("Ours few-shot", "few_shot"), ("Ours unsupervised", "cluster_frozen")]
T2 = [("Source only DSVDD", "source_only"), ("BiOST", ""), ("MsRA", ""), ("Ours few-shot", "few_shot"),
      ("Ours unsupervised", "cluster_frozen")]
T4 = [("CLIP-R50 frozen", ""), ("CLIP-ViT-B32 frozen", ""), ("Source only finetuned", "source_only"), ("BiOST", ""),
      ("MsRA", ""), ("Ours few-shot", "few_shot"), ("Ours unsupervised", "cluster_frozen"), ("Oracle", "oracle")]


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def mean_std(cell):
    """'62.8408.55' -> (62.84, 8.55): the extraction glued mean and std together."""
    m = re.fullmatch(r"(\d+\.\d\d)(\d+\.\d\d)", cell)
    return (float(m.group(1)), float(m.group(2))) if m else (float(cell), None)


def main(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    out = ["table,suite,source,target,class,method,variant,auroc"]

    def emit(table, d, cls, method, variant, value):
        out.append(f"{table},{d[0]},{d[1]},{d[2]},{cls},{method},{variant},{value:.2f}")

    def per_class(start, methods, table):
        d = None
        for line in lines[start + 1:]:
            c = cells(line)
            if not line.startswith("|") or c[0].startswith("Normal class"):
                break  # the next table
            if c[0] in DIRECTIONS:
                d = DIRECTIONS[c[0]]
                continue
            if d is None or len(c) < len(methods) + 1:
                continue
            name = c[0]
            if name == "Avg.std":
                for (m, v), x in zip(methods, c[1:]):
                    mu, sd = mean_std(x)
                    emit(table, d, "mean", m, v, mu)
                    emit(table, d, "std", m, v, sd)
                continue
            cls = {"Avg.": "mean", "std": "std"}.get(name)
            if cls is None:
                cls = OFFICE31.get(name) if d[0] == "office31" else OFFICEHOME.get(name, name)
                cls = cls.lower() if d[0] == "visda" else cls
            for (m, v), x in zip(methods, c[1:]):
                try:
                    emit(table, d, cls, m, v, float(x))
                except ValueError:
                    pass

    find = lambda prefix, nth=0: [i for i, l in enumerate(lines) if l.startswith(prefix)][nth]
    per_class(find("| Normal class | Source only DSVDD", 0), T1, "table1")
    per_class(find("| Normal class | Source only DSVDD", 1), T1, "table1")
    per_class(find("| Normal class | Source only (DSVDD)"), T2, "table2")
    per_class(find("| Normal class | Pretrained Visual encoders"), T4, "table4")
    # Table 5: PACS, photo as source, mean over classes.
    i = find("| Method | Ph. Art")
    for line in lines[i + 1:i + 4]:
        c = cells(line)
        variant = {"Source only": "source_only", "Ours": "cluster_frozen"}.get(c[0], "")
        for tgt, x in zip(["art_painting", "cartoon", "sketch"], c[1:]):
            emit("table5", ("pacs", "photo", tgt), "mean", c[0], variant, float(x))
    # Tables 6 (alignment losses) and 7 (clustering methods): mean (std) per benchmark.
    for table, header, methods in [
            ("table6", "| Dataset | Source Only | GRL", [("Source only", "source_only"), ("GRL", ""), ("MMD", ""),
                                                        ("Contrastive", "cluster_frozen")]),
            ("table7", "| Dataset | Source only | w/ Adaptation", [("Source only", "source_only"),
                                                                  ("K-means", "cluster_frozen"), ("GMM", ""),
                                                                  ("MeanShift", "")])]:
        for line in lines[find(header) + 1:]:
            c = cells(line)
            if not line.startswith("|"):
                break
            if c[0] not in SHORT:
                continue
            for (m, v), x in zip(methods, c[1:]):
                mu, sd = mean_std(x)
                emit(table, SHORT[c[0]], "mean", m, v, mu)
                emit(table, SHORT[c[0]], "std", m, v, sd)
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
