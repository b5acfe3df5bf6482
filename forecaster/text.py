"""User text (file names, column and product names, messages that quote them) is text everywhere.

One place escapes it for each place it is shown: Streamlit's Markdown (:func:`markdown`), Plotly's
pseudo-HTML in titles, labels, ticks and hovers (:func:`plotly`); CSV cells a spreadsheet would run as a
formula are neutralised in :mod:`forecaster.io.export` (:func:`forecaster.io.export.neutralise`).
"""
from __future__ import annotations

import hashlib
import html
import re

# every ASCII punctuation mark Markdown (CommonMark plus Streamlit's :color[...] / :icon: directives and
# $math$) could read as syntax; a backslash makes each one literal
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'^%@;,/?])")


# what GitHub-flavoured Markdown turns into a link even without brackets (http://…, www.…, a@b.c); a word
# joiner (U+2060, invisible) after the scheme, "www" or an address's "@" keeps it text. Only there: a name
# copied from the page must match the file's, and "@SUM(1)" or "@ 3 for 2" is no address
_AUTOLINK = re.compile(r"(?i)(://|\bwww(?=\.)|(?<=[\w.+-])@(?=[\w-]+\.[\w-]))")
WORD_JOINER = "\u2060"


def markdown(text: object) -> str:
    """``text`` as Markdown that shows exactly these characters: no link, image, emphasis or HTML."""
    flat = " ".join(str(text).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, flat))


MAX_LABEL = 60  # characters of a name a chart shows: a 100 KB product name squeezed the plot to nothing


def plotly(text: object) -> str:
    """``text`` for a Plotly label: its <a>, <b>, <br> and entities show as typed, never as markup; a name
    over MAX_LABEL characters is cut, with a short hash of the whole so that two cut names stay two labels."""
    text = str(text)
    if len(text) > MAX_LABEL:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        text = f"{text[:MAX_LABEL - 9]}…#{digest}"
    return html.escape(text, quote=False)
