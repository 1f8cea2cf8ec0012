"""Sanitising: the shared cleaner gives exactly what ammonia gives with each post's base URL.

`markup.sanitize` takes a quicker road for most posts (one reusable
cleaner, plain root paths joined to the site's origin). The reference here
is the plain road, spelled out from nh3's documented API: `nh3.clean` with
`url_relative=("rewrite_with_base", base)`, which resolves by the URL
standard. The two must agree on every input, including the ones the
quick road declines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpress.feeds import imported, markup
from feedpress.model import Post

BASES = [
    "https://news.example.org/al-marsad/2026/11/26/a-post/",
    "https://News.Example.ORG:443/blog/post.html?x=1#top",
    "http://localhost:8080/deep/er/post",
    "https://user:pa%40ss@news.example.org/p/",
    "https://xn--mgbh0fb.example/مدونة/منشور/",
    "https://news.example.org",
]

URLS = [
    "/images/2026/11/photo.jpg",
    "/images/a%20b.jpg",
    "/images/%2e%2e/secret",
    "/images/%2E./x",
    "/a/./b.png",
    "/a/../b.png",
    "/a/b/..",
    "/.well-known/x",
    "/",
    "//cdn.example.net/x.jpg",
    "/\\evil.example/x",
    "/path with space.jpg",
    "/path?query=1&b=2",
    "/path#frag",
    "/صورة.jpg",
    "/a\"b",
    "/a'b(c)*d+e,f;g=h:i@j$k!l~m",
    "/tab\there",
    "relative.png",
    "../up.png",
    "./same.png",
    "?only=query",
    "#fn-1",
    "",
    " /leading-space.jpg",
    "https://example.com/already/absolute?x=1#y",
    "HTTPS://EXAMPLE.COM/Upper",
    "mailto:desk@example.org",
    "javascript:alert(1)",
    "java\nscript:alert(1)",
    "data:image/png;base64,AAAA",
    "http://[::1]/x",
    "http://[broken/x",
    "/%zz/not-an-escape",
    "/é",
]


def reference(html: str, base: str) -> str:
    def srcset(tag: str, name: str, value: str) -> str | None:
        return markup._absolute_srcset(value, base) if name == "srcset" else value

    cleaned = nh3.clean(html, tags=markup._TAGS, clean_content_tags=markup._DROPPED_WITH_CONTENT,
                        attributes=markup._ATTRIBUTES, link_rel=None,
                        tag_attribute_values={"input": {"checked": {""}}},
                        set_tag_attribute_values={"input": {"type": "checkbox", "disabled": ""}},
                        url_relative=("rewrite_with_base", base),
                        attribute_filter=srcset if "srcset" in html else None)
    return markup.strip_xml_forbidden(cleaned)


def documents(url: str) -> list[str]:
    quoted = url.replace('"', "&quot;")
    return [
        f'<p><a href="{quoted}">link</a></p>',
        f'<p><img src="{quoted}" alt="x"></p>',
        f"<p><a href='{url}'>single quotes</a><img src=/images/plain.jpg></p>",
        f'<p><A HREF="{quoted}">upper case</A> and <a href="/ok.jpg">a plain one</a></p>',
        f'<figure><img src="/lead.jpg"><figcaption><a href="{quoted}">c</a></figcaption></figure>',
    ]


@pytest.mark.parametrize("base", BASES)
def test_the_quick_road_gives_what_ammonia_gives_with_the_base(base: str) -> None:
    differ = [(url, html) for url in URLS for html in documents(url)
              if markup.sanitize(html, base) != reference(html, base)]
    assert differ == []


@pytest.mark.parametrize("base", BASES)
def test_srcset_script_and_entities_are_handled_alike(base: str) -> None:
    html = ('<p><img src="/a.jpg" srcset="/a-2x.jpg 2x, b.jpg 3x"></p>'
            '<script>alert(1)</script><p onclick="x()">&#1;&amp;&#x7f;</p>'
            '<p><a href="&#x2f;encoded.jpg">e</a><a href="&#47;&#47;evil.example/">s</a></p>')
    assert markup.sanitize(html, base) == reference(html, base)


def test_plain_root_paths_take_the_quick_road() -> None:
    """Else the tests above would pass with every post on the plain road."""
    base = BASES[0]
    html = '<p><img src="/images/x.jpg"><a href="https://example.com/">a</a></p>'
    assert markup._RESOLVER.clean(html, base) == reference(html, base)
    assert markup._RESOLVER.clean('<a href="#fn-1">1</a>', base) is None
    assert markup._RESOLVER.clean('<a href="/a/../b">1</a>', base) is None


def test_one_post_declined_does_not_send_the_next_one_down_the_plain_road() -> None:
    base = BASES[0]
    assert markup._RESOLVER.clean('<a href="x.png">1</a>', base) is None
    assert markup._RESOLVER.clean('<a href="/x.png">1</a>', base) is not None


MARKDOWN_PIECES = ["word", " ", "\n", "\n\n", "*em*", "**strong**", "`code`", "<b>raw</b>",
                   '<a title="</p>">t</a>', "&amp;", "&#1;", "&nbsp;", "a<b", "x > y", "[l](/u)",
                   "![i](/i.png)", "<p>inner</p>", "> quote", "- item", "# head", "    code",
                   "<!-- c -->", "\r", "é", "مرحبا", "<br>", "<div>d</div>", '"q"', "'s'"]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=12))
def test_the_opening_paragraph_is_read_as_a_parser_reads_it(pieces: list[str]) -> None:
    html = markup.sanitize(markup.markdown_to_html("".join(pieces)), BASES[0])
    quick = markup._opening_paragraph(html)
    if quick is not None:
        assert quick == markup._first_top_level_p(html)


def test_an_opening_paragraph_is_read_without_a_parser() -> None:
    """Else the test above would pass with every body going to the parser."""
    html = '<p>One <a href="https://x/" title="a > b">two</a> &amp; three</p><p>4</p>'
    assert markup._opening_paragraph(html) == "One two & three"


def always_autolinked(text: str) -> str:
    return markup._cmark_html(text, markup._extensions(autolink=True))


@pytest.mark.parametrize("text", [
    "Visit www.example.org today.", "See https://example.org/a?b=c.", "ftp://files.example.org",
    "Mail desk@news.example.org or mailto:desk@news.example.org.", "xmpp:desk@example.org",
    "HTTPS://EXAMPLE.ORG/x", "*www.example.org*", "| a | b |\n|---|---|\n| www.x.org | c |",
    "Note[^1].\n\n[^1]: at https://example.org.", "> quoted www.example.org",
])
def test_bare_addresses_are_linked(text: str) -> None:
    html = markup.markdown_to_html(text)
    assert html == always_autolinked(text)
    assert "<a href=" in html


@pytest.mark.parametrize("text", [
    "A [link](https://example.org/x) and ![img](https://example.org/i.png \"www.x.org\").",
    "<https://example.org> in angle brackets", "[www.example.org](https://example.org)",
    "`https://example.org` in code", "<!-- www.example.org -->", '<a title="a>b" href="x">www</a>',
    "![mail a@b.org](x.png)", "[a]: https://example.org\n\n[text][a]",
    # Many baits in one tag (each was looked back from to the tag's start: the square of
    # the length), then one in text after it, or in the next tag.
    "[a](https://a.org/" + "@" * 20_000 + ") and b@c.org", '<a title="' + "@>" * 5_000 + '">x</a>',
    "![" + "@" * 20_000 + "](/i.png) www.x.org", '[a](/x "' + "www." * 5_000 + '") [b](/y "@")',
])
def test_addresses_in_links_code_and_html_render_as_with_the_extension(text: str) -> None:
    assert markup.markdown_to_html(text) == always_autolinked(text)


AUTOLINK_PIECES = [*"aw.:/@()[]<>!*_~`#|-\\\"' \n", "www.", "http://", "https://", "x.org",
                   "mailto:", "xmpp:", "](", '<a href="', "-->", "<!--", "\n\n    ", "```\n"]


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(AUTOLINK_PIECES), max_size=24).map("".join))
def test_rendering_without_autolinks_first_never_changes_the_html(text: str) -> None:
    """The autolink extension is left out where it would find nothing: never where it
    would have made a difference."""
    assert markup.markdown_to_html(text) == always_autolinked(text)


@pytest.mark.parametrize("body", [
    "Raw \x01 control\x0b and \ufffe in text.", "A reference &#1; and &#x1F; and &#xFFFF;.",
    "<p title=\"&#2;\">raw HTML &#3;</p>", "`code \x02` and &#8;", "Fine\ttab\r\nand &#233;.",
])
def test_rendered_html_holds_no_character_xml_forbids(body: str) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from feedpress.model import Post
    from feedpress.text import has_xml_forbidden

    post = Post(path=Path("x.md"), blog="b", slug="x", id="tag:x.org,2026:x", id_pinned=True,
                title="T", url="https://x.org/b/x/", date=datetime(2026, 1, 1, tzinfo=UTC),
                updated=None, authors=(), tags=(), breaking=False, summary=None, image=None,
                lang="en", draft=False, digest="d")
    rendered = markup.render(post, body)
    assert not has_xml_forbidden(rendered.html) and not has_xml_forbidden(rendered.summary)
    assert "é" in rendered.html or "é" not in body.replace("&#233;", "é")


def test_a_srcset_keeps_only_web_addresses() -> None:
    html = markup.sanitize(
        '<img srcset="javascript:alert(1) 1x, x.png 2x"><picture><source srcset="JavaScript:'
        'alert(1)"></picture><img src="https://ok.example/x.png" srcset="vbscript:x 2x, '
        'data:image/svg+xml,<svg onload=alert(1)> 1x, http://[ 3x, //cdn.example/y.png 4x">',
        "https://news.example.org/b/p/")
    assert "javascript" not in html.lower() and "vbscript" not in html and "data:" not in html
    assert "onload" not in html and "svg" not in html
    assert 'srcset="https://news.example.org/b/p/x.png 2x"' in html
    assert 'srcset="https://cdn.example/y.png 4x"' in html


def test_a_srcset_in_capitals_and_a_cite_carry_no_script() -> None:
    html = markup.sanitize(
        '<img SRCSET="javascript:alert(1) 1x, file:///etc/passwd 3x, /ok.png 4x" src="/a.jpg">'
        '<picture><SOURCE SrcSet="javascript:alert(2)"></picture>'
        '<blockquote cite="javascript:alert(8)">q</blockquote><q cite="vbscript:x">q</q>'
        '<del cite="data:text/html,x">d</del>', "https://news.example.org/b/p/")
    assert "javascript" not in html and "vbscript" not in html and "data:" not in html
    assert "file:" not in html and "cite=" not in html
    assert 'srcset="https://news.example.org/ok.png 4x"' in html


def _post(url: str) -> Post:
    return Post(path=Path("x.md"), blog="b", slug="x", id="tag:x.org,2026:x", id_pinned=True,
                title="T", url=url, date=datetime(2026, 1, 1, tzinfo=UTC), updated=None,
                authors=(), tags=(), breaking=False, summary=None, image=None, lang="en",
                draft=False, digest="d")


# Markdown as posts write it, with every URL above in links and images, and what cmark
# turns into other elements, entities, quotes and spaces that ammonia writes its own way.
PLAIN_PIECES = [
    "word", " ", "\n", "\n\n", "*em*", "**strong**", "~~gone~~", "`co\"de`", "&amp;", "&quot;",
    "&nbsp;", "\xa0", "&copy;", "&#39;", "&#x27;", "&#34;", "'s'", '"q"', "a & b", "x > y",
    "\\*", "é", "مرحبا", "  \n", "> ", "- ", "1. ", "07. ", "# ", "## ", "---\n", "\n    code",
    "\n```py\nx = '<'\n```\n", "\n```c#\n\"s\"\n```\n", "\n```\nplain\n```\n", "www.example.org",
    "https://example.org/a?b=1&c=2", "desk@example.org", "[^1]", "\n\n[^1]: note",
    "| a | b |\n|---|---|\n| 1 | 2 |\n", "[ref]", "\n\n[ref]: /r.jpg",
    *(f"[link]({url})" for url in URLS if " " not in url and "\n" not in url),
    *(f'![alt "q" & <a>]({url} "title & \'t\'")' for url in URLS[:12]),
    '[t](https://example.org/x "a title")', "[t](<https://example.org/a b>)",
    "[t](https://ex-ample.org:8080/x)", "[t](https://1.2.3.4/x)", "[t](https://xn--zz.org/)",
    "[t](https://u@example.org/)", "[t](https://example.org./)", "[t](https://-x.org/)",
    "[t](https://a.b-.org/)", "[t](http://localhost/)", "[t](https://example.0x1/)",
    "[[in](/a)](/b)", "[www.example.org](https://example.org/)", "[a ![i](/i.png)](/l)",
    "<b>raw</b>", "<p>inner</p>", "<https://example.org>", "a<b",
]


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(PLAIN_PIECES), max_size=16).map("".join),
       st.sampled_from(BASES))
def test_a_rendered_post_is_cleaned_as_ammonia_cleans_it(body: str, base: str) -> None:
    """`render` skips ammonia for HTML in cmark's plain form (`markup._as_cleaned`): its
    HTML must be what ammonia makes of cmark's, whatever the body."""
    post = _post(base)
    markdown = imported.markdown(markup.xml_safe(body))
    cmark = markup._footnotes(markup.markdown_to_html(markdown), post)
    expected = markup._after(reference(cmark, base), post)
    assert markup.render(post, body).html == expected


def test_plain_markdown_skips_ammonia_and_the_rest_does_not() -> None:
    """Else the test above would pass with every post cleaned by ammonia."""
    base = BASES[0]

    def plain(body: str) -> str | None:
        return markup._as_cleaned(markup.markdown_to_html(body), base)

    assert plain('# T\n\nA *b* "c" [d](https://example.org/?x=1&y=2) ![e](/i.png "f")\n\n'
                 "> g\n\n1. h\n2. i\n\n```py\nj\n```\n\n---\n\na\xa0b &nbsp;c") is not None
    for body in ["[x](javascript:alert(1))", "[x](relative.html)", "[x](#top)", "a[^1]\n\n[^1]: n",
                 "| a |\n|---|\n| 1 |", "- [ ] t", "[x](https://1.2.3.4/)",
                 "[x](//cdn.example/)", "[x](/a/../b)", "[x](https://example.org:444/)"]:
        assert plain(body) is None, body
    assert markup._as_cleaned('<p>word<p>inner</p></p>', base) is not None  # hence `markdown`:
    assert markup.sanitize("<p>word<p>inner</p></p>", base) == "<p>word</p><p>inner</p><p></p>"


def test_a_task_box_is_written_the_same_by_every_build() -> None:
    """ammonia sets a box's attributes in an order that changes from process to process:
    cold builds on two CI runners wrote two versions of the same feed."""
    import subprocess
    import sys

    script = ("from feedpress.feeds import markup; print(markup.sanitize("
              "markup.markdown_to_html('- [x] done\\n- [ ] to do'), 'https://x.org/'))")
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True).stdout for _ in range(6)}
    assert runs == {'<ul>\n<li><input type="checkbox" disabled="" checked=""> done</li>\n'
                    '<li><input type="checkbox" disabled=""> to do</li>\n</ul>\n\n'}


def test_a_summary_leaves_out_the_footnotes_numbers() -> None:
    """The first paragraph's text read "paid in gold1 and fuel.2" (new user's trial)."""
    body = "Paid in gold[^1] and fuel.[^fuel]\n\n[^1]: one\n[^fuel]: two\n"
    rendered = markup.render(_post(BASES[0]), body)
    assert rendered.summary == "Paid in gold and fuel."
    assert 'id="fnref-' in rendered.html  # the content keeps them


@pytest.mark.parametrize(("body", "said"), [
    ('Set `<div id="main">` in the template.', '<div id="main">'),
    ('Give the element id="main" so it shows.', 'element id="main" so'),
    ('Write `href="https://x.org/b/x/#fn-1"` to link a note.[^1]\n\n[^1]: A note.',
     'href="https://x.org/b/x/#fn-1"'),
])
def test_text_that_looks_like_an_attribute_is_published_as_written(body: str, said: str) -> None:
    """Ids were taken out of the whole HTML, text and code included (attacker's trial)."""
    from html import unescape

    html = markup.render(_post("https://x.org/b/x/"), body).html
    assert said in unescape(re.sub(r"<[^>]*>", "", html))


@pytest.mark.parametrize("body", ['![x id=](/i.png "t")', '[a id=](https://x.org/ "b id=")',
                                  '<img alt="a id=" src="https://e.example/p.png">'])
def test_a_value_that_ends_like_an_id_keeps_what_follows_it(body: str) -> None:
    """An alt text "x id=" took the title with it (second attacker round)."""
    post = _post(BASES[0])
    html = markup.markdown_to_html(body)
    assert markup.render(post, body).html == reference(html, BASES[0])  # no id to take


def test_a_link_to_a_note_in_a_post_without_notes_goes_to_the_page() -> None:
    """It was renamed as a link to the item's own note 1, which it does not have; like any
    other fragment ("#top"), it now points into the post's page."""
    post = _post("https://x.org/b/x/")
    html = markup.render(post, "See [the footnote](#fn-1) and [the top](#top).\n").html
    assert 'href="https://x.org/b/x/#fn-1"' in html
    assert 'href="https://x.org/b/x/#top"' in html


def test_only_the_posts_own_notes_become_fragments_of_the_item() -> None:
    """A link to the post's page at "#fnord" became "#fnord", pointing at nothing in the
    feed item (third check)."""
    post = _post("https://x.org/b/x/")
    html = markup.render(post, '<a href="https://x.org/b/x/#fnord">x</a> y[^1]\n\n[^1]: n\n').html
    assert 'href="https://x.org/b/x/#fnord"' in html
    assert f'href="#fn-{markup.footnote_prefix(post)}-1"' in html


def _nests_links_by_search(html: str) -> bool:
    """The search `_nests_links` replaced: from each opening, is the next tag an opening?"""
    at = html.find("<a ")
    while at != -1:
        end = html.find("</a>", at)
        inner = html.find("<a ", at + 3)
        if inner != -1 and (end == -1 or inner < end):
            return True
        at = inner
    return False


@given(st.lists(st.sampled_from(["<a ", "</a>", "<a", "a ", "x", "<p>", "</p>", ">", "<"]),
                max_size=12).map("".join))
def test_nested_links_are_found_as_by_searching(html: str) -> None:
    assert markup._nests_links(html) == _nests_links_by_search(html)


@given(st.lists(st.sampled_from(["http", "https", "HTTP", "://", "x.org", "a-b.c", ":", "80",
                                 "/", "?", "#", "@", "[::1]", "\t", " ", "%", "é", "\\Z"]),
                max_size=8).map("".join))
def test_the_authority_of_a_base_is_read_as_urlsplit_reads_it(base: str) -> None:
    from urllib.parse import urlsplit

    plain = markup._PLAIN_BASE.match(base)
    if plain is not None:
        parts = urlsplit(base)
        assert (plain[1], plain[2]) == (parts.scheme, parts.netloc)
