"""The sample digest and alert, checked with real tools: Chromium and SpamAssassin.

Both are Debian packages (`chromium`, `spamassassin`) that .ci/run installs;
without them these tests fail, they never skip. Both run offline: Chromium
resolves no host name (the messages' remote images stay unloaded, as in a
client that blocks images) and SpamAssassin runs its local tests only (-L).

The overflow check loads each message into an iframe of the exact width,
because headless Chromium silently widens a `--window-size` under 500 px to
500 px for `--dump-dom`: a page probed "at 375 px" that way is laid out at 500.

Regenerate the README screenshots, docs/digest-600.png and docs/digest-375.png,
with `python tests/test_email_clients.py`.
"""

from __future__ import annotations

import email
import html
import os
import re
import shutil
import struct
import subprocess
import tempfile
from email.message import Message
from email.policy import compat32
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import ROOT, SAMPLE_CONFIG
from feedpress.cli import main

NOW = "2026-11-25T12:00Z"
WIDTHS = (375, 600)
SPAM_LIMIT = 2.0
# Rules that must not fire, each with its variants (MIME_HTML_ONLY_MULTI, HTML_IMAGE_ONLY_08...).
FORBIDDEN = ("MIME_HTML_ONLY", "HTML_FONT_LOW_CONTRAST", "MISSING_MID", "MISSING_DATE")
FORBIDDEN_ALERT = ("HTML_IMAGE_ONLY",)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no DNS, so no request leaves
)
# The photos stand-in where images should show: a 1200x675 grey picture, wider
# than any layout, so a missing max-width would show as overflow.
PLACEHOLDER = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675">'
    '<rect width="1200" height="675" fill="#c8c8c2"/></svg>')
TOO_WIDE = '<table width="900" style="width:900px"><tr><td>900 px wide</td></tr></table>'
PROBE = """<script>
addEventListener('load', function () {
  for (const frame of document.querySelectorAll('iframe')) {
    const root = frame.contentDocument.documentElement;
    frame.setAttribute('data-inner-width', String(frame.contentWindow.innerWidth));
    frame.setAttribute('data-scroll-width', String(root.scrollWidth));
    frame.setAttribute('data-overflow', String(root.scrollWidth > root.clientWidth));
  }
});
</script>"""


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed: these tests need the real tool. Install it with "
                    f"`apt-get install --no-install-recommends {package}` (.ci/run does).",
                    pytrace=False)
    return found


def run(argv: list[str], *, stdin: bytes | None = None, timeout: float = 120,
        env: dict[str, str] | None = None) -> bytes:
    """`argv`'s standard output; a failure names the command and shows its stderr."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{argv[0]} did not finish in {timeout:.0f} s: {' '.join(argv)}")
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")[-3000:]
        pytest.fail(f"{' '.join(argv)} exited with {done.returncode}:\n{stderr}")
    return done.stdout


def chromium(scratch: Path, *args: str) -> bytes:
    """Headless Chromium with a fresh profile and home under `scratch`.

    The home too: Chromium writes crash-report settings and dconf files there
    whatever --user-data-dir says.
    """
    exe = tool("chromium", "chromium")
    home = Path(tempfile.mkdtemp(prefix="chromium-", dir=scratch))
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    return run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={home / 'profile'}", *args], env=env)


def screenshot(page: Path, png: Path, width: int, height: int) -> None:
    png.unlink(missing_ok=True)
    chromium(png.parent, f"--window-size={width},{height}", f"--screenshot={png}",
             page.as_uri())


def png_size(png: Path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk."""
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    length, kind, width, height = struct.unpack(">I4sII", head[8:24])
    assert (length, kind) == (13, b"IHDR"), f"{png} has no IHDR chunk first"
    return width, height


def with_images(page: str) -> str:
    """`page` with every remote image replaced by the grey placeholder, for offline shots."""
    return re.sub(r'(<img\b[^>]*?\bsrc=")https?://[^"]*"', rf'\g<1>{PLACEHOLDER}"', page)


def too_wide(page: str) -> str:
    """`page` with a 900 px table at the top of its body: overflows at any width here."""
    return re.sub(r"(<body\b[^>]*>)", rf"\g<1>{TOO_WIDE}", page, count=1)


def preview(out: Path) -> Path:
    """The sample project's digest and alert previews, written into `out`."""
    config = str(SAMPLE_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDPRESS_SECRET", "test-secret-for-previews-32-bytes-long")
        for stream in ("digest", "alert"):
            try:
                main([stream, "--preview", str(out), "--config", config, "--now", NOW])
            except SystemExit as exc:
                assert exc.code in (0, None), f"feedpress {stream} --preview exited {exc.code}"
    for stem in ("digest", "alert"):
        for suffix in (".html", ".txt", ".eml"):
            assert (out / f"{stem}{suffix}").is_file(), f"no {stem}{suffix} in the preview"
    return out


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return preview(tmp_path_factory.mktemp("preview"))


# --- Chromium: layout ---------------------------------------------------------------


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            found = {k: v or "" for k, v in attrs}
            self.frames[found.get("id", "")] = found


@pytest.fixture(scope="module")
def layout(previews: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every message copy in an iframe of each width, measured after load in one Chromium run.

    The copies (never the previews themselves) go into `srcdoc`: each message as
    sent, with its images shown as placeholders, and a deliberately too-wide
    control that proves the measurement can report overflow.
    """
    pages = {}
    for stem in ("digest", "alert"):
        sent = (previews / f"{stem}.html").read_text(encoding="utf-8")
        pages[f"{stem}-as-sent"] = sent
        pages[f"{stem}-images"] = with_images(sent)
    pages["control-too-wide"] = too_wide(pages["digest-images"])
    frames = "".join(
        f'<iframe id="{name}-{width}" width="{width}" height="20000" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        for name, page in pages.items() for width in WIDTHS)
    scratch = tmp_path_factory.mktemp("layout")
    host = scratch / "host.html"
    host.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0} '
        f"iframe{{display:block;border:0}}</style></head><body>{frames}{PROBE}</body></html>",
        encoding="utf-8")
    parser = _Frames()
    parser.feed(chromium(scratch, "--window-size=1000,1000", "--dump-dom",
                         host.as_uri()).decode("utf-8"))
    expected = {f"{name}-{width}" for name in pages for width in WIDTHS}
    assert set(parser.frames) == expected, "Chromium's DOM dump lacks some frames"
    return parser.frames


@pytest.mark.parametrize("width", WIDTHS)
def test_overflow_check_catches_a_900px_table(layout: dict[str, dict[str, str]],
                                               width: int) -> None:
    frame = layout[f"control-too-wide-{width}"]
    assert frame.get("data-overflow") == "true", (
        f"the overflow probe missed a 900 px table at {width} px: {frame}")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("variant", ["as-sent", "images"])
@pytest.mark.parametrize("stem", ["digest", "alert"])
def test_no_horizontal_overflow(layout: dict[str, dict[str, str]], stem: str, variant: str,
                                width: int) -> None:
    frame = layout[f"{stem}-{variant}-{width}"]
    assert frame.get("data-inner-width") == str(width), (
        f"laid out at {frame.get('data-inner-width')} px, not {width} px")
    assert frame.get("data-overflow") == "false", (
        f"{stem}.html ({variant}) is {frame.get('data-scroll-width')} px wide "
        f"in a {width} px viewport")


@pytest.mark.parametrize("width", WIDTHS)
def test_digest_screenshot(previews: Path, tmp_path: Path, width: int) -> None:
    png = tmp_path / f"digest-{width}.png"
    screenshot(previews / "digest.html", png, width, 2000)
    assert png.is_file(), f"Chromium wrote no {png.name}"
    assert png_size(png) == (width, 2000)


# --- SpamAssassin -------------------------------------------------------------------


def spam_report(message: bytes, home: Path) -> tuple[float, dict[str, str]]:
    """SpamAssassin's score and the rules that fired, each with its points and description.

    HOME is a scratch folder, where SpamAssassin writes user_prefs and Bayes files
    (it still makes an empty ~/.spamassassin in the real home, found by uid).
    """
    exe = tool("spamassassin", "spamassassin")
    out = run([exe, "-L", "-t"], stdin=message, env={**os.environ, "HOME": str(home)})
    checked: Message = email.message_from_bytes(out, policy=compat32)
    status = " ".join(str(checked.get("X-Spam-Status", "")).split())
    score = re.search(r"\bscore=(-?\d+(?:\.\d+)?)", status)
    tests = re.search(r"\btests=((?:[A-Z0-9_]+,\s*)*[A-Z0-9_]+|none)", status)
    assert score and tests, f"no score or tests in X-Spam-Status: {status!r}"
    rules = {name.strip(): "" for name in tests.group(1).split(",") if name != "none"}
    report = out.decode("utf-8", errors="replace").partition("Content analysis details")[2]
    for points, name, description in re.findall(
            r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s+(.*)$", report, flags=re.MULTILINE):
        if name in rules:
            rules[name] = f"{points} {description.strip()}"
    return float(score.group(1)), rules


@pytest.mark.parametrize("stem", ["digest", "alert"])
def test_spamassassin(previews: Path, tmp_path: Path, stem: str) -> None:
    score, rules = spam_report((previews / f"{stem}.eml").read_bytes(), tmp_path)
    fired = "\n".join(f"  {name}: {about}" for name, about in sorted(rules.items()))
    assert "HTML_MESSAGE" in rules, f"SpamAssassin's rules did not run as expected:\n{fired}"
    forbidden = FORBIDDEN + (FORBIDDEN_ALERT if stem == "alert" else ())
    bad = [r for r in rules if any(r == f or r.startswith(f + "_") for f in forbidden)]
    problems = [f"fires {', '.join(bad)}"] if bad else []
    if score >= SPAM_LIMIT:
        problems.append(f"scores {score} (limit {SPAM_LIMIT})")
    assert not problems, f"{stem}.eml {' and '.join(problems)}; the rules that fired:\n{fired}"


def test_spamassassin_check_catches_missing_headers(previews: Path, tmp_path: Path) -> None:
    """The control: the digest without Date and Message-ID fires both rules, over the limit."""
    message = (previews / "digest.eml").read_bytes()
    stripped = re.sub(rb"^(?:Date|Message-ID): [^\r\n]*\r\n", b"", message, flags=re.MULTILINE)
    assert stripped.count(b"\r\n") == message.count(b"\r\n") - 2
    score, rules = spam_report(stripped, tmp_path)
    assert {"MISSING_DATE", "MISSING_MID"} <= set(rules), sorted(rules)
    assert score >= SPAM_LIMIT


# --- The README screenshots ---------------------------------------------------------


def write_docs_screenshots() -> list[Path]:
    """docs/digest-600.png and docs/digest-375.png: the sample digest, placeholder photos."""
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        out = preview(Path(scratch))
        page = out / "digest-images.html"
        page.write_text(with_images((out / "digest.html").read_text(encoding="utf-8")),
                        encoding="utf-8")
        written = []
        for width, height in ((600, 1400), (375, 1400)):
            png = out / f"digest-{width}.png"
            screenshot(page, png, width, height)
            assert png_size(png) == (width, height)
            written.append(Path(shutil.copyfile(png, docs / png.name)))
    return written


if __name__ == "__main__":
    for path in write_docs_screenshots():
        print(path.relative_to(ROOT))
