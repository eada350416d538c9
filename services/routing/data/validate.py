#!/usr/bin/env python3
"""Consistency check of the routing reference data (taxonomy, bodies, rules, corpus).

Usage: python3 validate.py [DATA_DIR]   (default: the directory of this script)
Exits non-zero and lists the problems if anything is inconsistent. Standard library only
(Python 3.11+ for tomllib).
"""
import collections
import json
import pathlib
import re
import sys
import tomllib

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
SPECIAL = "district_akimat_of_locality"
BODY_KINDS = {"akim_office_subdivision", "regional_department", "district_akimat",
              "city_akimat", "rural_akimat", "other_state_body"}
APPEAL_KINDS = {"application", "report", "feedback", "proposal", "request", "complaint"}
APPLICANT_TYPES = {"individual", "legal_entity"}
CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
MIN_PER_CATEGORY = 35
MIN_TOTAL = 700

errors = []


def err(msg):
    errors.append(msg)


def names_ok(where, n, langs=("kk", "ru", "en")):
    for lang in langs:
        if not isinstance(n, dict) or not str(n.get(lang, "")).strip():
            err(f"{where}: missing name/text in {lang}")


# ---- taxonomy ---------------------------------------------------------------------------
tax = tomllib.load(open(DATA / "taxonomy.toml", "rb"))
top, leaves = {}, {}
for c in tax["category"]:
    code = c["code"]
    if not CODE.match(code) or "." in code:
        err(f"taxonomy: bad top-level code {code!r}")
    if code in top:
        err(f"taxonomy: duplicate {code}")
    top[code] = c
    names_ok(f"taxonomy {code}", c.get("names"))
    for leaf in c.get("leaf", []):
        lc = leaf["code"]
        if not CODE.match(lc) or lc.count(".") != 1 or not lc.startswith(code + "."):
            err(f"taxonomy: leaf {lc!r} not under {code}")
        if lc in leaves:
            err(f"taxonomy: duplicate {lc}")
        leaves[lc] = leaf
        names_ok(f"taxonomy {lc}", leaf.get("names"))
        for lang in ("kk", "ru"):
            kws = leaf.get("keywords", {}).get(lang, [])
            if not kws:
                err(f"taxonomy {lc}: no {lang} keywords")
            for k in kws:
                if k != k.lower() or len(k.strip()) < 4:
                    err(f"taxonomy {lc}: keyword {k!r} must be lower-case, 4+ chars")
        if c.get("excluded"):
            names_ok(f"taxonomy {lc} explanation", leaf.get("explanation"), ("kk", "ru"))
            if "redirect_to" not in leaf:
                err(f"taxonomy {lc}: excluded leaf without redirect_to")
    if not c.get("leaf"):
        err(f"taxonomy {code}: no leaves")
for required in ["housing_utilities", "land", "construction", "roads_transport", "social_protection",
                 "employment", "health", "education", "ecology_sanitation", "agriculture",
                 "business", "public_order", "culture_sport", "other", "excluded"]:
    if required not in top:
        err(f"taxonomy: missing top-level {required}")
all_codes = set(top) | set(leaves)

# ---- bodies -----------------------------------------------------------------------------
bod = tomllib.load(open(DATA / "bodies.toml", "rb"))
districts = {}
for d in bod["district"]:
    if d["code"] in districts:
        err(f"bodies: duplicate district {d['code']}")
    districts[d["code"]] = d
    if d.get("kind") not in ("district", "city"):
        err(f"bodies: district {d['code']} bad kind")
    if "kato" in d and not re.fullmatch(r"\d{9}", d["kato"]):
        err(f"bodies: district {d['code']} bad kato")
    names_ok(f"district {d['code']}", d.get("names"))
bodies = {}
for b in bod["body"]:
    c = b["code"]
    if c in bodies:
        err(f"bodies: duplicate {c}")
    if not CODE.match(c):
        err(f"bodies: bad code {c!r}")
    bodies[c] = b
    names_ok(f"body {c}", b.get("names"))
    if b.get("kind") not in BODY_KINDS:
        err(f"body {c}: bad kind {b.get('kind')!r}")
    if "kato" in b and not re.fullmatch(r"\d{9}", b["kato"]):
        err(f"body {c}: bad kato")
    for comp in b.get("competence", []):
        if comp not in all_codes:
            err(f"body {c}: competence {comp!r} not in taxonomy")
    if not b.get("competence"):
        err(f"body {c}: empty competence")
    t = b.get("territory")
    if t != "region":
        if not isinstance(t, list) or not t or any(x not in districts for x in t):
            err(f"body {c}: bad territory {t!r}")
    if b.get("kind") in ("district_akimat", "city_akimat", "rural_akimat"):
        if b.get("district") not in districts:
            err(f"body {c}: district missing or unknown")
for c, b in bodies.items():
    if b.get("kind") == "rural_akimat":
        p = bodies.get(b.get("parent"))
        if not p or p["kind"] not in ("district_akimat", "city_akimat") or p["district"] != b["district"]:
            err(f"body {c}: parent must be the akimat of its district")
        if b.get("unit") not in ("rural_district", "settlement", "town"):
            err(f"body {c}: bad unit")
    elif "parent" in b and b["parent"] not in bodies:
        err(f"body {c}: unknown parent")
for dc, d in districts.items():
    n = [b for b in bodies.values() if b["kind"] in ("district_akimat", "city_akimat") and b["district"] == dc]
    if len(n) != 1:
        err(f"district {dc}: needs exactly one district/city akimat, has {len(n)}")
for lc, leaf in leaves.items():
    for key in ("redirect_to",):
        if key in leaf and leaf[key] not in bodies:
            err(f"taxonomy {lc}: {key} {leaf[key]!r} is not a body")
    for alt in leaf.get("redirect_alternatives", []):
        if alt not in bodies:
            err(f"taxonomy {lc}: redirect alternative {alt!r} is not a body")


def covers(body_code, category):
    comp = bodies[body_code]["competence"]
    return any(category == x or category.startswith(x + ".") or x.startswith(category + ".") for x in comp)


# ---- rules ------------------------------------------------------------------------------
rul = tomllib.load(open(DATA / "rules.toml", "rb"))
ids, prios = set(), set()
rules = rul["rule"]
for r in rules:
    rid = r["id"]
    if rid in ids:
        err(f"rules: duplicate id {rid}")
    ids.add(rid)
    if r["priority"] in prios:
        err(f"rules: duplicate priority {r['priority']}")
    prios.add(r["priority"])
    m = r["match"]
    cat = m.get("category")
    if not cat:
        err(f"rule {rid}: no category (catch-all rules are not allowed)")
        continue
    if cat not in all_codes:
        err(f"rule {rid}: category {cat!r} not in taxonomy")
    for key, allowed in (("territory", set(districts)), ("kinds", APPEAL_KINDS),
                         ("applicant_types", APPLICANT_TYPES)):
        v = m.get(key)
        if v != "any" and (not isinstance(v, list) or not v or any(x not in allowed for x in v)):
            err(f"rule {rid}: bad {key} {v!r}")
    for ex in [r["lead"]] + r["co_executors"]:
        if ex != SPECIAL and ex not in bodies:
            err(f"rule {rid}: unknown executor {ex!r}")
    if r["lead"] in r["co_executors"]:
        err(f"rule {rid}: lead repeated among co-executors")
    is_excl = cat.split(".")[0] == "excluded"
    if r["action"] not in ("route", "redirect") or (r["action"] == "redirect") != is_excl:
        err(f"rule {rid}: action must be 'redirect' exactly for excluded categories")
    if is_excl and cat in leaves and leaves[cat].get("redirect_to") != r["lead"]:
        err(f"rule {rid}: lead differs from the taxonomy redirect_to")
    if r["lead"] != SPECIAL and not covers(r["lead"], cat):
        err(f"rule {rid}: lead {r['lead']} has no competence for {cat}")
    if r["lead"] == SPECIAL:
        for b in bodies.values():
            if b["kind"] in ("district_akimat", "city_akimat") and not covers(b["code"], cat):
                err(f"rule {rid}: {b['code']} (district_akimat_of_locality) has no competence for {cat}")


def superset(a, b):
    return a == "any" or (b != "any" and set(b) <= set(a))


order = sorted(rules, key=lambda r: -r["priority"])
for i, lo in enumerate(order):
    for hi in order[:i]:
        hc, lc = hi["match"]["category"], lo["match"]["category"]
        if not (lc == hc or lc.startswith(hc + ".")):
            continue
        if all(superset(hi["match"][k], lo["match"][k]) for k in ("territory", "kinds", "applicant_types")):
            # hi fails only for appeals without a district when its lead is the special name
            if hi["lead"] != SPECIAL or lo["lead"] == SPECIAL:
                err(f"rule {lo['id']} is unreachable: shadowed by {hi['id']}")
                break
# every leaf should be routable (either by a leaf rule or by its top-level rule)
for lc in leaves:
    if not any(lc == r["match"]["category"] or lc.startswith(r["match"]["category"] + ".") for r in rules):
        err(f"taxonomy leaf {lc} has no rule (would always need manual routing)")

# ---- corpus -----------------------------------------------------------------------------
corpus_path = DATA / "corpus" / "corpus.jsonl"
counts = collections.Counter()
texts, ids_seen = set(), set()
n = 0
with open(corpus_path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
        try:
            o = json.loads(line)
        except json.JSONDecodeError as e:
            err(f"corpus line {lineno}: {e}")
            continue
        n += 1
        if set(o) != {"id", "language", "category", "subcategory", "text"}:
            err(f"corpus line {lineno}: keys {sorted(o)}")
        if o["id"] in ids_seen:
            err(f"corpus line {lineno}: duplicate id {o['id']}")
        ids_seen.add(o["id"])
        if o["language"] not in ("kk", "ru"):
            err(f"corpus line {lineno}: language {o['language']!r}")
        if o["category"] not in top:
            err(f"corpus line {lineno}: category {o['category']!r}")
        sc = o["subcategory"]
        if sc is not None and (sc not in leaves or not sc.startswith(o["category"] + ".")):
            err(f"corpus line {lineno}: subcategory {sc!r}")
        t = o["text"].strip()
        if len(t) < 15:
            err(f"corpus line {lineno}: text too short")
        key = re.sub(r"\W+", " ", t.lower()).strip()
        if key in texts:
            err(f"corpus line {lineno}: duplicate text")
        texts.add(key)
        if re.search(r"\b\d{12}\b", t):
            err(f"corpus line {lineno}: looks like an IIN/BIN")
        if re.search(r"(\+7|8)[\s(-]*7\d\d[\s)-]*\d{3}[\s-]*\d\d[\s-]*\d\d", t):
            err(f"corpus line {lineno}: looks like a phone number")
        counts[(o["category"], o["language"])] += 1
if n < MIN_TOTAL:
    err(f"corpus: {n} texts, need {MIN_TOTAL}")
for c in top:
    tot = counts[(c, "kk")] + counts[(c, "ru")]
    if tot < MIN_PER_CATEGORY:
        err(f"corpus: category {c} has {tot} texts, need {MIN_PER_CATEGORY}")
kk = sum(v for (c, l), v in counts.items() if l == "kk")
if not 0.4 <= kk / max(n, 1) <= 0.6:
    err(f"corpus: kk share {kk}/{n} is not roughly half")

print(f"taxonomy: {len(top)} categories, {len(leaves)} leaves; bodies: {len(districts)} districts, "
      f"{len(bodies)} bodies; rules: {len(rules)}; corpus: {n} texts ({kk} kk, {n - kk} ru)")
if errors:
    print(f"{len(errors)} problem(s):")
    for e in errors:
        print("  -", e)
    sys.exit(1)
print("OK")
