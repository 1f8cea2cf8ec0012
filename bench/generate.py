"""Generate a seeded synthetic newsroom, as a feedpress project and as the same Hugo site.

    python3 bench/generate.py DIR --posts 10000 [--seed 1] [--hugo HUGODIR]

DIR receives a complete feedpress project:

- `feedpress.yaml`: 20 blogs (two in Arabic, two in Russian), `site.feeds_url`, a timezone,
  authors, and the default three feed formats;
- `feedpress-rss-atom.yaml`: the same project with `feeds.formats: [rss, atom]`;
- `posts/<blog>/<date>-<slug>.md`: the posts. Each has title, date (spread over five years,
  some with an offset, some `Z`, most in the site's timezone), a pinned id, one or two authors,
  tags drawn Zipf-like from 500 (some Cyrillic, some Arabic), an image with alt text and
  usually a caption, a summary on about a third, `breaking: true` on about 2 %, and a body of
  300 to 900 words of Markdown (headings, links, an image, lists, a quote, emphasis);
- `bench.json`: what was generated (seed, count, generator version, the newest post).

With `--hugo HUGODIR`, the same posts (same titles, dates, tags, summaries, images and bodies)
are written as a Hugo site that writes only feeds: `hugo.toml`, `content/<blog>/_index.md`,
`content/<blog>/<slug>.md` and the RSS and Atom templates in `layouts/_default/`.

The output depends only on the seed and the post count: the same arguments give
byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

GENERATOR_VERSION = 1
SITE_URL = "https://news.example.org/"
FEEDS_URL = "https://news.example.org/feeds/"
SITE_TITLE = "Synthetic Newsroom"
TIMEZONE = "Europe/London"
DOMAIN = "news.example.org"
FIRST_YEAR = 2021
YEARS = 5
TAG_COUNT = 500
BREAKING_SHARE = 0.02
SUMMARY_SHARE = 0.3

# (id, title, language, default author key)
BLOGS: tuple[tuple[str, str, str, str], ...] = (
    ("world", "World Desk", "en", "amina"),
    ("africa", "Africa Report", "en", "kwame"),
    ("middle-east", "Middle East Monitor", "en", "leila"),
    ("europe", "European Affairs", "en", "tom"),
    ("asia", "Asia Pacific", "en", "mei"),
    ("americas", "The Americas", "en", "diego"),
    ("economy", "Economy and Markets", "en", "sarah"),
    ("climate", "Climate Watch", "en", "ingrid"),
    ("science", "Science Notes", "en", "raj"),
    ("technology", "Technology", "en", "noah"),
    ("health", "Health Desk", "en", "fatou"),
    ("culture", "Culture", "en", "lucia"),
    ("sport", "Sport", "en", "ben"),
    ("opinion", "Opinion", "en", "desk"),
    ("investigations", "Investigations", "en", "hannah"),
    ("data", "Data Journalism", "en", "omar"),
    ("al-marsad", "المرصد", "ar", "karim"),
    ("al-khalij", "شؤون الخليج", "ar", "nour"),
    ("khronika", "Хроника конфликтов", "ru", "olga"),
    ("kavkaz", "Кавказский обзор", "ru", "ivan"),
)

# key: (name, email or "")
AUTHORS: tuple[tuple[str, str, str], ...] = (
    ("desk", "Newsroom Desk", "desk@news.example.org"),
    ("amina", "Amina Diallo", "amina.diallo@news.example.org"),
    ("kwame", "Kwame Mensah", ""),
    ("leila", "Leila Haddad", "leila.haddad@news.example.org"),
    ("tom", "Tom Hargreaves", ""),
    ("mei", "Mei Lin", "mei.lin@news.example.org"),
    ("diego", "Diego Fernández", ""),
    ("sarah", "Sarah Cohen", "sarah.cohen@news.example.org"),
    ("ingrid", "Ingrid Johansson", ""),
    ("raj", "Raj Patel", "raj.patel@news.example.org"),
    ("noah", "Noah Becker", ""),
    ("fatou", "Fatou Ndiaye", "fatou.ndiaye@news.example.org"),
    ("lucia", "Lucía Romero", ""),
    ("ben", "Ben Okafor", ""),
    ("hannah", "Hannah Weiss", "hannah.weiss@news.example.org"),
    ("omar", "Omar Farouk", ""),
    ("karim", "كريم منصور", "karim.mansour@news.example.org"),
    ("nour", "نور الهدى", ""),
    ("olga", "Ольга Смирнова", ""),
    ("ivan", "Иван Петров", "ivan.petrov@news.example.org"),
)



def _words(text: str) -> list[str]:
    return text.split()


WORDS = {
    "en": _words("""the of and to in a that for on with as was by at from it his her their this
        which said were has have had not are but after been they more who will one about
        two would year new also over into than when its other some people could first
        government army forces officials group militia ceasefire border region town city
        village road convoy fuel market water clinic hospital school court election vote
        minister president parliament party opposition protest police talks deal agreement
        report data figures budget debt prices inflation wages workers farmers
        traders drivers families children refugees camp aid food harvest drought flood
        storm heat climate carbon energy power grid oil gas gold mine port airport ship
        truck attack ambush strike drone checkpoint patrol prisoners exchange release
        negotiators mediators diplomats envoy sanctions exports imports tariffs growth
        survey study researchers scientists vaccine disease outbreak doctors nurses
        patients league match season coach players stadium festival museum film book
        artists music theatre network software platform users phones internet court judge
        lawyers trial witness evidence documents records interviews sources analysis weeks
        months days night morning local regional national international northern southern
        eastern western central coastal rural urban armed civilian military political
        economic public private largest smallest latest early late recent several many
        few most least under against between during without within across along around
        since until while because although however despite still again already never
        always often quietly slowly quickly openly"""),
    "ru": _words("""и в не на что с по как это к из за от о для но так уже он она они мы
        было были будет может год года лет город села дорога граница регион власти армия
        силы группа боевики перемирие переговоры соглашение обмен пленные беженцы лагерь
        помощь вода топливо рынок цены зарплата рабочие фермеры торговцы водители семьи
        дети больница школа суд выборы голосование министр президент парламент партия
        оппозиция протест полиция доклад данные бюджет долг инфляция нефть газ золото
        порт аэропорт грузовик нападение удар беспилотник блокпост патруль санкции
        экспорт импорт рост опрос исследование врачи пациенты сезон матч фестиваль
        музей фильм книга музыка театр сеть платформа пользователи свидетель документы
        источники анализ недели месяцы ночью утром местные региональные национальные
        северные южные восточные западные мирные военные политические экономические
        крупнейший последний несколько многие почти снова всегда часто медленно"""),
    "ar": _words("""في من على إلى عن مع أن هذا هذه التي الذي كان كانت قد لم لا بعد قبل خلال
        بين حتى منذ حيث كما أيضا الحكومة الجيش القوات المسؤولين الجماعة الميليشيا الهدنة
        الحدود المنطقة المدينة القرية الطريق القافلة الوقود السوق المياه المستشفى المدرسة
        المحكمة الانتخابات التصويت الوزير الرئيس البرلمان الحزب المعارضة الاحتجاج الشرطة
        المحادثات الاتفاق التقرير البيانات الميزانية الديون الأسعار التضخم الأجور العمال
        المزارعين التجار السائقين العائلات الأطفال اللاجئين المخيم المساعدات الغذاء الحصاد
        الجفاف الفيضان الطاقة النفط الغاز الذهب الميناء المطار الشاحنة الهجوم الكمين
        الضربة الطائرة المسيرة الحاجز الدورية الأسرى التبادل الإفراج الوسطاء الدبلوماسيين
        العقوبات الصادرات الواردات النمو الدراسة الباحثين الأطباء المرضى الموسم المباراة
        المهرجان المتحف الفيلم الكتاب الشبكة المنصة المستخدمين الشاهد الوثائق المصادر
        التحليل الأسابيع الأشهر ليلا صباحا المحلية الإقليمية الوطنية الشمالية الجنوبية
        الشرقية الغربية المدنية العسكرية السياسية الاقتصادية أكبر أحدث عدة كثير مرة
        دائما"""),
}

PLACES_EN = _words("""sahel syria yemen libya sudan somalia ethiopia kenya nigeria mali niger chad
    ukraine georgia armenia azerbaijan moldova belarus kazakhstan afghanistan pakistan india
    myanmar thailand philippines indonesia china taiwan japan korea brazil colombia venezuela
    mexico peru chile argentina haiti cuba iran iraq lebanon jordan egypt tunisia algeria
    morocco turkey greece italy spain france germany poland baltic arctic balkans caucasus
    gaza""")
TOPICS_EN = _words("""elections protests ceasefire sanctions drought floods refugees migration
    corruption courts oil gas gold mining fisheries trade inflation debt banks energy
    internet censorship press-freedom health vaccines schools prisons policing militias
    jihadism piracy smuggling border-security diplomacy aid famine heatwave wildfires
    earthquakes football cinema literature music archaeology space ai cybersecurity
    surveillance labour farming water""")
TAGS_RU = """Северный Кавказ|Донбасс|Чечня|Дагестан|Абхазия|Приднестровье|Карабах|Сирия|
    Ливия|Мали|выборы|протесты|перемирие|санкции|беженцы|мобилизация|цензура|суды|тюрьмы|
    нефть|газ|золото|инфляция|долги|энергетика|армия|полиция|наёмники|вагнер|границы|
    переговоры|обмен пленными|гуманитарная помощь|засуха|наводнения|экономика|культура|
    кино|футбол|образование|медицина|коррупция|журналистика|интернет|беспилотники|
    ракетные удары|минирование|оккупация|партизаны|миротворцы""".replace("\n", "").split("|")
TAGS_AR = """سوريا|ليبيا|اليمن|السودان|العراق|لبنان|غزة|مصر|تونس|الجزائر|المغرب|الخليج|
    الانتخابات|الاحتجاجات|الهدنة|العقوبات|اللاجئين|النزوح|الجفاف|الفيضانات|النفط|الغاز|
    الذهب|التضخم|الديون|الطاقة|الجيش|الشرطة|الميليشيات|الحدود|المفاوضات|تبادل الأسرى|
    المساعدات الإنسانية|الاقتصاد|الثقافة|السينما|كرة القدم|التعليم|الصحة|الفساد|
    الصحافة|الإنترنت|الطائرات المسيرة|الألغام|الاحتلال|المقاومة|حفظ السلام|المياه|
    الزراعة|الآثار""".replace("\n", "").split("|")
CAPTION_CREDIT = {"en": "Photo: Newsroom", "ru": "Фото: редакция", "ar": "تصوير: غرفة الأخبار"}
OFFSETS = ("+03:00", "+02:00", "+01:00", "-05:00", "-04:00", "+05:30", "+04:00", "-03:00")


@dataclass(frozen=True)
class Post:
    """One generated post, in a form both writers (feedpress and Hugo) share."""

    blog: str
    slug: str
    day: str
    date: str
    title: str
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    image_url: str | None
    image_alt: str
    image_caption: str | None
    summary: str | None
    breaking: bool
    body: str

    @property
    def post_id(self) -> str:
        return f"tag:{DOMAIN},{self.day}:{self.blog}/{self.slug}"

    @property
    def file_name(self) -> str:
        return f"{self.day}-{self.slug}.md"


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def make_tags(rng: random.Random) -> list[str]:
    """500 distinct tag names, in a random rank order for the Zipf draw."""
    english = sorted(
        {f"{place} {topic.replace('-', ' ')}" for place in PLACES_EN for topic in TOPICS_EN}
    )
    chosen = rng.sample(english, TAG_COUNT - len(TAGS_RU) - len(TAGS_AR) - 40)
    chosen += PLACES_EN[:40]
    tags = [t.strip() for t in chosen + TAGS_RU + TAGS_AR]
    if len(set(tags)) != TAG_COUNT:
        raise AssertionError("tag names are not distinct")
    rng.shuffle(tags)
    return tags


def zipf_cumulative(count: int, exponent: float) -> list[float]:
    total = 0.0
    cumulative = []
    for rank in range(1, count + 1):
        total += 1.0 / rank**exponent
        cumulative.append(total)
    return cumulative


class Writer:
    """Markdown prose in one language; every choice comes from one seeded `Random`.

    Sentences are drawn from a pool made once per language (drawing every word of 60
    million would make 100,000 posts slow to generate); emphasis and links are added to
    the drawn sentences, so no two paragraphs are alike.
    """

    POOL = 3000

    def __init__(self, rng: random.Random, lang: str) -> None:
        self.rng = rng
        words = WORDS[lang]
        self.sentences: list[tuple[str, int]] = []
        for _ in range(self.POOL):
            chosen = rng.choices(words, k=rng.randint(7, 19))
            chosen[0] = chosen[0][:1].upper() + chosen[0][1:]
            self.sentences.append((" ".join(chosen) + ".", len(chosen)))
        self.titles = [" ".join(rng.choices(words, k=rng.randint(5, 10))).capitalize()
                       for _ in range(self.POOL)]

    def title(self) -> str:
        return self.rng.choice(self.titles)

    def text(self, count: int, *, decorate: bool = True) -> str:
        """About `count` words as sentences, with some emphasis and usually a link."""
        rng = self.rng
        drawn: list[str] = []
        written = 0
        while written < count:
            sentence, length = rng.choice(self.sentences)
            drawn.append(sentence)
            written += length
        if decorate and len(drawn) > 1:
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(drawn))
                words = drawn[i].split(" ")
                j = rng.randrange(1, len(words) - 1)
                words[j] = f"*{words[j]}*" if rng.random() < 0.6 else f"**{words[j]}**"
                drawn[i] = " ".join(words)
            if rng.random() < 0.7:
                i = rng.randrange(len(drawn))
                words = drawn[i].split(" ")
                j = rng.randrange(len(words) - 2)
                target = f"https://example.com/{rng.choice(PLACES_EN)}/{rng.randrange(100000)}"
                words[j:j + 2] = [f"[{words[j]} {words[j + 1]}]({target})"]
                drawn[i] = " ".join(words)
        return " ".join(drawn)

    def body(self, target: int, image: tuple[str, str]) -> str:
        """Markdown of about `target` words: paragraphs, headings, an image, a list, a quote."""
        rng = self.rng
        lead = rng.randint(40, 90)
        blocks = [self.text(lead)]
        written = lead
        image_at = rng.randint(1, 3)
        list_at = image_at + rng.randint(1, 3)
        quote_at = list_at + rng.randint(1, 3)
        while written < target or len(blocks) <= quote_at:
            n = len(blocks)
            if n == image_at:
                url, alt = image
                blocks.append(f'![{alt}]({url} "{alt}")')
            elif n == list_at:
                marker = "-" if rng.random() < 0.7 else "1."
                items = [rng.choice(self.sentences) for _ in range(rng.randint(3, 6))]
                blocks.append("\n".join(f"{marker} {item}" for item, _ in items))
                written += sum(words for _, words in items)
            elif n == quote_at:
                words = rng.randint(15, 40)
                blocks.append("> " + self.text(words, decorate=False))
                written += words
            elif n % 4 == 1:
                blocks.append("## " + self.title())
            else:
                words = min(rng.randint(40, 120), max(10, target - written))
                blocks.append(self.text(words))
                written += words
        return "\n\n".join(blocks) + "\n"


def generate_posts(count: int, seed: int) -> Iterator[Post]:
    """The posts of the corpus, in generation order."""
    rng = random.Random(seed)
    tags = make_tags(rng)
    tag_weights = zipf_cumulative(len(tags), 1.0)
    blog_weights = zipf_cumulative(len(BLOGS), 0.5)
    writers = {lang: Writer(rng, lang) for lang in WORDS}
    first_day = date(FIRST_YEAR, 1, 1)
    span_days = (date(FIRST_YEAR + YEARS, 1, 1) - first_day).days
    for serial in range(1, count + 1):
        blog_id, _, lang, blog_author = rng.choices(BLOGS, cum_weights=blog_weights)[0]
        writer = writers[lang]
        when = first_day + timedelta(days=rng.randrange(span_days))
        year, month = when.year, when.month
        day = when.isoformat()
        clock = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        style = rng.random()
        if style < 0.03:
            stamp = day
        elif style < 0.55:
            stamp = f"{day}T{clock}"
        elif style < 0.85:
            stamp = f"{day}T{clock}{rng.choice(OFFSETS)}"
        else:
            stamp = f"{day}T{clock}Z"
        title = writer.title()
        slug_words = rng.choices(WORDS["en"][40:], k=rng.randint(2, 4))
        slug = "-".join([*slug_words, f"{serial:06d}"])
        roll = rng.random()
        if roll < 0.6:
            authors: tuple[str, ...] = (blog_author,)
        elif roll < 0.9:
            authors = (rng.choice(AUTHORS)[0],)
        else:
            authors = tuple(dict.fromkeys([blog_author, rng.choice(AUTHORS)[0]]))
        drawn = rng.choices(tags, cum_weights=tag_weights, k=rng.randint(1, 6))
        post_tags = tuple(dict.fromkeys(drawn))
        alt = writer.title()
        has_image = rng.random() < 0.85
        image_url = None
        if has_image:
            image_url = f"/images/{year}/{month:02d}/{slug}.jpg"
            if rng.random() < 0.3:
                image_url = SITE_URL.rstrip("/") + image_url
        caption = None
        if rng.random() < 0.7:
            caption = f"{writer.title()}. {CAPTION_CREDIT[lang]}"
        body_image = (f"/images/{year}/{month:02d}/{slug}-inline.jpg", writer.title())
        body = writer.body(rng.randint(300, 900), body_image)
        summary = writer.text(rng.randint(15, 35), decorate=False) \
            if rng.random() < SUMMARY_SHARE else None
        breaking = rng.random() < BREAKING_SHARE
        yield Post(blog_id, slug, day, stamp, title, authors, post_tags, image_url, alt,
                   caption, summary, breaking, body)


def feedpress_post(post: Post) -> str:
    lines = ["---", f"title: {q(post.title)}", f"date: {post.date}", f"id: {q(post.post_id)}"]
    if len(post.authors) == 1:
        lines.append(f"author: {post.authors[0]}")
    else:
        lines.append(f"authors: [{', '.join(post.authors)}]")
    lines.append(f"tags: [{', '.join(q(t) for t in post.tags)}]")
    if post.image_url:
        lines += ["image:", f"  url: {post.image_url}", f"  alt: {q(post.image_alt)}"]
        if post.image_caption:
            lines.append(f"  caption: {q(post.image_caption)}")
    if post.summary:
        lines.append(f"summary: {q(post.summary)}")
    if post.breaking:
        lines.append("breaking: true")
    lines.append("---")
    return "\n".join(lines) + "\n" + post.body


def hugo_post(post: Post, names: dict[str, str]) -> str:
    lines = ["---", f"title: {q(post.title)}", f"date: {post.date}",
             f"tags: [{', '.join(q(t) for t in post.tags)}]",
             f"author: {q(', '.join(names[a] for a in post.authors))}"]
    if post.summary:
        lines.append(f"summary: {q(post.summary)}")
    if post.image_url:
        lines += ["image:", f"  url: {post.image_url}", f"  alt: {q(post.image_alt)}"]
        if post.image_caption:
            lines.append(f"  caption: {q(post.image_caption)}")
    lines.append("---")
    return "\n".join(lines) + "\n" + post.body


def feedpress_config(formats: Sequence[str]) -> str:
    lines = [
        "# Generated by bench/generate.py: a synthetic newsroom for benchmarking.",
        "site:",
        f"  title: {q(SITE_TITLE)}",
        f"  url: {SITE_URL}",
        f"  feeds_url: {FEEDS_URL}",
        "  description: Reporting and analysis from twenty blogs.",
        "  language: en",
        f"  timezone: {TIMEZONE}",
        "  author: desk",
        "posts_dir: posts",
        "output_dir: public",
        "feeds:",
        f"  formats: [{', '.join(formats)}]",
        "  items: 50",
        "  content: full",
        "blogs:",
    ]
    for blog_id, title, lang, author in BLOGS:
        lines += [
            f"  {blog_id}:",
            f"    title: {q(title)}",
            f"    description: {q('About this blog: ' + title)}",
            f"    language: {lang}",
            f"    author: {author}",
        ]
    lines.append("authors:")
    for key, name, email in AUTHORS:
        lines += [f"  {key}:", f"    name: {q(name)}"]
        if email:
            lines.append(f"    email: {email}")
    return "\n".join(lines) + "\n"


HUGO_CONFIG = f"""\
# Generated by bench/generate.py: the benchmark corpus as a Hugo site that writes only feeds.
baseURL = "{SITE_URL}"
title = "{SITE_TITLE}"
languageCode = "en"
timeZone = "{TIMEZONE}"
# Only the home page, the sections (blogs) and the taxonomy terms (tags) are rendered,
# and only as RSS and Atom. Posts are listed in those feeds but get no page of their own.
disableKinds = ["taxonomy", "sitemap", "robotsTXT", "404"]
enableRobotsTXT = false
# Disabling the "taxonomy" kind (the list of all tags) is what we mean, not a mistake.
ignoreErrors = ["error-disable-taxonomy"]

[services.rss]
limit = 50

[taxonomies]
tag = "tags"

[mediaTypes."application/atom+xml"]
suffixes = ["xml"]

[outputFormats.Atom]
mediaType = "application/atom+xml"
baseName = "atom"
rel = "alternate"
isPlainText = false

[outputs]
home = ["RSS", "Atom"]
section = ["RSS", "Atom"]
term = ["RSS", "Atom"]
page = []

[[cascade]]
[cascade._build]
render = "link"
list = "always"
[cascade._target]
kind = "page"
"""

# Both templates list the newest `services.rss.limit` pages with their full `.Content`,
# preceded, like feedpress's, by the front-matter image as a <figure>.
HUGO_PAGES = """\
{{- $pages := .Pages -}}
{{- if .IsHome }}{{ $pages = .Site.RegularPages }}{{ end -}}
{{- $pages = first .Site.Config.Services.RSS.Limit $pages -}}
"""

HUGO_FIGURE = """\
{{- $figure := "" -}}
{{- with .Params.image -}}
{{- $caption := "" }}{{ with .caption }}{{ $caption = printf "<figcaption>%s</figcaption>" \
(htmlEscape .) }}{{ end -}}
{{- $figure = printf "<figure><img src=\\"%s\\" alt=\\"%s\\">%s</figure>" (absURL .url) \
(htmlEscape .alt) $caption -}}
{{- end -}}
"""

HUGO_RSS = (
    HUGO_PAGES
    + """\
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }} \
on {{ .Site.Title }}{{ end }}</description>
    <generator>Hugo</generator>
    <language>{{ .Site.LanguageCode }}</language>
    {{- range first 1 $pages }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}\
</lastBuildDate>{{ end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      {{- range .Params.tags }}
      <category>{{ . }}</category>
      {{- end }}
      {{- with .Params.image }}
      <enclosure url="{{ absURL .url }}" type="image/jpeg" length="0"/>
      {{- end }}
      <description>{{ .Summary | html }}</description>
"""
    + HUGO_FIGURE
    + """\
      <content:encoded>{{ print $figure .Content | html }}</content:encoded>
    </item>
    {{- end }}
  </channel>
</rss>
"""
)

HUGO_ATOM = (
    HUGO_PAGES
    + """\
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{{ .Site.LanguageCode }}">
  <title>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }}{{ end }}</title>
  <id>{{ .Permalink }}</id>
  <link href="{{ .Permalink }}" rel="alternate" type="text/html"/>
  {{- with .OutputFormats.Get "Atom" }}
  <link href="{{ .Permalink }}" rel="self" type="application/atom+xml"/>
  {{- end }}
  <updated>{{ range first 1 $pages }}{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}\
{{ else }}1970-01-01T00:00:00Z{{ end }}</updated>
  <generator>Hugo</generator>
  {{- range $pages }}
  <entry>
    <title>{{ .Title }}</title>
    <id>{{ .Permalink }}</id>
    <link href="{{ .Permalink }}" rel="alternate" type="text/html"/>
    {{- with .Params.image }}
    <link href="{{ absURL .url }}" rel="enclosure" type="image/jpeg"/>
    {{- end }}
    <published>{{ .Date.Format "2006-01-02T15:04:05Z07:00" }}</published>
    <updated>{{ .Lastmod.Format "2006-01-02T15:04:05Z07:00" }}</updated>
    <author><name>{{ with .Params.author }}{{ . }}{{ else }}{{ site.Title }}{{ end }}</name>\
</author>
    {{- range .Params.tags }}
    <category term="{{ . }}"/>
    {{- end }}
    <summary type="html">{{ .Summary | html }}</summary>
"""
    + HUGO_FIGURE
    + """\
    <content type="html">{{ print $figure .Content | html }}</content>
  </entry>
  {{- end }}
</feed>
"""
)


def write(path: Path, text: str, *, make_parent: bool = True) -> None:
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        stream.write(text.encode("utf-8"))


def generate(target: Path, count: int, seed: int, hugo: Path | None = None) -> dict[str, object]:
    """Write the corpus into `target` (and `hugo`); return what `bench.json` records."""
    for folder in (target, hugo):
        if folder is not None and folder.exists():
            shutil.rmtree(folder)
    target.mkdir(parents=True)
    write(target / "feedpress.yaml", feedpress_config(["rss", "atom", "json"]))
    write(target / "feedpress-rss-atom.yaml", feedpress_config(["rss", "atom"]))
    names = {key: name for key, name, _ in AUTHORS}
    for blog_id, *_ in BLOGS:
        (target / "posts" / blog_id).mkdir(parents=True)
    if hugo is not None:
        write(hugo / "hugo.toml", HUGO_CONFIG)
        write(hugo / "layouts" / "_default" / "list.rss.xml", HUGO_RSS)
        write(hugo / "layouts" / "_default" / "list.atom.xml", HUGO_ATOM)
        for blog_id, title, _, _ in BLOGS:
            write(hugo / "content" / blog_id / "_index.md", f"---\ntitle: {q(title)}\n---\n")
    newest: tuple[datetime, str] | None = None
    zone = ZoneInfo(TIMEZONE)
    breaking = 0
    for post in generate_posts(count, seed):
        relpath = f"posts/{post.blog}/{post.file_name}"
        write(target / relpath, feedpress_post(post), make_parent=False)
        if hugo is not None:
            write(hugo / "content" / post.blog / f"{post.slug}.md", hugo_post(post, names),
                  make_parent=False)
        moment = datetime.fromisoformat(post.date)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        if newest is None or (moment, relpath) > newest:
            newest = (moment, relpath)
        breaking += post.breaking
    info: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "posts": count,
        "seed": seed,
        "breaking": breaking,
        "newest_post": newest[1] if newest else None,
        "hugo": hugo is not None,
    }
    write(target / "bench.json", json.dumps(info, indent=1) + "\n")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="folder for the feedpress project (replaced)")
    parser.add_argument("--posts", type=int, default=10_000, help="number of posts")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--hugo", type=Path, help="also write the corpus as a Hugo site here")
    args = parser.parse_args(argv)
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    info = generate(args.dir, args.posts, args.seed, args.hugo)
    print(f"{args.dir}: {info['posts']} posts ({info['breaking']} breaking), seed {args.seed}"
          + (f"; Hugo site in {args.hugo}" if args.hugo else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
