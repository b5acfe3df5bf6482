"""User text (file names, column and product names, messages that quote them) is text everywhere.

One place escapes it for each place it is shown: Streamlit's Markdown (:func:`markdown`), Plotly's
pseudo-HTML in titles, labels, ticks and hovers (:func:`plotly`); CSV cells a spreadsheet would run as a
formula are neutralised in :mod:`forecaster.io.export` (:func:`forecaster.io.export.neutralise`).
"""
from __future__ import annotations

import html
import re

# every ASCII punctuation mark Markdown (CommonMark plus Streamlit's :color[...] / :icon: directives and
# $math$) could read as syntax; a backslash makes each one literal
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'^%@;,/?])")


# what GitHub-flavoured Markdown turns into a link even without brackets (http://…, www.…, a@b.c); a word
# joiner (U+2060, invisible) after the scheme, "www" or "@" keeps it text
_AUTOLINK = re.compile(r"(?i)(://|\bwww(?=\.)|@)")
WORD_JOINER = "\u2060"


def markdown(text: object) -> str:
    """``text`` as Markdown that shows exactly these characters: no link, image, emphasis or HTML."""
    flat = " ".join(str(text).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, flat))


def plotly(text: object) -> str:
    """``text`` for a Plotly label: its <a>, <b>, <br> and entities show as typed, never as markup."""
    return html.escape(str(text), quote=False)
