"""Author–year labels for the book's bibliography, matching its author–year citations.

sphinxcontrib-bibtex cites as "Tandon et al., 2017" (``bibtex_reference_style: author_year``),
but its bibliography labels come from the pybtex formatting style, whose built-in label styles
are ``alpha`` ("TLDK17") and ``number`` ("1"). This Sphinx extension registers a pybtex label
style that writes the same "Tandon et al., 2017" (one author: "Surname, 2017"; two: "A and B,
2017"; a letter after the year tells equal labels apart) and a formatting style
``agc_author_year`` (pybtex's ``unsrt`` entries, sorted by author, year and title) that uses it;
``_config.yml`` selects it with ``bibtex_default_style``.
"""

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "agc_author_year"


def _surname(person):
    """The printed surname, e.g. "El Rouayheb" or "Azizan-Ruhi" (braces of the BibTeX source removed)."""
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Surname, year", "A and B, year" or "A et al., year"; equal labels get a, b, … after the year."""

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1

    def format_label(self, entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_surname(person) for person in people]
        if not names:
            who = entry.fields.get("key", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        year = entry.fields.get("year")
        return f"{who}, {year}" if year else who


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entry formatting with author–year labels, sorted by author, year and title."""

    default_sorting_style = "author_year_title"
    default_label_style = NAME


def setup(app):
    """Register the label and formatting styles with pybtex (Sphinx extension entry point)."""
    register_plugin("pybtex.style.labels", NAME, AuthorYearLabels)
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
