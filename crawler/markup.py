"""The page's markup, made plain where trafilatura would lose words a browser shows, or run
them together.

trafilatura reads a known set of HTML elements. Three kinds of markup it reads badly:

- **Formulas.** Every ``<math>`` is deleted, after its LaTeX source is saved when the MathML
  carries one (an ``application/x-tex`` annotation or an ``alttext``). A formula without that
  source, as MathJax 3 and hand-written MathML print it, goes whole, and the sentence around it
  reads "When , there are two solutions to and they are". Such a formula becomes its text, one
  space between tokens, as a browser copies it ("a ≠ 0"); a displayed formula a paragraph.
- **Custom elements** (``<mjx-container>``, ``<my-widget>``: HTML names them with a hyphen). A
  browser shows their text inline unless styled otherwise; trafilatura drops the text of one
  that stands between paragraphs, and the text that follows it. One that holds no block of its
  own becomes a ``<span>``, so that text stays where it was, and trafilatura's pruning of
  inline chrome (by class and id) now applies to it too. One that holds paragraphs is left as
  it is: trafilatura reads the paragraphs inside.
- **Layout tables.** A page laid out in a table (LWN, older CMSs) comes out of trafilatura as one
  line per row: the whole article in a single "paragraph", and tables nested in it dropped. A
  table that holds another table lays the page out (Readability's rule); its own rows and cells
  become ``<div>``s, as trafilatura already does for a ``role=presentation`` table, and the data
  tables inside it stay tables.
"""

from __future__ import annotations

from typing import Iterator

from lxml.etree import XPath
from lxml.html import HtmlElement

# The HTML parser drops MathML's and SVG's namespaces: plain names match. A formula inside
# another is read with it.
_FORMULAS_PATH = '//math[not(ancestor::math)]'
_TEX_SOURCE = XPath('boolean(@alttext[normalize-space()] | .//annotation[@encoding="application/x-tex"][normalize-space()])')
# The rendered formula, not the other notations the MathML may carry along.
_FORMULA_TEXT = XPath('.//text()[not(ancestor::annotation or ancestor::annotation-xml)]')

# Hyphenated names outside SVG and MathML, whose own hyphenated names (font-face,
# annotation-xml) are not custom elements.
_CUSTOM_ELEMENT = 'contains(name(), "-") and not(ancestor::svg or ancestor::math)'
_CUSTOM_PATH = f'//*[{_CUSTOM_ELEMENT}]'
_FORMULAS = XPath(_FORMULAS_PATH)
_CUSTOM = XPath(_CUSTOM_PATH)
_FORMULAS_AND_CUSTOM = XPath(f'{_FORMULAS_PATH} | {_CUSTOM_PATH}')
_BLOCKS = ("p", "div", "section", "article", "ul", "ol", "table", "blockquote", "pre", "h1", "h2", "h3",
           "h4", "h5", "h6", "figure", "header", "footer", "aside", "nav", "form")


def as_rendered(tree: HtmlElement) -> HtmlElement:
    """The changes below, in place, before any reading of the tree."""
    found = _FORMULAS_AND_CUSTOM(tree)
    if found:
        keep_formula_text(tree, [element for element in found if element.tag == "math"])
        inline_custom_elements(tree, [element for element in found if element.tag != "math"])
    unfold_layout_tables(tree)
    return tree


def keep_formula_text(tree: HtmlElement, formulas: list[HtmlElement] | None = None) -> int:
    """Replace each ``<math>`` without LaTeX source by its text; returns how many."""
    replaced = 0
    for element in _FORMULAS(tree) if formulas is None else formulas:
        parent = element.getparent()
        if parent is None or _TEX_SOURCE(element):
            continue  # trafilatura keeps this one, as LaTeX
        text = " ".join(" ".join(part.split()) for part in _FORMULA_TEXT(element) if part.strip())
        # a displayed formula is a block of its own, as the browser lays it out
        plain = element.makeelement("p" if element.get("display") == "block" else "span", {})
        plain.text = f" {text} " if text else None  # as long as the page: the body's byte limit bounds it
        plain.tail = element.tail
        parent.replace(element, plain)
        replaced += 1
    return replaced


def inline_custom_elements(tree: HtmlElement, custom: list[HtmlElement] | None = None) -> int:
    """Turn each custom element that holds no block into a ``<span>``; returns how many."""
    custom = _CUSTOM(tree) if custom is None else custom
    if not custom:
        return 0
    holds_block: set = set()
    for block in tree.iter(*_BLOCKS):
        ancestor = block.getparent()
        while ancestor is not None and ancestor not in holds_block:  # each element marked once
            holds_block.add(ancestor)
            ancestor = ancestor.getparent()
    renamed = 0
    for element in custom:
        if element not in holds_block:
            element.tag = "span"
            renamed += 1
    return renamed


def unfold_layout_tables(tree: HtmlElement) -> int:
    """Turn each table that holds another table, and its own rows and cells, into ``<div>``s;
    returns how many tables."""
    # The nearest enclosing table of each table: every table that holds one is among them.
    layout = {next(table.iterancestors("table"), None) for table in tree.iter("table")} - {None}
    for table in layout:
        for part in list(_own_rows_and_cells(table)):
            part.tag = "div"
        table.tag = "div"
    return len(layout)


def _own_rows_and_cells(table: HtmlElement) -> Iterator[HtmlElement]:
    """The row groups, rows and cells of this table, not those of the tables inside it."""
    for child in table:
        rows = [child]
        if child.tag in ("thead", "tbody", "tfoot"):
            yield child
            rows = list(child)
        for row in rows:
            if row.tag == "tr":
                yield row
                yield from (cell for cell in row if cell.tag in ("td", "th"))
