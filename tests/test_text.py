"""forecaster.text: user text shows as typed, and only what Markdown would link is altered."""
import re

import pytest

from forecaster.text import WORD_JOINER, markdown


def shown(escaped: str) -> str:
    """What a reader sees: Markdown drops the escaping backslashes."""
    return re.sub(r"\\(.)", r"\1", escaped)


@pytest.mark.parametrize("name", ["@SUM(1)", "=HYPERLINK(1)", "x @ 3 for 2", "a@b", "**Bold** _it_ [x](y)"])
def test_text_no_markdown_would_link_is_shown_as_typed(name):
    assert WORD_JOINER not in markdown(name)  # a name copied from the page matches the file's
    assert shown(markdown(name)) == name


@pytest.mark.parametrize("name", ["ops@example.com", "see http://127.0.0.1:9/x", "www.example.com", "mailto:a@b.co"])
def test_what_markdown_would_autolink_is_broken_by_an_invisible_joiner(name):
    assert WORD_JOINER in markdown(name)
    assert shown(markdown(name)).replace(WORD_JOINER, "") == name
