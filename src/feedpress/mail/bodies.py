"""Email bodies from Jinja2 templates, with the CSS inlined once per body.

The templates shipped in the package can each be overridden by a file of
the same name in the project's `email_templates/`. A body is rendered
and inlined (premailer is slow) once for every distinct digest; what
differs between subscribers (their name, address and unsubscribe link)
is left as placeholders that `personalise` fills in by plain substitution.

Who gets a body is not decided here (that is `planner`'s); a post's
summary and the feed links come from the feeds wing's public face.
"""

from __future__ import annotations

import logging
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from feedpress import feeds
from feedpress.config import Config
from feedpress.errors import FeedpressError
from feedpress.mail import select
from feedpress.mail.select import Choice, Digest
from feedpress.model import Author, Post
from feedpress.words import direction, words

WIDTH = 72
MAX_HTML_BYTES = 100_000
PERSONAL_BYTES = 2_000  # room for a subscriber's name, address and unsubscribe link
# Placeholders: letters only, so neither escaping, premailer nor wrapping touches them.
NAME = "FeedpressSubscriberNameQx7"
EMAIL = "FeedpressSubscriberEmailQx7"
UNSUBSCRIBE = "FeedpressUnsubscribeUrlQx7"
PLACEHOLDER = re.compile(f"{NAME}|{EMAIL}|{UNSUBSCRIBE}")
@dataclass(frozen=True)
class Body:
    """A message's subject, text and HTML, with the subscriber's details as placeholders."""

    subject: str
    text: str
    html: str
    language: str = "en"  # of its fixed strings: the unsubscribe page opens in it

    @property
    def fits(self) -> bool:
        """Whether the HTML, once personalised, stays under the size where Gmail clips it."""
        return len(self.html.encode("utf-8")) <= MAX_HTML_BYTES - PERSONAL_BYTES


class Renderer:
    """The project's templates, loaded once; `digest` and `alert` make bodies."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tz = ZoneInfo(config.site.timezone)
        self.env = _environment(config.email.templates)
        self.env.filters.update(direction=direction, names=_names, localtime=self._localtime,
                                words=words)
        self._summaries: dict[str, str] = {}
        self._feeds = feeds.feed_links(config)
        try:
            self.css = self.env.loader.get_source(self.env, "style.css")[0]  # type: ignore[union-attr]
        except jinja2.TemplateNotFound:
            self.css = ""

    def digest(self, digest: Digest, subject: str, language: str) -> Body:
        """The digest's body, its fixed strings in `language` ("Read more" in each post's)."""
        context = self._context(subject, digest.posts, language)
        context.update(digest=digest, preheader=_preheader(digest.posts))
        return self._body("digest", subject, context)

    def alert(self, post: Post, subject: str) -> Body:
        context = self._context(subject, (post,), post.lang)
        context.update(post=post, preheader=self._summary(post))
        return self._body("alert", subject, context)

    def _body(self, name: str, subject: str, context: dict[str, Any]) -> Body:
        try:
            html = self.env.get_template(f"{name}.html").render(context)
            text = self.env.get_template(f"{name}.txt").render(context)
        except jinja2.TemplateError as exc:
            where = getattr(exc, "filename", None) or getattr(exc, "name", None) or name
            line = getattr(exc, "lineno", None)
            raise FeedpressError(f"{where}:{line or ''}: template error: {exc}") from None
        return Body(subject, wrap(text), inline(html), str(context["lang"]))

    def _context(self, subject: str, posts: tuple[Post, ...], language: str
                 ) -> dict[str, Any]:
        return {
            "site": self.config.site, "blogs": self.config.blogs, "subject": subject,
            "css": self.css, "words": words(language), "lang": language, "feeds": self._feeds,
            "name": NAME, "email": EMAIL,
            "unsubscribe_url": UNSUBSCRIBE,
            "summaries": {p.id: self._summary(p) for p in posts},
        }

    def _summary(self, post: Post) -> str:
        found = self._summaries.get(post.id)
        if found is None:
            found = feeds.summary(post)
            self._summaries[post.id] = found
        return found

    def _localtime(self, moment: datetime, language: str = "en") -> str:
        """A post's time in the site's zone, its month named in `language`."""
        local = moment.astimezone(self.tz)
        month = words(language)["months"].split()[local.month - 1]
        return f"{local.day:02d} {month} {local.year}, {local:%H:%M} {local.tzname()}"


def digest_body(config: Config, renderer: Renderer, posts: list[Post],
                choice: Choice) -> Body | None:
    """The digest body for subscribers with `choice`, or None when no post matches.

    Past the size where Gmail clips a message, fewer posts are shown and the
    rest counted in "N more on the site": on the busiest day a digest still
    goes out.
    """
    mine = [p for p in posts if select.matches(p, choice)]
    if not mine:
        return None
    language = digest_language(config, choice)
    subject = _subject(config.email.digest.subject, config.site.title, len(mine), language)
    shown = config.email.digest.max_items
    while True:
        body = renderer.digest(select.compose(mine, config.blogs, shown), subject, language)
        if body.fits or shown == 1:
            return body
        ratio = (MAX_HTML_BYTES - PERSONAL_BYTES) / len(body.html.encode("utf-8"))
        shown = max(1, min(shown - 1, int(min(shown, len(mine)) * ratio * 0.95)))


def digest_language(config: Config, choice: Choice) -> str:
    """The language of a digest's fixed strings: that of the blogs a subscriber chose, when
    they share one, else the site's."""
    chosen = {blog.language for blog in config.blogs if blog.id in choice[0]}
    return chosen.pop() if len(chosen) == 1 else config.site.language


def _subject(template: str | None, site: str, count: int, language: str) -> str:
    """The digest's subject: the configured one, or the catalogue's, which counts."""
    if template is None:
        template = words(language)["digest_subject_one" if count == 1
                                   else "digest_subject_many"]
    return template.replace("{site}", site).replace("{count}", str(count))


def alert_body(config: Config, renderer: Renderer, post: Post) -> Body:
    """The alert body for `post`: the same for every subscriber who wants it."""
    prefix = config.email.alert.subject_prefix or words(post.lang)["alert_prefix"]
    return renderer.alert(post, f"{prefix} {post.title}")


def shipped_templates() -> list[Traversable]:
    """The default templates in the package, for `feedpress init` to copy for editing."""
    return sorted((entry for entry in files("feedpress.mail").joinpath("templates").iterdir()
                   if entry.is_file()), key=lambda entry: entry.name)


def values(name: str, email: str, unsubscribe_url: str) -> dict[str, str]:
    """What each placeholder stands for, for one subscriber."""
    return {NAME: name or email, EMAIL: email, UNSUBSCRIBE: unsubscribe_url}


def fill_line(line: str, found: dict[str, str]) -> str:
    """A text line with its placeholders filled in, wrapped again if that made it long."""
    line = PLACEHOLDER.sub(lambda m: found[m.group()], line)  # one pass: a value that
    # spells a placeholder (a subscriber named so) stays as it is
    return wrap(line).removesuffix("\n") if len(line) > WIDTH else line


def personalise(body: Body, name: str, email: str, unsubscribe_url: str) -> tuple[str, str]:
    """The text and HTML of `body` for one subscriber: substitution, no re-rendering."""
    found = values(name, email, unsubscribe_url)
    text = "\n".join(fill_line(line, found) if PLACEHOLDER.search(line) else line
                     for line in body.text.split("\n"))
    html = PLACEHOLDER.sub(lambda m: escape(found[m.group()]), body.html)
    return text, html


def inline(html: str) -> str:
    """Inline `style.css` into the elements with premailer, keeping @media rules.

    premailer's traps, avoided here: it strips `!important` from the @media
    rules it keeps (its issue #241), so dark mode and narrow screens would
    lose; it downloads linked stylesheets; it logs a warning for every
    property cssutils does not know (Outlook's mso-*).
    """
    from premailer import Premailer

    return str(Premailer(
        html,
        strip_important=False,
        allow_network=False,
        allow_loading_external_files=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        remove_classes=False,
        keep_style_tags=False,
        disable_leftover_css=False,
        align_floating_images=False,
        # Keep the templates' pixel width and height attributes (Outlook reads those);
        # premailer would otherwise copy CSS values such as "100%" into them.
        disable_basic_attributes=["width", "height"],
    ).transform(pretty_print=False))


def wrap(text: str) -> str:
    """Lines of at most `WIDTH` characters, except a line that is a URL and nothing else."""
    out: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if len(line) <= WIDTH or (" " not in stripped and "://" in stripped):
            out.append(line.rstrip())
        else:
            out.extend(textwrap.wrap(line, WIDTH, break_on_hyphens=False) or [""])
    return "\n".join(_squeeze(out)) + "\n"




def _names(authors: tuple[Author, ...]) -> str:
    return ", ".join(a.name for a in authors)


def _preheader(posts: tuple[Post, ...]) -> str:
    return " · ".join(p.title for p in posts[:3])


def _squeeze(lines: list[str]) -> list[str]:
    """At most one blank line in a row, none at the start or end."""
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _environment(project_templates: Path) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if project_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(project_templates))
    loaders.append(jinja2.PackageLoader("feedpress.mail", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
