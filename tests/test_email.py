"""The subscriber digest and the breaking-news alerts, checked as a mail client sees them.

Messages are read back with Python's `email` package, HTML with html5lib
(a real HTML5 parser), and everything goes through real files: the
bundled sample project at the repository root, or small projects written
into temporary folders. The CLI is run through `feedpress.cli.main(argv)`.
"""

from __future__ import annotations

import base64
import copy
import email
import email.header
import email.policy
import email.utils
import hmac
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import html5lib
import pytest
from lxml import etree

from conftest import BASE_CONFIG, NOW, ROOT, SAMPLE_CONFIG, Project, run_main
from feedpress import config as config_module
from feedpress.feeds import load as load_posts
from feedpress.mail import bodies, campaign, load_subscribers, select, tokens
from feedpress.mail.bodies import Body, Renderer
from feedpress.mail.messages import MessageMaker, Recipient

NOW_ISO = "2026-11-25T12:00Z"
SECRET = "test secret: never used for real mail"
SAMPLE_LIST = "blogs.news.example.org"
SAMPLE_ALERTS_LIST = "alerts.blogs.news.example.org"
SAMPLE_DOMAIN = "news.example.org"
PACKAGE_CSS = (ROOT / "src" / "feedpress" / "mail" / "templates" / "style.css").read_text(
    encoding="utf-8")
URGENT_HEADERS = {"X-Priority": "1", "Importance": "High", "Priority": "urgent"}
MAX_HTML_BYTES = 100_000
WIDTH = 72

# The sample project's posts of the week before NOW, as the sample data has them.
CLASHES_URL = "https://news.example.org/al-marsad/clashes-border-crossing/"
CLASHES_TITLE = "عاجل: اشتباكات عنيفة قرب معبر الرملة وإغلاقه أمام المسافرين"
AID_URL = "https://news.example.org/black-flag/aid-workers-freed-ouro-ndiaye/"
AID_TITLE = "Breaking: four aid workers freed after 41 days in captivity"
CONVOY_URL = "https://news.example.org/khronika/convoy-attack-desert-road/"


# --- running the command and reading what it wrote --------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def printed_paths(self) -> list[Path]:
        return [(Path.cwd() / line).resolve() for line in self.out.splitlines() if line]


def feedpress(*args: str) -> Run:
    """`feedpress ARGS` through the console script's `main`, as a user runs it."""
    return Run(*run_main(list(args)))


def preview(config: Path, stream: str, out: Path, *extra: str, now: str = NOW_ISO) -> Run:
    return feedpress(stream, "--config", str(config), "--now", now, "--preview", str(out),
                     *extra)


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, subtype: str) -> str:
    """A part's decoded text, with the wire's CRLF line ends read back as LF."""
    found = message.get_body((subtype,))
    assert found is not None, f"no text/{subtype} part"
    content = found.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def raw_headers(path: Path) -> list[str]:
    """The header block's physical lines, as bytes on disk."""
    head = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    return head.decode("ascii").split("\r\n")


def parse_html(html: str) -> etree._Element:
    return html5lib.parse(html, treebuilder="lxml", namespaceHTMLElements=False)


def by_class(doc: etree._Element, name: str) -> list[etree._Element]:
    return [e for e in doc.iter() if isinstance(e.tag, str)
            and name in (e.get("class") or "").split()]


def style_of(element: etree._Element) -> dict[str, str]:
    declarations = (d.split(":", 1) for d in (element.get("style") or "").split(";") if ":" in d)
    return {name.strip().lower(): value.strip() for name, value in declarations}


def text_of(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def post_cells(doc: etree._Element) -> list[etree._Element]:
    """The table cells that each hold one post, in document order."""
    return [e for e in doc.iter("td")
            if {"post", "post-breaking"} & set((e.get("class") or "").split())]


def cell_url(cell: etree._Element) -> str:
    (title,) = [a for a in cell.iter("a") if "title" in (a.get("class") or "").split()]
    return str(title.get("href"))


def unsubscribe_url(message: EmailMessage) -> str:
    links = re.findall(r"<([^>]*)>", str(message["List-Unsubscribe"]))
    (https,) = [link for link in links if link.startswith("https://")]
    return https


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def long_lines(text: str) -> list[str]:
    """Lines over WIDTH characters, except a line that is only a URL."""
    return [line for line in text.splitlines()
            if len(line) > WIDTH and not re.fullmatch(r"\s*\S+://\S+\s*", line)]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def with_email(**email_block: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CONFIG)
    data["email"] = email_block
    return data


def write_csv(project: Project, text: str) -> Path:
    path = project.root / "subscribers.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


# --- the sample project, previewed once for the module ----------------------------------


@dataclass(frozen=True)
class Sample:
    digest: Path  # Ana Lima's digest (the first valid row)
    alert: Path  # Omar Haddad's alert (a non-ASCII name)
    digest_omar: Path
    runs: dict[str, Run]

    def eml(self, which: str) -> EmailMessage:
        folder = {"digest": self.digest, "alert": self.alert, "digest_omar": self.digest_omar}
        stem = "alert" if which == "alert" else "digest"
        return read_eml(folder[which] / f"{stem}.eml")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("sample-previews")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDPRESS_SECRET", SECRET)
        runs = {
            "digest": preview(SAMPLE_CONFIG, "digest", out / "digest"),
            "alert": preview(SAMPLE_CONFIG, "alert", out / "alert",
                             "--subscriber", "omar.haddad@example.net"),
            "digest_omar": preview(SAMPLE_CONFIG, "digest", out / "digest-omar",
                                   "--subscriber", "OMAR.HADDAD@example.net"),
        }
    for name, run in runs.items():
        assert run.code == 0, f"{name}: {run.err}"
    return Sample(out / "digest", out / "alert", out / "digest-omar", runs)


# --- a richer project: three blogs, breaking posts, images, languages -------------------

NEWSROOM_BLOGS = {
    "alpha": {"title": "Alpha", "description": "About Alpha.", "language": "en"},
    "beta": {"title": "بيتا", "description": "عن بيتا", "language": "ar"},
    "gamma": {"title": "Гамма", "description": "О гамме", "language": "ru"},
}
LONG_BREAKING_TITLE = ("Ceasefire collapses as fighting spreads to three provinces overnight "
                       "and thousands flee towards the border crossings")


@dataclass(frozen=True)
class Newsroom:
    project: Project
    out: Path
    run: Run
    urls: dict[str, str]
    breaking: tuple[str, ...]  # names of the breaking posts

    @property
    def html(self) -> str:
        return (self.out / "digest.html").read_text(encoding="utf-8")

    @property
    def text(self) -> str:
        return (self.out / "digest.txt").read_text(encoding="utf-8")


def write_newsroom(project: Project) -> None:
    data = with_email()
    data["blogs"] = NEWSROOM_BLOGS
    project.write_config(data)
    hour = timedelta(hours=1)
    project.post("gamma", "gamma-breaking", title="Взрыв на вокзале", breaking=True,
                 date=iso(NOW - 1 * hour), summary="Срочная новость.",
                 image={"url": "/img/station.jpg"})  # no alt and no caption
    project.post("beta", "beta-one", title="خبر من بيتا", date=iso(NOW - 2 * hour),
                 summary="ملخص الخبر باللغة العربية.",
                 image={"url": "photo.jpg", "alt": "صورة"})  # relative to the post
    project.post("alpha", "alpha-one", title="Alpha one", date=iso(NOW - 3 * hour),
                 url="/custom/alpha-one/", summary="Alpha one summary.")
    project.post("alpha", "alpha-breaking", title=LONG_BREAKING_TITLE, breaking=True,
                 date=iso(NOW - 4 * hour),
                 summary=("Residents describe a night of shelling and a morning of long "
                          "queues at the last open crossing, where officials say the wait "
                          "is now measured in days rather than hours."))
    project.post("gamma", "gamma-one", title="Обычная новость", date=iso(NOW - 5 * hour),
                 summary="Ничего срочного.")
    project.post("alpha", "alpha-french", title="Une brève en français", lang="fr",
                 date=iso(NOW - 6 * hour), summary="Résumé en français.",
                 image={"url": "https://cdn.example.net/f.jpg", "alt": "Une photo",
                        "caption": "Légende"})
    project.post("beta", "beta-old", title="قديم", date=iso(NOW - timedelta(days=30)))


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Newsroom:
    root = tmp_path_factory.mktemp("newsroom")
    project = Project(root)
    write_newsroom(project)
    out = root / "preview"
    run = preview(project.config_path, "digest", out)
    assert run.code == 0, run.err
    posts = load_posts(project.config(), NOW).published
    return Newsroom(project, out, run, {p.slug: p.url for p in posts},
                    ("gamma-breaking", "alpha-breaking"))


# === Messages ==========================================================================


@pytest.mark.parametrize("which", ["digest", "alert"])
def test_message_is_multipart_alternative_text_then_html_in_utf8(sample: Sample,
                                                                 which: str) -> None:
    message = sample.eml(which)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert not message.defects
    assert not any(p.defects for p in parts)
    assert str(message["MIME-Version"]) == "1.0"


@pytest.mark.parametrize("which", ["digest", "alert"])
def test_message_lines_are_within_the_rfc_limits(sample: Sample, which: str) -> None:
    folder = sample.digest if which == "digest" else sample.alert
    data = (folder / f"{which}.eml").read_bytes()
    data.decode("ascii")  # 7-bit: RFC 2047 headers, quoted-printable bodies
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only
    head, body = data.split(b"\r\n\r\n", 1)
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))  # RFC 2045 6.7


def test_from_to_and_date_headers(sample: Sample) -> None:
    message = sample.eml("digest")
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Newsroom Blogs", "newsletter@news.example.org")
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ana Lima", "ana.lima@example.org")
    assert message["Date"].datetime == NOW
    for name in ("From", "To", "Date", "Subject", "Message-ID", "List-Id"):
        assert len(message.get_all(name) or []) == 1, name


def test_non_ascii_name_is_rfc2047_encoded_and_decodes_back(sample: Sample) -> None:
    message = sample.eml("alert")
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("عمر حداد", "omar.haddad@example.net")
    head = raw_headers(sample.alert / "alert.eml")
    to_line = next(line for line in head if line.startswith("To: "))
    assert "=?utf-8?" in to_line.lower()
    assert to_line.endswith("<omar.haddad@example.net>")


def test_subject_is_rfc2047_encoded_and_decodes_to_the_subject(sample: Sample) -> None:
    digest = sample.eml("digest")
    assert str(digest["Subject"]) == "Newsroom Blogs — 3 new posts"
    alert = sample.eml("alert")
    assert str(alert["Subject"]) == f"BREAKING: {CLASHES_TITLE}"
    for path in (sample.digest / "digest.eml", sample.alert / "alert.eml"):
        head = raw_headers(path)
        start = next(i for i, line in enumerate(head) if line.startswith("Subject: "))
        assert "=?utf-8?" in head[start].lower()
        # the file is ASCII (read_bytes().decode("ascii") in raw_headers would fail otherwise)


def test_message_ids_are_unique_and_on_the_senders_domain(sample: Sample,
                                                           tmp_path: Path) -> None:
    ids = [str(sample.eml(which)["Message-ID"])
           for which in ("digest", "alert", "digest_omar")]
    again = preview(SAMPLE_CONFIG, "digest", tmp_path / "again")
    assert again.code == 0, again.err
    ids.append(str(read_eml(tmp_path / "again" / "digest.eml")["Message-ID"]))
    assert len(set(ids)) == len(ids)
    for message_id in ids:
        match = re.fullmatch(r"<([^@<>\s]+)@([^@<>\s]+)>", message_id)
        assert match, message_id
        assert match.group(2) == SAMPLE_DOMAIN


def test_message_id_domain_follows_the_from_address(project: Project) -> None:
    project.write_config(with_email(**{"from": "Desk <desk@mail.example.net>"}))
    config = project.config()
    maker = MessageMaker(config.email, config.site.title, Body("Hi", "text\n", "<p>x</p>"),
                         "digest", NOW, SECRET.encode())
    recipient = Recipient("ann@example.org", "Ann")
    first_id, first = maker.make(recipient)
    second_id, second = maker.make(recipient)
    assert first_id != second_id
    for message_id, data in ((first_id, first), (second_id, second)):
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert str(parsed["Message-ID"]) == message_id
        assert message_id.endswith("@mail.example.net>")
        assert message_id.count("@") == 1


def test_list_id_of_digest_and_alerts(sample: Sample) -> None:
    found = {}
    for which in ("digest", "alert"):
        match = re.fullmatch(r"(.*) <([^<>]*)>", str(sample.eml(which)["List-Id"]))
        assert match, which
        found[which] = (match.group(1), match.group(2))
    assert found == {"digest": ("Newsroom Blogs", SAMPLE_LIST),
                     "alert": ("Newsroom Blogs alerts", SAMPLE_ALERTS_LIST)}


@pytest.mark.parametrize(("which", "address", "list_id"), [
    ("digest", "ana.lima@example.org", SAMPLE_LIST),
    ("alert", "omar.haddad@example.net", SAMPLE_ALERTS_LIST),
])
def test_list_unsubscribe_has_a_signed_https_link_and_a_mailto(
        sample: Sample, which: str, address: str, list_id: str) -> None:
    message = sample.eml(which)
    links = re.findall(r"<([^>]*)>", str(message["List-Unsubscribe"]))
    assert len(links) == 2
    https, mailto = links
    assert https.startswith("https://news.example.org/unsubscribe?token=")
    assert tokens.verify([SECRET.encode()], token_of(https)) == (list_id, address, 0)
    assert mailto.startswith("mailto:unsubscribe@news.example.org")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("which", ["digest", "alert"])
def test_the_bodies_carry_the_same_unsubscribe_link_as_the_header(sample: Sample,
                                                                  which: str) -> None:
    message = sample.eml(which)
    url = unsubscribe_url(message)
    assert url in part(message, "plain").splitlines()
    doc = parse_html(part(message, "html"))
    assert url in [a.get("href") for a in doc.iter("a")]


def test_an_alert_message_is_urgent(sample: Sample) -> None:
    """Regression (fixed in c623a22): the CLI passed the stream as "alert" where MessageMaker
    tests for "alerts", so previewed alerts had no priority headers."""
    alert = sample.eml("alert")
    for name, value in URGENT_HEADERS.items():
        assert alert.get_all(name) == [value], name
    assert alert["X-MSMail-Priority"] is None


def test_message_maker_marks_the_alerts_stream_urgent(project: Project) -> None:
    project.write_config(with_email())
    config = project.config()
    body = Body("Subject", "text\n", "<p>html</p>")
    made = {}
    for stream in ("alerts", "digest"):
        maker = MessageMaker(config.email, config.site.title, body, stream,  # type: ignore[arg-type]
                             NOW, b"k")
        made[stream] = email.message_from_bytes(maker.make(Recipient("a@example.org", "A"))[1],
                                                policy=email.policy.default)
    for name, value in URGENT_HEADERS.items():
        assert made["alerts"].get_all(name) == [value], name
        assert made["digest"][name] is None, name
    assert made["alerts"]["X-MSMail-Priority"] is None
    assert made["digest"]["X-MSMail-Priority"] is None


@pytest.mark.parametrize("which", ["digest", "digest_omar"])
def test_a_digest_carries_no_priority_header(sample: Sample, which: str) -> None:
    digest = sample.eml(which)
    for name in (*URGENT_HEADERS, "X-MSMail-Priority"):
        assert digest[name] is None, name


# === Unsubscribe tokens ================================================================


def test_token_is_the_hmac_of_list_and_address_under_the_env_secret(sample: Sample) -> None:
    token = token_of(unsubscribe_url(sample.eml("digest")))
    payload, signature = token.split(".")
    expected_payload = f"{SAMPLE_LIST} ana.lima@example.org".encode()
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == expected_payload
    expected = hmac.new(SECRET.encode(), expected_payload, sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    assert tokens.verify([b"another secret"], token) is None
    assert tokens.verify([campaign.PREVIEW_SECRET], token) is None


def test_without_the_env_var_the_preview_says_its_links_use_a_placeholder_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDPRESS_SECRET", raising=False)
    run = preview(SAMPLE_CONFIG, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    assert "FEEDPRESS_SECRET is not set" in run.err
    token = token_of(unsubscribe_url(read_eml(tmp_path / "out" / "digest.eml")))
    assert tokens.verify([SECRET.encode()], token) is None


def test_a_tampered_token_is_refused() -> None:
    secret = SECRET.encode()
    token = tokens.make(secret, "ana.lima@example.org", SAMPLE_LIST)
    assert tokens.verify([secret], token) == (SAMPLE_LIST, "ana.lima@example.org", 0)
    payload, signature = token.split(".")
    other = tokens.make(secret, "eve@example.org", SAMPLE_LIST).split(".")[0]
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    for bad in (f"{other}.{signature}",  # another address under this signature
                f"{payload}.{flipped}",  # one character of the signature changed
                f"{payload}.{signature[:-4]}",  # signature cut short
                payload, f"{payload}.", "", "not a token", f"{payload}.{signature}!"):
        assert tokens.verify([secret], bad) is None, bad


def test_a_token_is_for_one_list_and_compares_the_address_case_insensitively() -> None:
    secret = SECRET.encode()
    digest = tokens.make(secret, "Ana.Lima@Example.org", SAMPLE_LIST)
    alert = tokens.make(secret, "ana.lima@example.org", SAMPLE_ALERTS_LIST)
    assert digest != alert
    assert tokens.verify([secret], digest) == (SAMPLE_LIST, "ana.lima@example.org", 0)
    assert tokens.verify([secret], alert) == (SAMPLE_ALERTS_LIST, "ana.lima@example.org", 0)


def test_digest_and_alert_tokens_in_messages_name_their_lists(sample: Sample) -> None:
    digest = tokens.verify([SECRET.encode()], token_of(unsubscribe_url(sample.eml("digest_omar"))))
    alert = tokens.verify([SECRET.encode()], token_of(unsubscribe_url(sample.eml("alert"))))
    assert digest == (SAMPLE_LIST, "omar.haddad@example.net", 0)
    assert alert == (SAMPLE_ALERTS_LIST, "omar.haddad@example.net", 0)


# === Header injection ==================================================================


def assert_no_injected_headers(path: Path) -> EmailMessage:
    head = raw_headers(path)
    for line in head:
        assert re.match(r"[A-Za-z-]+: |[ \t]", line), line
    message = read_eml(path)
    assert message["Bcc"] is None
    assert "Bcc" not in [re.match(r"[A-Za-z-]+", line).group(0)  # type: ignore[union-attr]
                         for line in head if not line[0].isspace()]
    for name in ("Subject", "To"):
        assert len(message.get_all(name) or []) == 1
        assert "\r" not in str(message[name]) and "\n" not in str(message[name])
    return message


def test_a_title_with_cr_lf_cannot_add_a_header(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.raw("alpha/evil.md", '---\ntitle: "a\\r\\nBcc: x@evil.example"\n'
                f"date: {iso(NOW - timedelta(hours=1))}\nbreaking: true\n---\nBody.\n")
    for stream in ("alert", "digest"):
        run = preview(project.config_path, stream, tmp_path / stream)
        assert run.code == 0, run.err
        message = assert_no_injected_headers(tmp_path / stream / f"{stream}.eml")
        if stream == "alert":
            assert str(message["Subject"]) == "BREAKING: a Bcc: x@evil.example"


def test_a_subscriber_name_with_cr_lf_cannot_add_a_header(project: Project,
                                                          tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    write_csv(project, 'email,name\r\nann@example.org,"Ann\r\nBcc: x@evil.example"\r\n')
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = assert_no_injected_headers(tmp_path / "out" / "digest.eml")
    (to,) = message["To"].addresses
    assert to.addr_spec == "ann@example.org"
    assert "Bcc: x@evil.example" in to.display_name


def test_message_maker_itself_keeps_cr_lf_out_of_headers(project: Project,
                                                          tmp_path: Path) -> None:
    """Whatever reaches MessageMaker, even past the parsers' own clean-up, stays on one line."""
    project.write_config(with_email())
    config = project.config()
    body = Body("a\r\nBcc: x@evil.example", "text\n", "<p>html</p>")
    maker = MessageMaker(config.email, config.site.title, body, "alerts", NOW, b"k")
    _, data = maker.make(Recipient("ann@example.org", "Ann\r\nBcc: y@evil.example\n"))
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    message = assert_no_injected_headers(path)
    assert str(message["Subject"]) == "a Bcc: x@evil.example"
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ann Bcc: y@evil.example", "ann@example.org")


def rfc2047_name(data: bytes, field: str) -> str:
    """The display name of header `field`, decoded as RFC 2047 says: the white space between
    two encoded words is dropped. (Python's default policy keeps it inside a name.)"""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)[field]
    ((name, _),) = email.utils.getaddresses([raw])
    return str(email.header.make_header(email.header.decode_header(name)))


def test_subscriber_details_are_escaped_in_html_and_kept_within_qp_lines(
        project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    name = 'Tom & "Jerry" <tj> ' + "Ünïcödé " * 30 + "Last"
    quoted = name.replace('"', '""')
    write_csv(project, f'email,name\ntom.and.jerry@example.org,"{quoted}"\n')
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    eml = tmp_path / "out" / "digest.eml"
    body = eml.read_bytes().split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    message = read_eml(eml)
    assert rfc2047_name(eml.read_bytes(), "To") == name
    html = part(message, "html")
    assert html == (tmp_path / "out" / "digest.html").read_text(encoding="utf-8")
    doc = parse_html(html)
    assert list(doc.iter("tj")) == []
    (greeting,) = by_class(doc, "greeting")
    assert text_of(greeting) == f"Hello {name},"
    assert f"Hello {name}," in " ".join(part(message, "plain").split())


def test_a_line_break_in_a_quoted_csv_name_becomes_a_space(project: Project) -> None:
    """Regression (fixed in c623a22): csv.reader over `text.splitlines()` dropped the break."""
    path = write_csv(project, 'email,name\r\nann@example.org,"Ann\r\nLima"\r\n'
                              "bob@example.org,Bob\r\n")
    rows, problems = load_subscribers(path)
    assert problems == []
    assert [(r.email, r.name) for r in rows] == [("ann@example.org", "Ann Lima"),
                                                 ("bob@example.org", "Bob")]


def test_a_skipped_row_after_a_multi_line_name_is_reported_on_its_own_line(
    project: Project
) -> None:
    path = write_csv(project, 'email,name\r\nann@example.org,"Ann\r\nLima"\r\n'
                              "\r\nnot-an-address,Bob\r\nann@example.org,Again\r\n")
    rows, problems = load_subscribers(path)
    assert [r.email for r in rows] == ["ann@example.org"]
    assert [(p.line, p.field) for p in problems] == [(5, "email"), (6, "email")]
    assert problems[1].message.startswith("ann@example.org is already on line 2")


# === HTML ==============================================================================

INLINED = {  # class -> a declaration style.css gives it, as premailer writes it inline
    "header": ("padding", "24px 24px 8px 24px"),
    "greeting": ("padding", "8px 24px 0 24px"),
    "banner": ("background-color", "#b00020"),
    "post": ("padding", "16px 24px"),
    "post-breaking": ("background-color", "#fff5f5"),
    "title": ("font-size", "20px"),
    "byline": ("font-size", "13px"),
    "summary": ("line-height", "24px"),
    "more": ("color", "#b00020"),
    "image": ("max-width", "552px"),
    "caption": ("font-size", "13px"),
    "blog-title": ("border-bottom", "2px solid #1a1a1a"),
    "footer": ("padding", "24px"),
}


def test_classes_styled_in_style_css_are_inlined(sample: Sample) -> None:
    doc = parse_html((sample.digest / "digest.html").read_text(encoding="utf-8"))
    for name, (prop, value) in INLINED.items():
        elements = by_class(doc, name)
        assert elements, f"no .{name} element"
        for element in elements:
            assert style_of(element).get(prop) == value, (name, element.get("style"))
    for cell in by_class(doc, "post-breaking"):  # the accent bar on the side the text starts
        start, end = ("right", "left") if cell.get("dir") == "rtl" else ("left", "right")
        assert style_of(cell).get(f"border-{start}") == "6px solid #b00020", cell.get("style")
        assert style_of(cell).get(f"border-{end}", "0") == "0", cell.get("style")
    assert {c.get("dir") for c in by_class(doc, "post-breaking")} == {"rtl", "ltr"}
    footer_links = [a for cell in by_class(doc, "footer") for a in cell.iter("a")]
    assert footer_links
    assert all(style_of(a).get("color") == "#555" for a in footer_links)


def media_rules(css: str) -> dict[str, list[tuple[str, str]]]:
    """Each @media query's (selectors, declaration) pairs, whitespace normalised."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found: dict[str, list[tuple[str, str]]] = {}
    for match in re.finditer(r"@media([^{]*)\{", css):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        rules = found.setdefault(" ".join(match.group(1).split()), [])
        for rule in re.finditer(r"([^{}]+)\{([^{}]*)\}", css[match.end():end - 1]):
            selectors = " ".join(rule.group(1).split())
            rules.extend((selectors, " ".join(d.split()))
                         for d in rule.group(2).split(";") if d.strip())
    return found


def test_media_rules_survive_in_a_style_block_with_important(sample: Sample) -> None:
    doc = parse_html((sample.digest / "digest.html").read_text(encoding="utf-8"))
    kept = media_rules("\n".join(text_of(s) for s in doc.iter("style")))
    assert set(kept) == {"only screen and (max-width: 620px)", "(prefers-color-scheme: dark)"}
    expected = media_rules(PACKAGE_CSS)
    assert kept == expected
    for query, declarations in kept.items():
        assert declarations, query
        for selectors, declaration in declarations:
            assert declaration.endswith("!important"), (query, selectors, declaration)
    assert ("body, .wrapper, .footer", "background-color: #121212 !important") in kept[
        "(prefers-color-scheme: dark)"]
    assert (".container", "width: 100% !important") in kept[
        "only screen and (max-width: 620px)"]


@pytest.mark.parametrize("which", ["digest", "alert"])
def test_no_script_and_no_linked_stylesheet(sample: Sample, which: str) -> None:
    folder = sample.digest if which == "digest" else sample.alert
    doc = parse_html((folder / f"{which}.html").read_text(encoding="utf-8"))
    assert list(doc.iter("script")) == []
    assert [link for link in doc.iter("link")
            if "stylesheet" in (link.get("rel") or "").lower().split()] == []
    assert not [e for e in doc.iter() if isinstance(e.tag, str)
                and any(a.lower().startswith("on") for a in e.attrib)]


def test_breaking_banner_comes_before_every_other_post(newsroom: Newsroom) -> None:
    doc = parse_html(newsroom.html)
    cells = [e for e in doc.iter("td")]
    (banner,) = by_class(doc, "banner")
    assert text_of(banner) == "Breaking News"
    position = cells.index(banner)
    posts = post_cells(doc)
    breaking = [c for c in posts if "post-breaking" in c.get("class", "")]
    ordinary = [c for c in posts if "post-breaking" not in c.get("class", "")]
    assert [cell_url(c) for c in breaking] == [newsroom.urls[n] for n in newsroom.breaking]
    assert len(ordinary) == 4
    assert all(cells.index(c) > position for c in breaking)
    assert max(cells.index(c) for c in breaking) < min(cells.index(c) for c in ordinary)


def test_each_breaking_post_appears_once(newsroom: Newsroom) -> None:
    doc = parse_html(newsroom.html)
    urls = [cell_url(c) for c in post_cells(doc)]
    assert len(urls) == len(set(urls)) == 6
    for name in newsroom.breaking:
        titles = [a for a in doc.iter("a") if a.get("href") == newsroom.urls[name]
                  and "title" in (a.get("class") or "").split()]
        assert len(titles) == 1, name


def test_blog_groups_follow_the_config_order(newsroom: Newsroom) -> None:
    doc = parse_html(newsroom.html)
    groups = [text_of(cell) for cell in by_class(doc, "blog-title")]
    # beta has the newest ordinary post, yet alpha comes first as in `blogs:`
    assert groups == ["Alpha", "بيتا", "Гамма"]
    cells = [e for e in doc.iter("td")]
    heads = by_class(doc, "blog-title")
    for cell in post_cells(doc):
        if "post-breaking" in cell.get("class", ""):
            continue
        index = cells.index(cell)
        group = max((h for h in heads if cells.index(h) < index), key=cells.index)
        blog = urlsplit(cell_url(cell)).path.strip("/").split("/")[0]
        expected = {"alpha": "Alpha", "beta": "بيتا", "gamma": "Гамма", "custom": "Alpha"}
        assert text_of(group) == expected[blog]


def test_every_post_carries_lang_and_dir(newsroom: Newsroom) -> None:
    doc = parse_html(newsroom.html)
    html = doc.getroot() if hasattr(doc, "getroot") else doc
    assert (html.get("lang"), html.get("dir")) == ("en", "ltr")
    found = {cell_url(c): (c.get("lang"), c.get("dir")) for c in post_cells(doc)}
    assert found == {
        newsroom.urls["gamma-breaking"]: ("ru", "ltr"),
        newsroom.urls["alpha-breaking"]: ("en", "ltr"),
        newsroom.urls["beta-one"]: ("ar", "rtl"),
        newsroom.urls["alpha-one"]: ("en", "ltr"),
        newsroom.urls["gamma-one"]: ("ru", "ltr"),
        newsroom.urls["alpha-french"]: ("fr", "ltr"),
    }


def test_arabic_post_is_rtl_in_the_english_sample_digest(sample: Sample) -> None:
    doc = parse_html((sample.digest / "digest.html").read_text(encoding="utf-8"))
    cells = {cell_url(c): c for c in post_cells(doc)}
    assert set(cells) == {CLASHES_URL, AID_URL, CONVOY_URL}
    assert (cells[CLASHES_URL].get("lang"), cells[CLASHES_URL].get("dir")) == ("ar", "rtl")
    assert (cells[CONVOY_URL].get("lang"), cells[CONVOY_URL].get("dir")) == ("ru", "ltr")
    root = doc.getroot() if hasattr(doc, "getroot") else doc
    assert (root.get("lang"), root.get("dir")) == ("en", "ltr")


def test_every_image_has_a_non_empty_alt(newsroom: Newsroom, sample: Sample) -> None:
    for html in (newsroom.html, (sample.digest / "digest.html").read_text(encoding="utf-8")):
        images = list(parse_html(html).iter("img"))
        assert images
        for image in images:
            assert (image.get("alt") or "").strip(), image.get("src")
    doc = parse_html(newsroom.html)
    (station,) = [i for i in doc.iter("img") if i.get("src", "").endswith("/img/station.jpg")]
    assert station.get("alt") == "Взрыв на вокзале"  # no alt, no caption: the title


def test_images_keep_a_pixel_width_attribute(sample: Sample) -> None:
    """Regression (fixed in c623a22): premailer made width="552" into "100%", added height="auto".

    Outlook's Word engine ignores CSS width and sizes images by the width
    attribute, which HTML defines as a number of pixels.
    """
    images = list(parse_html((sample.digest / "digest.html").read_text("utf-8")).iter("img"))
    assert images
    for image in images:
        assert image.get("width") == "552", image.get("width")
        assert image.get("height") is None or image.get("height", "").isdigit()


def test_no_relative_url_is_left(newsroom: Newsroom, sample: Sample) -> None:
    htmls = [newsroom.html, (sample.digest / "digest.html").read_text(encoding="utf-8"),
             (sample.alert / "alert.html").read_text(encoding="utf-8")]
    seen: list[str] = []
    for html in htmls:
        for element in parse_html(html).iter():
            if not isinstance(element.tag, str):
                continue
            for name in ("href", "src"):
                value = element.get(name)
                if value is not None:
                    seen.append(value)
                    assert urlsplit(value).scheme in ("https", "mailto"), value
                    if urlsplit(value).scheme == "https":
                        assert urlsplit(value).netloc, value
    assert "https://news.example.org/custom/alpha-one/" in seen
    assert "https://news.example.org/img/station.jpg" in seen
    assert newsroom.urls["beta-one"] + "photo.jpg" in seen


@pytest.mark.parametrize("which", ["digest", "alert"])
def test_preheader_is_hidden_and_has_no_colour(sample: Sample, which: str) -> None:
    folder = sample.digest if which == "digest" else sample.alert
    doc = parse_html((folder / f"{which}.html").read_text(encoding="utf-8"))
    (preheader,) = by_class(doc, "preheader")
    style = style_of(preheader)
    assert style.get("display") == "none"
    assert "color" not in style
    assert text_of(preheader)
    body = next(doc.iter("body"))
    first = next(e for e in body.iter() if isinstance(e.tag, str) and e is not body)
    assert first is preheader  # the first thing an inbox shows after the subject


def write_many(project: Project, count: int, **email_block: Any) -> None:
    project.write_config(with_email(**email_block))
    for i in range(count):
        project.post("alpha" if i % 3 else "beta", f"post-{i:03d}",
                     title=f"Post number {i} about a long-running conflict",
                     date=iso(NOW - timedelta(minutes=10 * (i + 1))),
                     summary=("A summary of ordinary length, a sentence or two that says what "
                              "the post reports and why a reader might care about it."),
                     image={"url": f"/img/{i}.jpg", "alt": f"Photo {i}"})


def test_200_posts_in_the_window_stay_under_gmails_clip_with_default_max_items(
        project: Project, tmp_path: Path) -> None:
    write_many(project, 200)
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "out" / "digest.eml")
    html = part(message, "html")
    assert len(html.encode("utf-8")) < MAX_HTML_BYTES
    assert len(post_cells(parse_html(html))) == 30
    doc = parse_html(html)
    (more,) = by_class(doc, "more-posts")
    assert text_of(more) == "170 more on the site"
    assert "170 more on the site:" in part(message, "plain").splitlines()
    assert str(message["Subject"]) == "Test Newsroom — 200 new posts"


def test_200_posts_shown_stay_under_gmails_clip(project: Project, tmp_path: Path) -> None:
    """Regression (fixed in c623a22): with max_items 200 the whole digest failed instead.

    Renderer._body raised FeedpressError("... lower email.digest.max_items"):
    on the busiest news day nobody would get a digest. What fits is shown
    and the rest counted in "N more on the site".
    """
    write_many(project, 200, digest={"max_items": 200})
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    html = part(read_eml(tmp_path / "out" / "digest.eml"), "html")
    assert len(html.encode("utf-8")) < MAX_HTML_BYTES
    doc = parse_html(html)
    shown = len(post_cells(doc))
    more = by_class(doc, "more-posts")
    hidden = int(text_of(more[0]).split()[0]) if more else 0
    assert shown + hidden == 200


# === Text part =========================================================================


def test_text_lines_are_at_most_72_characters_except_bare_urls(sample: Sample,
                                                               newsroom: Newsroom) -> None:
    texts = [(sample.digest / "digest.txt").read_text(encoding="utf-8"),
             (sample.alert / "alert.txt").read_text(encoding="utf-8"),
             (sample.digest_omar / "digest.txt").read_text(encoding="utf-8"),
             newsroom.text]
    for text in texts:
        assert long_lines(text) == []
    # there was something to wrap, and the long URL lines were kept whole
    assert any(len(line) > WIDTH for line in texts[0].splitlines())
    assert "BREAKING: " + LONG_BREAKING_TITLE not in newsroom.text.splitlines()


def test_text_lines_stay_short_with_a_long_subscriber_name(project: Project,
                                                           tmp_path: Path) -> None:
    """Regression (fixed in c623a22): the text was wrapped before the name was put in.

    The greeting was wrapped around a 26-character placeholder; a longer
    name (or address in the footer) then made a line over 72 characters.
    """
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    write_csv(project, "email,name\nlibrary@example.org,"
                       "Department of Peace and Conflict Research Uppsala University Library\n")
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    text = (tmp_path / "out" / "digest.txt").read_text(encoding="utf-8")
    assert "Department of Peace and Conflict Research Uppsala University" in " ".join(
        text.split())
    assert long_lines(text) == []


def test_each_breaking_title_is_preceded_by_breaking(newsroom: Newsroom,
                                                     sample: Sample) -> None:
    """The text part marks breaking posts with the catalogue's word, in the digest's
    language (these sites are in English)."""
    flat = " ".join(newsroom.text.split())
    assert flat.count("Breaking News:") == 2
    assert "Breaking News: Взрыв на вокзале" in flat
    assert f"Breaking News: {LONG_BREAKING_TITLE}" in flat
    for title in ("Alpha one", "Обычная новость", "خبر من بيتا", "Une brève en français"):
        assert title in flat
        assert f"Breaking News: {title}" not in flat
    sample_text = (sample.digest / "digest.txt").read_text(encoding="utf-8").splitlines()
    assert f"Breaking News: {CLASHES_TITLE}" in " ".join(sample_text)
    assert f"Breaking News: {AID_TITLE}" in " ".join(sample_text)
    assert sum(line.startswith("Breaking News:") for line in sample_text) == 2
    alert_text = (sample.alert / "alert.txt").read_text(encoding="utf-8").splitlines()
    assert " ".join(alert_text[:2]).startswith(f"عاجل: {CLASHES_TITLE}")  # the post's language


def test_text_writes_links_out(newsroom: Newsroom, sample: Sample) -> None:
    lines = newsroom.text.splitlines()
    for slug in ("gamma-breaking", "beta-one", "alpha-one", "alpha-breaking", "gamma-one",
                 "alpha-french"):
        assert newsroom.urls[slug] in lines
    assert "https://news.example.org/rss.xml" in lines  # the site's first feed
    assert not re.search(r"<a\b|href=", newsroom.text)
    sample_lines = (sample.digest / "digest.txt").read_text(encoding="utf-8").splitlines()
    for url in (CLASHES_URL, AID_URL, CONVOY_URL):
        assert url in sample_lines
    assert unsubscribe_url(sample.eml("digest")) in sample_lines


# === Untrusted text in posts ===========================================================

TEMPLATE_TITLE = "Costs {{ 7*7 }} and {% if true %}yes{% endif %} {# note #}"
TEMPLATE_BODY = "Body says {{ site.title }} and {% for x in range(3) %}{{ x }}{% endfor %}."


def test_template_syntax_in_a_post_is_shown_literally(project: Project,
                                                      tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "tricky", title=TEMPLATE_TITLE, body=TEMPLATE_BODY + "\n",
                 date=iso(NOW - timedelta(hours=1)), breaking=True)
    for stream in ("digest", "alert"):
        run = preview(project.config_path, stream, tmp_path / stream)
        assert run.code == 0, run.err
        message = read_eml(tmp_path / stream / f"{stream}.eml")
        doc = parse_html(part(message, "html"))
        (cell,) = post_cells(doc)
        (title,) = [a for a in cell.iter("a") if "title" in (a.get("class") or "").split()]
        assert text_of(title) == TEMPLATE_TITLE
        (summary,) = by_class(cell, "summary")
        assert text_of(summary) == TEMPLATE_BODY
        flat = " ".join(part(message, "plain").split())
        assert TEMPLATE_TITLE in flat and TEMPLATE_BODY in flat
        assert "49" not in flat and "012" not in flat
    assert str(read_eml(tmp_path / "alert" / "alert.eml")["Subject"]) == (
        f"BREAKING: {TEMPLATE_TITLE}")


def test_script_in_a_summary_is_escaped(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    summary = "<script>alert('x')</script> & <b>bold</b>"
    project.post("alpha", "xss", summary=summary, title="<script>t()</script> title",
                 date=iso(NOW - timedelta(hours=1)))
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "out" / "digest.eml")
    html = part(message, "html")
    doc = parse_html(html)
    assert list(doc.iter("script")) == [] and list(doc.iter("b")) == []
    (cell,) = post_cells(doc)
    (shown,) = by_class(cell, "summary")
    assert text_of(shown) == summary
    assert "&lt;script&gt;" in html
    text = part(message, "plain")
    assert summary in text
    assert "<script>t()</script> title" in text


# === Selection (digest.py) =============================================================


def posts_of(project: Project) -> dict[str, Any]:
    return {p.slug: p for p in load_posts(project.config(), NOW).published}


def test_window_is_open_at_since_and_closed_at_until(project: Project) -> None:
    since, until = NOW - timedelta(days=1), NOW - timedelta(hours=1)
    project.post("alpha", "at-since", date=iso(since))
    project.post("alpha", "after-since", date=iso(since + timedelta(seconds=1)))
    project.post("alpha", "at-until", date=iso(until))
    project.post("alpha", "after-until", date=iso(until + timedelta(seconds=1)))
    posts = load_posts(project.config(), NOW).published
    window = select.Window(since, until)
    assert {p.slug for p in posts if window.holds(p)} == {"after-since", "at-until"}
    assert [p.slug for p in select.in_window(posts, window)] == ["at-until", "after-since"]


def test_first_digest_looks_back_first_window_then_from_the_last_end() -> None:
    week = timedelta(days=7)
    assert select.next_window(NOW, None, week) == select.Window(NOW - week, NOW)
    last = NOW - timedelta(hours=5)
    assert select.next_window(NOW, last, week) == select.Window(last, NOW)


def test_first_window_from_the_config_decides_the_preview(project: Project,
                                                          tmp_path: Path) -> None:
    project.write_config(with_email(digest={"first_window": "2d"}))
    project.post("alpha", "recent", date=iso(NOW - timedelta(days=1)))
    project.post("alpha", "older", date=iso(NOW - timedelta(days=3)))
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    urls = [cell_url(c) for c in post_cells(parse_html(
        (tmp_path / "out" / "digest.html").read_text(encoding="utf-8")))]
    assert urls == [posts_of(project)["recent"].url]
    assert config_module.load(project.config_path).email.digest.first_window == timedelta(
        days=2)


def test_since_and_until_bound_the_preview(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    for days in (1, 2, 3, 4):
        project.post("alpha", f"day-{days}", date=iso(NOW - timedelta(days=days)))
    run = preview(project.config_path, "digest", tmp_path / "out",
                  "--since", iso(NOW - timedelta(days=3)),
                  "--until", iso(NOW - timedelta(days=2)))
    assert run.code == 0, run.err
    urls = [cell_url(c) for c in post_cells(parse_html(
        (tmp_path / "out" / "digest.html").read_text(encoding="utf-8")))]
    assert urls == [posts_of(project)["day-2"].url]


def test_posts_already_sent_are_left_out(project: Project) -> None:
    project.post("alpha", "one", date=iso(NOW - timedelta(hours=1)))
    project.post("alpha", "two", date=iso(NOW - timedelta(hours=2)))
    posts = load_posts(project.config(), NOW).published
    window = select.Window(NOW - timedelta(days=1), NOW)
    sent = frozenset({posts_of(project)["one"].id})
    assert [p.slug for p in select.in_window(posts, window, sent)] == ["two"]


def test_a_post_matches_chosen_blogs_case_insensitively_and_tags_by_slug(
        project: Project) -> None:
    project.post("alpha", "sahel", tags=["sahel region", "HOSTAGES"],
                 date=iso(NOW - timedelta(hours=1)))
    project.post("alpha", "other", tags=["economy"], date=iso(NOW - timedelta(hours=2)))
    project.post("beta", "beta-sahel", tags=["Sahel Region"], date=iso(NOW - timedelta(hours=3)))
    project.post("beta", "untagged", date=iso(NOW - timedelta(hours=4)))
    path = write_csv(project, "email,name,blogs,tags\n"
                              "all@example.org,All,,\n"
                              "alpha@example.org,Alpha,ALPHA,\n"
                              "tags@example.org,Tags,,Sahel Region; hostages\n"
                              "both@example.org,Both,Alpha;Beta,sahel-region\n"
                              "beta@example.org,Beta,beta,hostages\n"
                              "none@example.org,None,gamma,\n")
    rows, problems = load_subscribers(path)
    assert problems == []
    posts = load_posts(project.config(), NOW).published
    chosen = {row.email.split("@")[0]: {p.slug for p in posts if select.matches(p, row.choice)}
              for row in rows}
    assert chosen == {
        "all": {"sahel", "other", "beta-sahel", "untagged"},
        "alpha": {"sahel", "other"},
        "tags": {"sahel", "beta-sahel"},
        "both": {"sahel", "beta-sahel"},
        "beta": set(),
        "none": set(),
    }


def test_subject_count_is_the_subscribers_own_count(sample: Sample) -> None:
    assert str(sample.eml("digest")["Subject"]) == "Newsroom Blogs — 3 new posts"
    omar = sample.eml("digest_omar")  # follows the Arabic blog only: an Arabic subject
    assert str(omar["Subject"]) == "Newsroom Blogs — منشور جديد"
    assert [cell_url(c) for c in post_cells(parse_html(part(omar, "html")))] == [CLASHES_URL]
    (to,) = omar["To"].addresses
    assert to.addr_spec == "omar.haddad@example.net"


def test_max_items_shows_the_newest_and_counts_the_rest(project: Project,
                                                        tmp_path: Path) -> None:
    project.write_config(with_email(digest={"max_items": 2}))
    for i in range(5):
        project.post("alpha", f"p{i}", date=iso(NOW - timedelta(hours=i + 1)),
                     breaking=(i == 3))
    posts = load_posts(project.config(), NOW).published
    laid_out = select.compose(posts, project.config().blogs, 2)
    assert (laid_out.count, laid_out.more) == (5, 3)
    assert [p.slug for p in laid_out.posts] == ["p3", "p0"]  # breaking first, then newest
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "out" / "digest.eml")
    assert str(message["Subject"]) == "Test Newsroom — 5 new posts"
    doc = parse_html(part(message, "html"))
    (more,) = by_class(doc, "more-posts")
    assert text_of(more) == "3 more on the site"
    assert [a.get("href") for a in more.iter("a")] == ["https://news.example.org/"]
    lines = part(message, "plain").splitlines()
    at = lines.index("3 more on the site:")
    assert lines[at + 1] == "https://news.example.org/"


def test_no_more_line_when_everything_fits(newsroom: Newsroom) -> None:
    assert by_class(parse_html(newsroom.html), "more-posts") == []
    assert "more on the site" not in newsroom.text


def test_everyone_with_the_same_choices_gets_the_same_body(project: Project) -> None:
    project.write_config(with_email())
    project.post("alpha", "a1", tags=["Sahel"], date=iso(NOW - timedelta(hours=1)))
    project.post("beta", "b1", tags=["Gold"], date=iso(NOW - timedelta(hours=2)))
    path = write_csv(project, "email,name,blogs,tags\n"
                              "one@example.org,One,Alpha,sahel\n"
                              "two@example.org,Two,alpha,Sahel\n"
                              "three@example.org,Three,,\n"
                              "four@example.org,Four,,\n"
                              "five@example.org,Five,beta,sahel\n")
    rows, _ = load_subscribers(path)
    config = project.config()
    posts = load_posts(config, NOW).published
    assert rows[0].choice == rows[1].choice and rows[2].choice == rows[3].choice
    assert [p.slug for p in posts if select.matches(p, rows[0].choice)] == ["a1"]
    assert [p.slug for p in posts if select.matches(p, rows[2].choice)] == ["a1", "b1"]
    renderer = Renderer(config)
    one = bodies.digest_body(config, renderer, posts, rows[0].choice)
    two = bodies.digest_body(config, Renderer(config), posts, rows[1].choice)
    assert one is not None and one == two
    assert bodies.digest_body(config, renderer, posts, rows[4].choice) is None


def test_alerts_due_respects_max_age_and_alerts_already_sent(project: Project) -> None:
    project.post("alpha", "fresh", breaking=True, date=iso(NOW - timedelta(hours=1)))
    project.post("alpha", "edge", breaking=True, date=iso(NOW - timedelta(hours=24)))
    project.post("alpha", "stale", breaking=True, date=iso(NOW - timedelta(hours=25)))
    project.post("alpha", "sent", breaking=True, date=iso(NOW - timedelta(hours=2)))
    project.post("alpha", "ordinary", date=iso(NOW - timedelta(minutes=30)))
    project.post("alpha", "future", breaking=True, date=iso(NOW + timedelta(hours=1)))
    posts = list(posts_of(project).values())
    alerted = frozenset({posts_of(project)["sent"].id})
    due = select.alerts_due(posts, NOW, timedelta(hours=24), alerted)
    assert {p.slug for p in due} == {"fresh"}
    assert {p.slug for p in select.alerts_due(posts, NOW, timedelta(hours=48))} == {
        "fresh", "edge", "stale", "sent"}


# === The command =======================================================================


def test_digest_preview_writes_three_files_and_prints_their_paths(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er" / "preview"
    run = preview(SAMPLE_CONFIG, "digest", out)
    assert run.code == 0, run.err
    expected = [out / "digest.html", out / "digest.txt", out / "digest.eml"]
    assert run.printed_paths() == [p.resolve() for p in expected]
    assert sorted(p.name for p in out.iterdir()) == ["digest.eml", "digest.html", "digest.txt"]
    assert all(p.stat().st_size > 0 for p in expected)


@pytest.mark.parametrize("which", ["digest", "alert", "digest_omar"])
def test_preview_files_are_exactly_the_message_parts(sample: Sample, which: str) -> None:
    folder = {"digest": sample.digest, "alert": sample.alert,
              "digest_omar": sample.digest_omar}[which]
    stem = "alert" if which == "alert" else "digest"
    message = sample.eml(which)
    html = (folder / f"{stem}.html").read_bytes().decode("utf-8")
    text = (folder / f"{stem}.txt").read_bytes().decode("utf-8")
    assert part(message, "html") == html
    assert part(message, "plain") == text


def test_subscriber_option_previews_that_subscribers_variant(sample: Sample,
                                                             tmp_path: Path) -> None:
    run = preview(SAMPLE_CONFIG, "digest", tmp_path / "irina",
                  "--subscriber", "irina.volkova@example.com")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "irina" / "digest.eml")
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ирина Волкова", "irina.volkova@example.com")
    urls = [cell_url(c) for c in post_cells(parse_html(part(message, "html")))]
    assert urls == [AID_URL, CONVOY_URL]
    assert str(message["Subject"]) == "Newsroom Blogs — 2 new posts"
    ana = [cell_url(c) for c in post_cells(parse_html(part(sample.eml("digest"), "html")))]
    assert ana == [CLASHES_URL, AID_URL, CONVOY_URL]


def test_unknown_subscriber_is_a_usage_error(tmp_path: Path) -> None:
    run = preview(SAMPLE_CONFIG, "digest", tmp_path / "out", "--subscriber", "x@example.org")
    assert run.code == 2
    assert "x@example.org" in run.err
    assert not (tmp_path / "out").exists()


def test_sample_subscriber_is_the_first_valid_row(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    write_csv(project, "email,name\nnot-an-address,Broken\n"
                       "second@example.org,Second Row\nthird@example.org,Third\n")
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    (to,) = read_eml(tmp_path / "out" / "digest.eml")["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Second Row", "second@example.org")
    assert "not-an-address" in run.err and "subscribers.csv:2" in run.err


def test_sample_subscriber_without_a_csv(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    assert not (project.root / "subscribers.csv").exists()
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "out" / "digest.eml")
    assert str(message["To"]) == "Sample Reader <reader@example.org>"
    assert "Hello Sample Reader," in part(message, "plain").splitlines()


def test_alert_preview_is_for_the_newest_breaking_post(sample: Sample,
                                                       tmp_path: Path) -> None:
    assert sorted(p.name for p in sample.alert.iterdir()) == [
        "alert.eml", "alert.html", "alert.txt"]
    assert sample.runs["alert"].printed_paths() == [
        (sample.alert / name).resolve() for name in ("alert.html", "alert.txt", "alert.eml")]
    doc = parse_html((sample.alert / "alert.html").read_text(encoding="utf-8"))
    assert [cell_url(c) for c in post_cells(doc)] == [CLASHES_URL]
    (banner,) = by_class(doc, "banner")
    assert text_of(banner) == "عاجل"  # the alert speaks its post's language, Arabic here
    assert doc.getroot().get("lang") == "ar" and doc.getroot().get("dir") == "rtl"
    earlier = preview(SAMPLE_CONFIG, "alert", tmp_path / "earlier",
                      "--until", "2026-11-25T05:00Z")
    assert earlier.code == 0, earlier.err
    assert str(read_eml(tmp_path / "earlier" / "alert.eml")["Subject"]) == (
        f"BREAKING: {AID_TITLE}")


@pytest.mark.parametrize(("stream", "what"), [("digest", "posts"),
                                              ("alert", "breaking posts")])
def test_nothing_new_says_so_and_exits_0(tmp_path: Path, stream: str, what: str) -> None:
    run = preview(SAMPLE_CONFIG, stream, tmp_path / "out", now="2026-01-01T00:00Z")
    assert run.code == 0, run.err
    assert run.out.strip() == f"Nothing new to send: no {what} in the window."
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_preview_never_creates_the_state_database(tmp_path: Path) -> None:
    copy_root = tmp_path / "newsroom"
    copy_root.mkdir()
    for name in ("feedpress.yaml", "subscribers.csv"):
        shutil.copy(ROOT / name, copy_root / name)
    shutil.copytree(ROOT / "posts", copy_root / "posts")
    state = config_module.load(copy_root / "feedpress.yaml").email.state
    assert state == copy_root / ".feedpress" / "state.db"
    before = sorted(p.relative_to(copy_root) for p in copy_root.rglob("*"))
    for stream in ("digest", "alert"):
        run = preview(copy_root / "feedpress.yaml", stream, tmp_path / "out")
        assert run.code == 0, run.err
    assert not state.exists()
    assert sorted(p.relative_to(copy_root) for p in copy_root.rglob("*")) == before
    # and the repository's own sample project is left as it was
    repo_state = config_module.load(SAMPLE_CONFIG).email.state
    existed = repo_state.exists()
    assert preview(SAMPLE_CONFIG, "digest", tmp_path / "repo").code == 0
    assert repo_state.exists() == existed


# === Template overrides ================================================================


def test_a_project_digest_txt_overrides_the_default(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", title="Some news", date=iso(NOW - timedelta(hours=1)))
    templates = project.root / "email_templates"
    templates.mkdir()
    (templates / "digest.txt").write_text(
        "OUR OWN DIGEST for {{ name }}\n{% for post in digest.posts %}* {{ post.title }}\n"
        "{% endfor %}{{ unsubscribe_url }}\n", encoding="utf-8")
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert run.code == 0, run.err
    message = read_eml(tmp_path / "out" / "digest.eml")
    lines = part(message, "plain").splitlines()
    assert lines[:2] == ["OUR OWN DIGEST for Sample Reader", "* Some news"]
    assert lines[2] == unsubscribe_url(message)
    doc = parse_html(part(message, "html"))  # the HTML is still the default one
    assert [text_of(c) for c in by_class(doc, "greeting")] == ["Hello Sample Reader,"]


def test_a_project_style_css_overrides_the_default(project: Project, tmp_path: Path) -> None:
    project.write_config(with_email())
    project.post("alpha", "news", breaking=True, date=iso(NOW - timedelta(hours=1)))
    templates = project.root / "email_templates"
    templates.mkdir()
    (templates / "style.css").write_text(
        ".banner { background-color: #123456; }\n"
        "@media (prefers-color-scheme: dark) { .banner { color: #abcdef !important; } }\n",
        encoding="utf-8")
    run = preview(project.config_path, "alert", tmp_path / "out")
    assert run.code == 0, run.err
    doc = parse_html((tmp_path / "out" / "alert.html").read_text(encoding="utf-8"))
    (banner,) = by_class(doc, "banner")
    assert style_of(banner).get("background-color") == "#123456"
    assert "padding" not in style_of(post_cells(doc)[0])  # the default style.css is gone
    kept = media_rules("\n".join(text_of(s) for s in doc.iter("style")))
    assert kept == {"(prefers-color-scheme: dark)": [(".banner", "color: #abcdef !important")]}


# === Addresses the subscriber list accepts =============================================


@pytest.mark.parametrize(("address", "to"), [
    ("ana@bücher.example", "ana@xn--bcher-kva.example"),  # sent as punycode
    ("josé@example.org", "reader@example.org"),  # needs SMTPUTF8: skipped, so the sample
])
def test_an_internationalised_address_does_not_crash_the_preview(
        project: Project, tmp_path: Path, address: str, to: str) -> None:
    """Regression (fixed in c623a22): subscribers.load accepted these, then
    messages._address (formataddr) raised UnicodeEncodeError, an uncaught traceback."""
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    write_csv(project, f"email,name\n{address},Ana\n")
    run = preview(project.config_path, "digest", tmp_path / "out")
    assert "Traceback" not in run.err, run.err
    assert run.code == 0, run.err
    (found,) = read_eml(tmp_path / "out" / "digest.eml")["To"].addresses
    assert found.addr_spec == to
    if to == "reader@example.org":
        assert "subscribers.csv:2" in run.err and address in run.err


def test_subscriber_option_finds_an_idn_address_as_written_in_the_csv(
        project: Project, tmp_path: Path) -> None:
    """BUG: the CSV row is kept in punycode, `--subscriber` is compared as typed.

    mailing.sample_subscriber compares `row.email.lower() == email.lower()`;
    since c623a22 row.email is "ana@xn--bcher-kva.example", so the address
    as it stands in the CSV is refused: "is not a valid row" (exit 2).
    """
    project.write_config(with_email())
    project.post("alpha", "news", date=iso(NOW - timedelta(hours=1)))
    write_csv(project, "email,name\nfirst@example.org,First\nana@bücher.example,Ana\n")
    for typed in ("ana@xn--bcher-kva.example", "ana@bücher.example", "Ana@Bücher.example"):
        run = preview(project.config_path, "digest", tmp_path / "out", "--subscriber", typed)
        assert run.code == 0, (typed, run.err)
        (found,) = read_eml(tmp_path / "out" / "digest.eml")["To"].addresses
        assert found.addr_spec == "ana@xn--bcher-kva.example", typed


@pytest.mark.parametrize(("template", "count", "subject"), [
    (None, 1, "Newsroom — 1 new post"),
    (None, 2, "Newsroom — 2 new posts"),
    (None, 0, "Newsroom — 0 new posts"),
    ("{count} stories from {site}", 1, "1 stories from Newsroom"),  # as written
])
def test_a_digest_subject_counts_its_posts(template: str | None, count: int,
                                           subject: str) -> None:
    from feedpress.mail.bodies import _subject

    assert _subject(template, "Newsroom", count, "en") == subject
