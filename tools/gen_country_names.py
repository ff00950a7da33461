#!/usr/bin/env python3
"""Writes src/address/cldr_names.rs: the names of every ISO 3166-1 country in the languages
merchants' customers type, from the Unicode CLDR (the source of the display names in ICU, the
browsers and the operating systems), as a checked-in Rust table.

Which names: every country's name (with CLDR's short and variant forms) in the LANGUAGES below,
and each country's name in its own official languages (CLDR's territoryInfo: `Magyarország`,
`Ελλάδα`, `Éire`), whatever the language. A name whose folded key (case, accents, punctuation
and spaces dropped, as `src/address/text.rs` folds) names two countries is left out, as are
keys of three letters or fewer (those are the ISO codes' space).

Usage (needs `npm`, which fetches the two CLDR data packages from the npm registry):

    python3 tools/gen_country_names.py            # fetches CLDR_VERSION into a temp directory
    python3 tools/gen_country_names.py DIR        # DIR holds the unpacked packages
                                                  # (DIR/cldr-localenames-full, DIR/cldr-core)
"""
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import unicodedata

CLDR_VERSION = "48.2.0"
PACKAGES = ["cldr-localenames-full", "cldr-core"]

# Languages whose names of every country are kept: the languages of the countries QBO
# companies ship to most (Western and Central Europe, the Americas), Latin script.
LANGUAGES = [
    "en", "de", "fr", "nl", "es", "it", "pt", "sv", "da", "nb", "nn", "fi", "is", "pl", "cs",
    "sk", "hu", "ro", "hr", "sl", "et", "lv", "lt", "tr", "ca", "ga", "cy", "lb", "rm", "af",
]

# CLDR territory codes that are not ISO 3166-1 countries (or are exceptionally reserved).
NOT_COUNTRIES = {
    "AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ",
}

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "address", "cldr_names.rs")

# The letters `Key` in src/address/text.rs folds to more than one letter or to another letter.
SPECIAL = {"ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "Ø": "O",
           "ø": "O", "Ł": "L", "ł": "L", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "Þ": "TH",
           "þ": "TH", "ı": "I"}


def key(name):
    """The lookup key, as `text::Key` makes it: letters and digits, accents folded, upper case."""
    out = []
    for c in name:
        if c in SPECIAL:
            out.append(SPECIAL[c])
            continue
        base = unicodedata.normalize("NFD", c)[0]
        if base.isascii():
            if base.isalnum():
                out.append(base.upper())
        elif c.isalnum():
            out.append(c.upper())
    return "".join(out)


def fetch(dest):
    for pkg in PACKAGES:
        subprocess.run(["npm", "pack", "--silent", f"{pkg}@{CLDR_VERSION}"], cwd=dest,
                       check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(os.path.join(dest, f"{pkg}-{CLDR_VERSION}.tgz")) as tar:
            tar.extractall(os.path.join(dest, pkg), filter="data")


def territories(root, locale):
    path = os.path.join(root, "cldr-localenames-full", "package", "main", locale,
                        "territories.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return data["main"][locale]["localeDisplayNames"]["territories"]


def names_of(table, code):
    """The names of `code` in one locale's table: the name, its short and variant forms."""
    out = []
    for k, v in table.items():
        base, _, alt = k.partition("-alt-")
        if base == code and alt in ("", "short", "variant"):
            out.append(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else None
    tmp = None
    if root is None:
        tmp = tempfile.TemporaryDirectory()
        root = tmp.name
        fetch(root)
    with open(os.path.join(root, "cldr-localenames-full", "package", "package.json")) as f:
        version = json.load(f)["version"]
    assert version == CLDR_VERSION, f"expected CLDR {CLDR_VERSION}, found {version}"
    english = territories(root, "en")
    codes = sorted(c for c in english if len(c) == 2 and c.isalpha() and c not in NOT_COUNTRIES)
    with open(os.path.join(root, "cldr-core", "package", "supplemental", "territoryInfo.json"),
              encoding="utf-8") as f:
        info = json.load(f)["supplemental"]["territoryInfo"]

    pairs = set()
    for lang in LANGUAGES:
        table = territories(root, lang)
        for code in codes:
            pairs.update((n, code) for n in names_of(table, code))
    for code in codes:
        langs = info.get(code, {}).get("languagePopulation", {})
        for lang, facts in langs.items():
            if facts.get("_officialStatus") in ("official", "de_facto_official"):
                table = territories(root, lang.replace("_", "-"))
                pairs.update((n, code) for n in names_of(table, code))

    by_key = {}
    for name, code in pairs:
        by_key.setdefault(key(name), set()).add(code)
    ambiguous = sorted(k for k, cs in by_key.items() if len(cs) > 1)
    kept = sorted(
        (code, name) for name, code in pairs
        if len(key(name).encode()) > 3 and len(by_key[key(name)]) == 1
    )

    def lit(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        "//! Country names in many languages, from the Unicode CLDR: generated by",
        "//! `tools/gen_country_names.py` from the npm packages `cldr-localenames-full` and",
        f"//! `cldr-core`, CLDR {CLDR_VERSION}. Do not edit; run the script to regenerate.",
        "//!",
        "//! Every country's name (with CLDR's short and variant forms) in "
        + ", ".join(f"`{l}`" for l in LANGUAGES[:6]) + " and",
        f"//! {len(LANGUAGES) - 6} more languages, and each country's name in its own official",
        f"//! languages. {len(ambiguous)} names that fold to the key of two countries are left out.",
        "",
        "/// The CLDR release the table was generated from.",
        f'pub(crate) const CLDR_VERSION: &str = "{CLDR_VERSION}";',
        "",
        "/// `(name, ISO 3166-1 alpha-2 code)`, by code.",
        "pub(crate) const NAMES: &[(&str, &str)] = &[",
    ]
    lines += [f"    ({lit(name)}, {lit(code)})," for code, name in kept]
    lines.append("];")
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(kept)} names of {len(codes)} countries; {len(ambiguous)} ambiguous keys left out")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
