"""Every fixed string in the reader's language: the catalogue in `locales/`, and the
digests, alerts and feeds of the sample project read back as a subscriber gets them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from lxml import etree

from conftest import ROOT, SAMPLE_CONFIG, Project
from feedpress.words import LANGUAGES, direction, negotiate, words
from test_email import SECRET, by_class, parse_html, part, preview, read_eml, text_of

LOCALES = ROOT / "src" / "feedpress" / "locales"
TEMPLATES = ROOT / "src" / "feedpress" / "mail" / "templates"


def catalogue(language: str) -> dict[str, str]:
    data = yaml.safe_load((LOCALES / f"{language}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_language_has_every_string_with_the_same_placeholders() -> None:
    english = catalogue("en")
    assert sorted(p.stem for p in LOCALES.glob("*.yaml")) == sorted(LANGUAGES)
    for language in LANGUAGES:
        found = catalogue(language)
        assert set(found) == set(english), language
        for key, text in found.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(
                re.findall(r"\{\w+\}", english[key])), (language, key)
            assert (text.strip() == text or key == "colon") and text, (language, key)
        if language != "en":  # translated, but for words such as "Blogs"
            same = [key for key in found if found[key] == english[key]]
            assert len(same) <= 2, (language, same)


def test_every_word_the_templates_use_is_in_the_catalogue() -> None:
    used = set()
    for template in TEMPLATES.iterdir():
        used |= set(re.findall(r"words\)?\.(\w+)", template.read_text(encoding="utf-8")))
    assert used and used <= set(catalogue("en")), used - set(catalogue("en"))


def test_a_language_feedpress_does_not_speak_falls_back_to_english() -> None:
    assert words("ja") == words("en") and words("pt-BR")["read_more"] == "Read more"
    assert words("ar-EG")["read_more"] == catalogue("ar")["read_more"]
    assert words("uz_Latn")["breaking"] == "Shoshilinch xabarlar"
    assert [direction(x) for x in ("ar", "fa-IR", "he", "ru", "uz")] == [
        "rtl", "rtl", "rtl", "ltr", "ltr"]
    assert negotiate("da, en-GB;q=0.8, de;q=0.9", "fr") == "de"
    assert negotiate("q=;;,,", "fr") == "fr" and negotiate("ar;q=0", "fr") == "fr"


@pytest.fixture(scope="module")
def previews(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("language-previews")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDPRESS_SECRET", SECRET)
        for name, stream, who in (("ana", "digest", "ana.lima@example.org"),
                                  ("omar", "digest", "omar.haddad@example.net"),
                                  ("alert", "alert", "omar.haddad@example.net")):
            run = preview(SAMPLE_CONFIG, stream, out / name, "--subscriber", who)
            assert run.code == 0, run.err
    return out


def test_a_digest_of_arabic_blogs_only_is_arabic_and_right_to_left(previews: Path) -> None:
    message = read_eml(previews / "omar" / "digest.eml")
    ar = catalogue("ar")
    doc = parse_html(part(message, "html"))
    root = doc.getroot()
    assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")
    flat = " ".join(text_of(root).split())
    for key in ("hello", "unsubscribe", "feeds_instead"):
        assert ar[key] in flat, key
    assert ar["why_digest"].replace("{site}", "Newsroom Blogs") in flat
    assert f"{ar['read_more']} ←" in flat and "Read more" not in flat
    text = part(message, "plain")
    assert ar["unsubscribe"] in text and "Unsubscribe" not in text
    assert str(message["Subject"]) == ar["digest_subject_one"].replace("{site}",
                                                                       "Newsroom Blogs")


def test_a_digest_of_several_languages_speaks_the_sites_and_each_post_its_own(
        previews: Path) -> None:
    message = read_eml(previews / "ana" / "digest.eml")
    doc = parse_html(part(message, "html"))
    assert (doc.getroot().get("lang"), doc.getroot().get("dir")) == ("en", "ltr")
    more = {}
    for cell in doc.iter("td"):
        for link in cell.iter("a"):
            if "more" in (link.get("class") or "").split():
                more[cell.get("lang")] = text_of(link)
    assert more["en"] == "Read more →"
    assert more["ar"] == f"{catalogue('ar')['read_more']} ←"
    assert "Hello" in text_of(doc.getroot())


def test_an_alert_speaks_its_posts_language(previews: Path) -> None:
    message = read_eml(previews / "alert" / "alert.eml")
    doc = parse_html(part(message, "html"))
    (banner,) = by_class(doc, "banner")
    assert text_of(banner) == catalogue("ar")["breaking"]
    assert catalogue("ar")["unsubscribe_alerts"] in part(message, "plain")


def test_feed_titles_come_from_the_catalogue(project: Project) -> None:
    from conftest import BASE_CONFIG

    config = {**BASE_CONFIG, "site": {**BASE_CONFIG["site"], "language": "uz"}}
    project.write_config(config)
    project.post("alpha", "one", title="One", date="2026-11-20T10:00:00Z", tags=["Iqtisod"],
                 breaking=True)
    assert project.build().posts == 1
    breaking = etree.parse(str(project.out / "breaking" / "rss.xml"))
    assert breaking.findtext("channel/description") == "Shoshilinch xabarlar"
    tagged = etree.parse(str(project.out / "tags" / "iqtisod" / "rss.xml"))
    assert tagged.findtext("channel/description") == "«Iqtisod» tegli maqolalar"


def test_the_arabic_digest_greets_dates_and_links_in_arabic(previews: Path) -> None:
    message = read_eml(previews / "omar" / "digest.eml")
    ar = catalogue("ar")
    text = part(message, "plain")
    assert "مرحبًا" in text and "،" in text.splitlines()[2]  # the Arabic comma
    assert any(month in text for month in ar["months"].split())
    assert " Nov " not in text
    url = str(message["List-Unsubscribe"]).split("<")[1].split(">")[0]
    assert url.endswith("&lang=ar")  # the sample's unsubscribe_url has {lang}
    english = read_eml(previews / "ana" / "digest.eml")
    assert str(english["List-Unsubscribe"]).split(">")[0].endswith("&lang=en")


def test_the_alert_prefix_follows_the_post_unless_the_config_sets_one(project: Project,
                                                                      tmp_path: Path) -> None:
    from conftest import BASE_CONFIG

    project.write_config({**BASE_CONFIG, "email": {}})
    project.post("beta", "flash", title="Flash", date="2026-11-25T11:00:00Z", breaking=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDPRESS_SECRET", SECRET)
        run = preview(project.config_path, "alert", tmp_path / "a")
        assert run.code == 0, run.err
        assert str(read_eml(tmp_path / "a" / "alert.eml")["Subject"]) == "عاجل: Flash"
        project.write_config({**BASE_CONFIG, "email": {"alert": {"subject_prefix": "FLASH"}}})
        run = preview(project.config_path, "alert", tmp_path / "b")
        assert str(read_eml(tmp_path / "b" / "alert.eml")["Subject"]) == "FLASH Flash"
